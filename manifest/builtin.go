package manifest

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// stacksFS holds manifest/stacks: the built-in stack manifests and the
// files they name.
//
//go:embed stacks
var stacksFS embed.FS

// BuiltinNames returns the names of the stacks embedded in the binary,
// sorted: the base names of manifest/stacks/*.yaml without the extension.
func BuiltinNames() []string {
	entries, err := fs.ReadDir(stacksFS, "stacks")
	if err != nil {
		return nil // cannot happen: the directory is embedded
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Builtin parses the embedded stack called name (see BuiltinNames). Its
// relative paths resolve inside the embedded manifest/stacks directory, and
// its positions name the file "stacks/<name>.yaml".
func Builtin(name string) (*Stack, error) {
	sub, err := fs.Sub(stacksFS, "stacks")
	if err != nil {
		return nil, err
	}
	file := name + ".yaml"
	if !fs.ValidPath(file) || strings.Contains(name, "/") {
		return nil, fmt.Errorf("no built-in stack %q; built-in stacks are %s", name, strings.Join(BuiltinNames(), ", "))
	}
	data, err := ReadFile(sub, file)
	if err != nil {
		return nil, fmt.Errorf("no built-in stack %q; built-in stacks are %s", name, strings.Join(BuiltinNames(), ", "))
	}
	return ParseFS(sub, path.Join("stacks", file), data)
}
