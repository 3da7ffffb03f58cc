package siteserver

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// run runs a command and fails the test with its output when it fails.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// layoutTopDigest returns the digest of the only manifest in an OCI layout's
// index.json.
func layoutTopDigest(t *testing.T, dir string) string {
	t.Helper()
	var idx v1.IndexManifest
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "index.json")), &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 {
		t.Fatalf("%s/index.json has %d manifests, want 1", dir, len(idx.Manifests))
	}
	return idx.Manifests[0].Digest.String()
}

// craneBinary finds crane where scripts/install-tools.sh puts it.
func craneBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("crane"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env GOPATH: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "bin", "crane")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("crane is not installed: run scripts/install-tools.sh (go install github.com/google/go-containerregistry/cmd/crane@v0.22.1)")
	}
	return p
}

// TestSkopeoAndCranePullEveryImage pulls every image over TLS, trusting only
// the site CA, and checks that the digests are the bundle's.
func TestSkopeoAndCranePullEveryImage(t *testing.T) {
	skopeo := requireTool(t, "skopeo", "skopeo")
	crane := craneBinary(t)
	l := newLayout(t)
	for backend, src := range backends(t, l) {
		t.Run(backend, func(t *testing.T) { testClientsPull(t, l, startServerFor(t, src, true), skopeo, crane) })
	}
}

func testClientsPull(t *testing.T, l *testLayout, rs *running, skopeo, crane string) {
	certDir := t.TempDir() // ca.crt only: never hand a client the state directory
	if err := os.WriteFile(filepath.Join(certDir, "ca.crt"), readFile(t, rs.caCertPath), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, img := range l.images {
		t.Run(img.repo, func(t *testing.T) {
			src := rs.addr + "/" + img.ref()
			dest := filepath.Join(t.TempDir(), "skopeo")
			// dir: keeps every manifest as served (oci: would have to
			// convert a Docker manifest list).
			run(t, nil, skopeo, "copy", "--all", "--preserve-digests", "--src-cert-dir", certDir,
				"docker://"+src, "dir:"+dest)
			if got := sha256Digest(readFile(t, filepath.Join(dest, "manifest.json"))); got != img.digest {
				t.Errorf("skopeo copied %s, want %s", got, img.digest)
			}
			env := []string{"SSL_CERT_FILE=" + rs.caCertPath, "SSL_CERT_DIR=/nonexistent"}
			if got := strings.TrimSpace(run(t, env, crane, "digest", src)); got != img.digest {
				t.Errorf("crane digest %s, want %s", got, img.digest)
			}
			craneDest := filepath.Join(t.TempDir(), "crane")
			run(t, env, crane, "pull", "--format", "oci", src, craneDest)
			if got := layoutTopDigest(t, craneDest); got != img.digest {
				t.Errorf("crane pulled %s, want %s", got, img.digest)
			}
		})
	}
}
