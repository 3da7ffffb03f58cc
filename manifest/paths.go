package manifest

import (
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// relPath reads a manifest-relative path. It must stay inside the manifest's
// directory: absolute paths and paths that climb out with ".." are refused.
// The result is cleaned ("./files/a" → "files/a") and valid for fs.FS.
func (p *parser) relPath(n *yaml.Node, what string) (string, bool) {
	s, ok := p.Str(n, what)
	if !ok {
		return "", false
	}
	if msg, fix := relPathProblem(s); msg != "" {
		p.Errorf(n, fix, "%s %q %s", what, s, msg)
		return "", false
	}
	return path.Clean(s), true
}

func relPathProblem(s string) (msg, fix string) {
	clean := path.Clean(s)
	switch {
	case strings.Contains(s, "\\"):
		return "contains a backslash", "use forward slashes"
	case path.IsAbs(s) || filepath.VolumeName(s) != "":
		return "is absolute", "write it relative to the manifest's directory and keep the file next to the manifest"
	case clean == ".." || strings.HasPrefix(clean, "../"):
		return "escapes the manifest's directory", "move the file under the manifest's directory; '../' is not allowed"
	case clean == ".":
		return "names the manifest's directory itself", "name a file"
	case strings.Contains(s, "://"):
		return "looks like a URL", "use the url field for remote files"
	case !fs.ValidPath(clean):
		return "is not a valid path", "write a plain relative path"
	}
	return "", ""
}

// IsURL reports whether s is a URL (it has a scheme) rather than a path.
func IsURL(s string) bool {
	return strings.Contains(s, "://")
}

// checkURL reads a URL with one of the given schemes.
func (p *parser) checkURL(n *yaml.Node, what string, schemes ...string) (string, bool) {
	s, ok := p.Str(n, what)
	if !ok {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil {
		p.Errorf(n, "write a URL such as https://host/path", "%s %q is not a valid URL: %v", what, s, unwrapURLError(err))
		return "", false
	}
	if !slices.Contains(schemes, u.Scheme) {
		p.Errorf(n, "use one of "+strings.Join(schemes, ", "), "%s %q has scheme %q", what, s, u.Scheme)
		return "", false
	}
	if u.Scheme == "file" && u.Path == "" || u.Scheme != "file" && u.Host == "" {
		p.Errorf(n, "write a complete URL, e.g. "+u.Scheme+"://host/path", "%s %q has no host or path", what, s)
		return "", false
	}
	if u.User != nil {
		p.Errorf(n, "remove the credentials; they come from the environment or the docker config", "%s %q holds credentials", what, s)
		return "", false
	}
	return s, true
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// ReadFile reads a whole file of fsys, refusing files larger than
// MaxManifestSize: how the manifest, its image lists and its lock file are
// read.
func ReadFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxManifestSize)
	}
	return data, nil
}

// Display returns how to name a manifest-relative path in messages: joined
// to the manifest's own directory as the user named it.
func (s *Stack) Display(rel string) string {
	return filepath.ToSlash(filepath.Join(filepath.Dir(s.File), filepath.FromSlash(rel)))
}

// Open opens a manifest-relative path (as stored in the Stack) in the
// manifest's file system, for disk and embedded stacks alike. Paths that
// escape the manifest's directory are refused.
func (s *Stack) Open(rel string) (fs.File, error) {
	if msg, _ := relPathProblem(rel); msg != "" {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: fmt.Errorf("path %s", msg)}
	}
	return s.FS.Open(path.Clean(rel))
}
