package signing

import (
	"bytes"
	"context"
	"errors"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cosignCLI runs the real cosign binary (installed by
// scripts/install-tools.sh) with no way to reach the network:
//
//   - HTTP(S)_PROXY point at a closed loopback port and NO_PROXY lets only
//     loopback through, so any attempt to reach Sigstore's services fails
//     instead of leaving the machine;
//   - HOME and TUF_ROOT are private temp dirs, so no cached TUF root is used;
//   - for verify-blob, SIGSTORE_REKOR_PUBLIC_KEY names a local key: cosign
//     then skips fetching the Sigstore trusted root from TUF altogether
//     (without it, verify-blob tries, warns "Could not fetch
//     trusted_root.json" and still verifies, since --insecure-ignore-tlog
//     needs no transparency-log key).
type cosignCLI struct {
	t    *testing.T
	bin  string
	home string
}

func newCosignCLI(t *testing.T) *cosignCLI {
	t.Helper()
	return &cosignCLI{t: t, bin: findTool(t, "cosign"), home: t.TempDir()}
}

// findTool looks name up in PATH, then in $(go env GOPATH)/bin, and fails
// the test naming the script that installs it.
func findTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range filepath.SplitList(build.Default.GOPATH) {
		p := filepath.Join(dir, "bin", name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	t.Fatalf("%s not found in PATH or $(go env GOPATH)/bin; run scripts/install-tools.sh", name)
	return ""
}

// run runs cosign in dir with COSIGN_PASSWORD=password plus env and returns
// its combined output.
func (c *cosignCLI) run(dir, password string, env []string, args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.home,
		"TUF_ROOT=" + filepath.Join(c.home, "tuf"),
		"COSIGN_PASSWORD=" + password,
		"HTTPS_PROXY=http://127.0.0.1:9",
		"HTTP_PROXY=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost",
	}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// mustRun is run that fails the test on error.
func (c *cosignCLI) mustRun(dir, password string, env []string, args ...string) string {
	c.t.Helper()
	out, err := c.run(dir, password, env, args...)
	if err != nil {
		c.t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// verifyBlob runs `cosign verify-blob --key pub --signature sig file
// --insecure-ignore-tlog` and reports whether cosign accepted it.
func (c *cosignCLI) verifyBlob(dir, pub, sig, file string) (string, error) {
	c.t.Helper()
	out, err := c.run(dir, "", []string{"SIGSTORE_REKOR_PUBLIC_KEY=" + pub},
		"verify-blob", "--key", pub, "--signature", sig, "--insecure-ignore-tlog", file)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		c.t.Fatalf("run cosign verify-blob: %v", err)
	}
	if strings.Contains(out, "TUF") {
		c.t.Errorf("cosign verify-blob tried to reach the TUF repository:\n%s", out)
	}
	return out, err
}

// generateKeyPair runs `cosign generate-key-pair` in dir.
func (c *cosignCLI) generateKeyPair(dir, password string) (keyPath, pubPath string) {
	c.t.Helper()
	c.mustRun(dir, password, nil, "generate-key-pair")
	return filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
}
