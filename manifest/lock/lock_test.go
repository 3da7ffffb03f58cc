package lock

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/factory-appliance/appliance/manifest"
)

// header is four lines; a body given to stack starts at line 5.
const header = "apiVersion: appliance/v1\nkind: Stack\nmetadata: {name: t, version: \"1\"}\nspec:\n"

func stack(body string) string { return header + body }

func digestOf(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

// fullLock returns a complete, valid lock for testdata/full/stack.yaml.
func fullLock(t *testing.T) (*manifest.Stack, *Lock) {
	t.Helper()
	s, err := manifest.Load(filepath.Join("..", "testdata", "full", "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	l := New(s)
	for i, img := range s.Images() {
		l.Images[img.Ref] = digestOf("0123456789abcdef"[i])
	}
	for _, f := range s.Files() {
		if f.URL != "" {
			l.Files[f.URL] = File{SHA256: f.SHA256, Size: 12345}
		}
	}
	for _, c := range s.Charts() {
		if k := c.LockKey(); k != "" {
			l.Charts[k] = Chart{Version: "45.31.1", Digest: digestOf('c')}
		}
	}
	l.RPMs["keepalived"] = RPM{NEVRA: "keepalived-1.3.5-19.el7.x86_64", Checksum: digestOf('d'), Repo: "base"}
	l.RPMs["haproxy"] = RPM{NEVRA: "haproxy-0:1.5.18-9.el7.x86_64", Checksum: digestOf('e'), Repo: "base"}
	l.RPMs["openssl-libs"] = RPM{NEVRA: "openssl-libs-1:1.0.2k-26.el7.x86_64", Checksum: "sha1:" + strings.Repeat("f", 40)}
	return s, l
}

func TestLockRoundTrip(t *testing.T) {
	s, l := fullLock(t)
	dir := t.TempDir()
	path := DefaultPath(filepath.Join(dir, "stack.yaml"))
	if err := l.Write(path); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v\n%s", err, first)
	}
	back.path = ""
	if !reflect.DeepEqual(back, l) {
		t.Errorf("round trip changed the lock:\n%+v\n%+v", back, l)
	}
	if err := back.Write(path); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if !bytes.Equal(first, second) {
		t.Errorf("rewriting changed the bytes:\n%s\n---\n%s", first, second)
	}
	if i, j := bytes.Index(first, []byte("haproxy:")), bytes.Index(first, []byte("keepalived:")); i < 0 || j < i {
		t.Errorf("rpms not sorted:\n%s", first)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := back.Check(s); err != nil {
		t.Errorf("Check of a complete lock: %v", err)
	}
}

func TestLockCheckMismatch(t *testing.T) {
	s, l := fullLock(t)
	delete(l.Images, "kubesphere/pause:3.9")
	l.Images["old/image:1"] = digestOf('9')
	l.Files["http://127.0.0.1:8080/tool.tar.gz"] = File{SHA256: strings.Repeat("1", 64)}
	l.Files["http://gone/x"] = File{SHA256: strings.Repeat("2", 64)}
	delete(l.Charts, "oci://127.0.0.1:5000/charts/harbor@1.14.0")
	delete(l.RPMs, "haproxy")
	l.Platform = "linux/arm64"
	err := l.Check(s)
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("Check = %v, want *MismatchError", err)
	}
	want := &MismatchError{
		Lock:    filepath.Join("..", "testdata", "full", "stack.lock.yaml"),
		Missing: []string{"chart oci://127.0.0.1:5000/charts/harbor@1.14.0", "image kubesphere/pause:3.9", "rpm haproxy-1.5.18"},
		Extra:   []string{"file http://gone/x", "image old/image:1"},
		Changed: []string{
			"file http://127.0.0.1:8080/tool.tar.gz: manifest sha256 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03, locked " + strings.Repeat("1", 64),
			"platform linux/amd64 (locked for linux/arm64)",
		},
	}
	if !reflect.DeepEqual(me, want) {
		t.Errorf("mismatch =\n%+v\nwant\n%+v", me, want)
	}
	if msg := err.Error(); !strings.Contains(msg, "run `bundle lock`") || !strings.Contains(msg, "missing from the lock: image kubesphere/pause:3.9") {
		t.Errorf("message:\n%s", msg)
	}
}

func TestLockRPMMatching(t *testing.T) {
	l := &Lock{RPMs: map[string]RPM{"haproxy": {NEVRA: "haproxy-0:1.5.18-9.el7.x86_64"}}}
	for spec, want := range map[string]bool{
		"haproxy": true, "haproxy-1.5.18": true, "haproxy-1.5.18-9.el7": true,
		"haproxy-0:1.5.18": true, "haproxy-1.5.18-9.el7.x86_64": true,
		"haproxy-1.5": false, "haproxy-1.5.19": false, "hap": false, "haproxy-1.5.18-9": false,
	} {
		if got := l.hasRPM(spec); got != want {
			t.Errorf("hasRPM(%q) = %v, want %v", spec, got, want)
		}
	}
}

func TestLoadLockErrors(t *testing.T) {
	good := "apiVersion: appliance/v1\nkind: Lock\nmanifestDigest: x\nplatform: linux/amd64\n"
	tests := map[string]struct{ data, want string }{
		"unknown field": {good + "imagez: {}\n", "field imagez not found"},
		"wrong kind":    {strings.Replace(good, "Lock", "Stack", 1), `apiVersion/kind is "appliance/v1"/"Stack"`},
		"bad image":     {good + "images: {a/b:1: sha256:xyz}\n", `image a/b:1: digest "sha256:xyz"`},
		"bad file":      {good + "files: {\"http://h/x\": zz}\n", "file http://h/x: sha256"},
		"bad file size": {good + "files: {\"http://h/x\": {sha256: " + strings.Repeat("a", 64) + ", size: -1}}\n", "size -1 is negative"},
		"bad file key":  {good + "files: {\"http://h/x\": {sha256: " + strings.Repeat("a", 64) + ", bytes: 1}}\n", "field bytes not found"},
		"bad file kind": {good + "files: {\"http://h/x\": [a]}\n", "a locked file is {sha256, size}"},
		"bad chart":     {good + "charts: {k: {version: 1}}\n", "chart k: needs a version and a sha256"},
		"bad rpm":       {good + "rpms: {a: {nevra: a-1-1.x86_64, checksum: md5:00}}\n", "rpm a: needs a nevra"},
		"not yaml":      {"\t: [", "yaml:"},
	}
	for name, tt := range tests {
		path := filepath.Join(t.TempDir(), "x.lock.yaml")
		if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "regenerate it with bundle lock") {
			t.Errorf("%s: Load = %v, want %q naming the file", name, err, tt.want)
		}
	}
}

func TestDefaultLockPath(t *testing.T) {
	for in, want := range map[string]string{
		"stack.yaml":           "stack.lock.yaml",
		"dir/kubesphere.yml":   "dir/kubesphere.lock.yml",
		"manifest":             "manifest.lock.yaml",
		"/abs/path/stack.yaml": "/abs/path/stack.lock.yaml",
	} {
		if got := DefaultPath(in); got != want {
			t.Errorf("DefaultPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDriftError(t *testing.T) {
	err := error(&DriftError{Drifts: []Drift{
		{Kind: KindRPM, Name: "haproxy", Locked: "sha256:aa", Upstream: "sha256:bb"},
		{Kind: KindImage, Name: "docker.io/calico/node:v3.26.4", Locked: "sha256:11", Upstream: "sha256:22"},
		{Kind: KindFile, Name: "http://h/x", Locked: "cc"},
	}})
	want := "upstream drifted from the lock file for 3 artifact(s); investigate, then run `bundle lock` to accept the new digests\n" +
		"  file http://h/x: locked cc, upstream gone\n" +
		"  image docker.io/calico/node:v3.26.4: locked sha256:11, upstream sha256:22\n" +
		"  rpm haproxy: locked sha256:aa, upstream sha256:bb"
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
	var de *DriftError
	if !errors.As(err, &de) || len(de.Drifts) != 3 {
		t.Error("errors.As does not find the DriftError")
	}
}

// TestErrors: the errors of many fetches come back together, every drift
// in one sorted *DriftError after the other errors; nil adds nothing.
func TestErrors(t *testing.T) {
	var e Errors
	if !e.Add(nil) || e.Err() != nil {
		t.Fatal("an Errors holding only nil is not empty")
	}
	other := errors.New("chart x: no such version")
	e.Add(&DriftError{Drifts: []Drift{{Kind: KindChart, Name: "z", Locked: "1"}}})
	if e.Add(other) {
		t.Error("Add(err) reported nil")
	}
	e.Add(fmt.Errorf("chart a: %w", &DriftError{Drifts: []Drift{{Kind: KindChart, Name: "a", Locked: "2"}}}))
	err := e.Err()
	if !errors.Is(err, other) {
		t.Errorf("%v: the other error is lost", err)
	}
	var de *DriftError
	if !errors.As(err, &de) || len(de.Drifts) != 2 || de.Drifts[0].Name != "a" || de.Drifts[1].Name != "z" {
		t.Fatalf("drifts not merged and sorted: %+v", de)
	}
	if !strings.HasPrefix(err.Error(), other.Error()+"\n") {
		t.Errorf("the drifts do not come after the other errors:\n%s", err)
	}
}

// TestLockFilesOldForm: a lock written before sizes were recorded held a
// bare sha256 per file; it still loads (size unknown), and is rewritten in
// the {sha256, size} form.
func TestLockFilesOldForm(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	old := "apiVersion: appliance/v1\nkind: Lock\nmanifestDigest: x\nplatform: linux/amd64\nfiles:\n  https://h/x.tgz: " + sum + "\n"
	l, err := Parse("old.lock.yaml", []byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Files["https://h/x.tgz"]; got != (File{SHA256: sum}) {
		t.Fatalf("old form read as %+v", got)
	}
	l.Files["https://h/x.tgz"] = File{SHA256: sum, Size: 42}
	out, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("  https://h/x.tgz:\n    sha256: "+sum+"\n    size: 42\n")) {
		t.Errorf("new form not written:\n%s", out)
	}
	back, err := Parse("new.lock.yaml", out)
	if err != nil || back.Files["https://h/x.tgz"] != l.Files["https://h/x.tgz"] {
		t.Fatalf("round trip: %v, %+v", err, back)
	}
}

// TestLockCheckUnpinnedFile: a URL file without sha256 in the manifest must
// be in the lock, with any sha256; one with a sha256 must be locked at it.
func TestLockCheckUnpinnedFile(t *testing.T) {
	s, err := manifest.ParseFS(fstest.MapFS{}, "m.yaml", []byte(stack("  components:\n    - name: a\n      files:\n        - url: https://h/x.tgz\n")))
	if err != nil {
		t.Fatal(err)
	}
	l := New(s)
	var me *MismatchError
	if err := l.Check(s); !errors.As(err, &me) || len(me.Missing) != 1 || me.Missing[0] != "file https://h/x.tgz" {
		t.Fatalf("Check of a lock without the file = %v", err)
	}
	l.Files["https://h/x.tgz"] = File{SHA256: strings.Repeat("c", 64), Size: 3}
	if err := l.Check(s); err != nil {
		t.Fatalf("Check of a lock pinning the unpinned file: %v", err)
	}
}
