package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gpgKey makes a signing key with Debian's gpg in a throw-away home and
// returns the home, the key's fingerprint and its armored public key.
func gpgKey(t *testing.T) (home, fp string, pub []byte) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg not found: install the Debian package gnupg (scripts/install-deps.sh)")
	}
	home, err := os.MkdirTemp("", "gpg") // short: gpg-agent's socket lives in it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	gpg(t, home, "--quick-gen-key", "vendor <vendor@example.invalid>", "rsa2048", "sign", "never")
	for _, line := range strings.Split(string(gpg(t, home, "--with-colons", "--list-keys", "vendor")), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" && len(f) > 9 {
			fp = f[9]
			break
		}
	}
	return home, fp, gpg(t, home, "--armor", "--export", "vendor")
}

func gpg(t *testing.T, home string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...).Output()
	if err != nil {
		t.Fatalf("gpg %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// TestURLFileLockCommand runs the bundle binary on a stack whose URL file
// has no sha256 and requires the vendor's signature: lint accepts it,
// build --dry-run lists the file as unpinned with its signature, bundle
// lock writes its sha256 and size into the lock after checking the
// signature, and build --dry-run --locked then shows the locked sha256.
// Malformed verify fields fail lint at their file:line with the fix.
func TestURLFileLockCommand(t *testing.T) {
	home, fp, pub := gpgKey(t)
	dir := t.TempDir()
	asset := bytes.Repeat([]byte("vendor tool\n"), 1000)
	src := filepath.Join(dir, "tool.tar.gz")
	os.WriteFile(src, asset, 0o644)
	asc := gpg(t, home, "--local-user", "vendor", "--armor", "--detach-sign", "--output", "-", src)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/rel/tool.tar.gz":
			w.Write(asset)
		case "/rel/tool.tar.gz.asc":
			w.Write(asc)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o755)
	os.WriteFile(filepath.Join(dir, "keys", "vendor.asc"), pub, 0o644)
	fileURL := srv.URL + "/rel/tool.tar.gz"
	m := filepath.Join(dir, "stack.yaml")
	os.WriteFile(m, []byte(fmt.Sprintf(`apiVersion: appliance/v1
kind: Stack
metadata: {name: tools, version: 0.1.0}
spec:
  components:
    - name: tools
      files:
        - url: %s
          verify: {gpgkey: keys/vendor.asc, fingerprint: %q}
`, fileURL, fp)), 0o644)

	mustBundle(t, nil, "lint", "-f", m)
	out := mustBundle(t, nil, "build", "-f", m, "--dry-run")
	want := fmt.Sprintf("file %s (unpinned: hashed as downloaded; `bundle lock` pins it; OpenPGP signature %s.asc by keys/vendor.asc (key %s))", fileURL, fileURL, fp)
	if !strings.Contains(out, want) {
		t.Errorf("dry run lacks %q:\n%s", want, out)
	}
	out = mustBundle(t, nil, "lock", "-f", m, "-q", "--cache-dir", filepath.Join(dir, "cache"))
	if !strings.Contains(out, "(0 images, 1 files)") {
		t.Errorf("lock output: %s", out)
	}
	lock, err := os.ReadFile(filepath.Join(dir, "stack.lock.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(asset)
	if entry := fmt.Sprintf("  %s:\n    sha256: %s\n    size: %d\n", fileURL, hex.EncodeToString(sum[:]), len(asset)); !strings.Contains(string(lock), entry) {
		t.Errorf("lock lacks\n%s\ngot:\n%s", entry, lock)
	}
	out = mustBundle(t, nil, "build", "-f", m, "--dry-run", "--locked")
	if !strings.Contains(out, "sha256 "+hex.EncodeToString(sum[:])+" from the lock") {
		t.Errorf("locked dry run does not show the locked sha256:\n%s", out)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`apiVersion: appliance/v1
kind: Stack
metadata: {name: tools, version: 0.1.0}
spec:
  components:
    - name: tools
      files:
        - url: https://vendor.example/tool.tar.gz
          verify: {gpgkey: "https://vendor.example/key.asc"}
        - url: https://vendor.example/other.tar.gz
          verify: {gpgkey: keys/vendor.asc, fingerprint: 644FF454C0B4115C}
        - path: keys/vendor.asc
          verify: {gpgkey: keys/vendor.asc}
        - url: https://vendor.example/third.tar.gz
          verify: {gpgkey: keys/none.asc, signatur: x}
`), 0o644)
	out, err = bundleCmd(t, nil, "lint", "-f", bad)
	if err == nil {
		t.Fatalf("lint passed malformed verify fields:\n%s", out)
	}
	for _, w := range []string{
		`bad.yaml:9: verify.gpgkey "https://vendor.example/key.asc" is a URL`, "ship the signer's public key",
		`bad.yaml:11: verify.fingerprint "644FF454C0B4115C" is not an OpenPGP fingerprint`, "40 hex digits",
		"bad.yaml:13: verify is for URL files, and keys/vendor.asc is a local file", "remove verify:",
		`bad.yaml:15: unknown field "signatur" in file verify`, `did you mean "signature"?`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("lint output lacks %q:\n%s", w, out)
		}
	}
}
