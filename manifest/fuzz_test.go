package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// FuzzParse feeds arbitrary bytes to the parser. ParseFS must never panic;
// on success the stack must be self-consistent and lintable, and on failure
// every error must carry a position and a message.
func FuzzParse(f *testing.F) {
	for _, p := range []string{filepath.Join("stacks", "demo.yaml"), filepath.Join("testdata", "full", "stack.yaml")} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		"",
		"- a\n",
		header + "  components: [{name: a}]\n",
		stack("  components:\n    - name: a\n      images: [app:1.0/extra, {list: images/list.txt}, {ref: a/b:1, verify: {key: k}}]\n"),
		stack("  components:\n    - &c {name: a}\n    - *c\n"),
		stack("  components:\n    - name: a\n      charts: [{path: c, oci: \"oci://h/c\", version: 1}, {name: x, repo: \"http://h\", version: 1}]\n"),
		stack("  components:\n    - name: a\n      files: [{url: \"http://h/x\"}, ../x, {path: files/app.conf, sha256: zz}]\n"),
		stack("  rpmRepos: [{id: b, baseurl: \"file:///r\", gpgkey: [k, \"https://h/k\"]}]\n  registryMirrors: {docker.io: a.lan}\n  components: [{name: a, rpms: [x]}]\n"),
		stack("  components: [{name: a}]\n---\nx: 1\n"),
		"a: !!binary gIGC\n",
		"{{{{",
	} {
		f.Add([]byte(seed))
	}
	fsys := testFS()
	fsys["files/tool.tmpl"] = &fstest.MapFile{Data: []byte("{{ .X }}")}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseFS(fsys, "f.yaml", data)
		if err != nil {
			checkErrorList(t, err)
			return
		}
		checkStack(t, s)
		if err := lintCheck(s); err != nil {
			checkErrorList(t, err)
		}
	})
}

func checkErrorList(t *testing.T, err error) {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
	}
	for _, e := range list {
		if e.Pos.File == "" || e.Msg == "" {
			t.Fatalf("error without position or message: %#v", e)
		}
	}
}

func checkStack(t *testing.T, s *Stack) {
	t.Helper()
	if len(s.Spec.Components) == 0 {
		t.Fatal("stack without components parsed")
	}
	seen := map[string]bool{}
	for _, img := range s.Images() {
		again, err := ParseImageRef(img.Canonical)
		if err != nil || again.Canonical != img.Canonical {
			t.Fatalf("canonical %q of %q does not parse to itself: %v", img.Canonical, img.Ref, err)
		}
		if seen[img.Canonical] {
			t.Fatalf("duplicate image %s parsed", img.Canonical)
		}
		seen[img.Canonical] = true
	}
	for _, f := range s.Files() {
		if (f.Path == "") == (f.URL == "") || f.URL != "" && f.SHA256 == "" {
			t.Fatalf("invalid file entry parsed: %+v", f)
		}
	}
	for _, c := range s.Charts() {
		if c.Source == 0 || (c.Source == ChartLocal) != (c.LockKey() == "") {
			t.Fatalf("invalid chart parsed: %+v", c)
		}
	}
}
