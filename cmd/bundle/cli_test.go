package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/fixture"
)

// These tests run the real bundle binary, as a user would, against Debian's
// docker-registry holding the demo images, and the real cosign CLI.

var (
	bundleBin string
	mirror    string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "bundle-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bundleBin = filepath.Join(dir, "bundle")
	if out, err := exec.Command("go", "build", "-o", bundleBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg, err := fixture.StartRegistry(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer reg.Close()
	if _, err := fixture.PushDemoSet(ctx, reg.Addr()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mirror = "registry.factory.example=" + reg.Addr()
	return m.Run()
}

// bundleCmd runs the bundle binary and returns its exit error and output.
func bundleCmd(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bundleBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func mustBundle(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, err := bundleCmd(t, env, args...)
	if err != nil {
		t.Fatalf("bundle %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

const password = "COSIGN_PASSWORD=test-password"

// signedDemo generates a key pair and builds a signed demo bundle in dir.
func signedDemo(t *testing.T, dir string) (bundlePath, pub string) {
	t.Helper()
	mustBundle(t, []string{password}, "keys", "generate", "--prefix", filepath.Join(dir, "cosign"))
	bundlePath = filepath.Join(dir, "demo.bundle")
	mustBundle(t, []string{password}, "build", "--stack", "demo", "--registry-mirror", mirror,
		"--cache-dir", filepath.Join(dir, "cache"), "--sign-key", filepath.Join(dir, "cosign.key"), "-o", bundlePath, "-q")
	return bundlePath, filepath.Join(dir, "cosign.pub")
}

func TestVerifyChecksTheSignature(t *testing.T) {
	dir := t.TempDir()
	b, pub := signedDemo(t, dir)
	if out := mustBundle(t, nil, "verify", b, "--key", pub); !strings.Contains(out, "signature verified") {
		t.Fatalf("verify said:\n%s", out)
	}
	mustBundle(t, []string{password}, "keys", "generate", "--prefix", filepath.Join(dir, "other"))
	out, err := bundleCmd(t, nil, "verify", b, "--key", filepath.Join(dir, "other.pub"))
	if err == nil || !strings.Contains(out, "signature") {
		t.Fatalf("verify with another key: err %v\n%s", err, out)
	}
	unsigned := filepath.Join(dir, "unsigned.bundle")
	mustBundle(t, nil, "build", "--stack", "demo", "--registry-mirror", mirror, "--cache-dir", filepath.Join(dir, "cache"), "--unsigned", "-o", unsigned, "-q")
	out, err = bundleCmd(t, nil, "verify", unsigned, "--key", pub)
	if err == nil || !strings.Contains(out, "not signed") && !strings.Contains(out, "unsigned") {
		t.Fatalf("verify of an unsigned bundle with --key: err %v\n%s", err, out)
	}
	out, err = bundleCmd(t, nil, "build", "--stack", "demo", "--registry-mirror", mirror, "-o", filepath.Join(dir, "x.bundle"))
	if err == nil || !strings.Contains(out, "--sign-key") {
		t.Fatalf("build without a key or --unsigned: err %v\n%s", err, out)
	}
}

// TestTamperEveryFlipDetected flips one byte at each of 200 random
// positions across a signed bundle, one flip per copy: `bundle verify
// --key` must exit non-zero with a message every time.
func TestTamperEveryFlipDetected(t *testing.T) {
	dir := t.TempDir()
	b, pub := signedDemo(t, dir)
	orig, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	bad := filepath.Join(dir, "bad.bundle")
	detected := 0
	const flips = 200
	for i := 0; i < flips; i++ {
		pos := rng.IntN(len(orig))
		data := bytes.Clone(orig)
		data[pos] ^= byte(1 + rng.IntN(255))
		if err := os.WriteFile(bad, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := bundleCmd(t, nil, "verify", bad, "--key", pub, "-q")
		if err == nil {
			t.Errorf("flip at byte %d of %d: verify passed:\n%s", pos, len(orig), out)
			continue
		}
		if strings.TrimSpace(out) == "" {
			t.Errorf("flip at byte %d: verify failed without a message", pos)
			continue
		}
		detected++
	}
	t.Logf("%d of %d flips detected", detected, flips)
}

// cosignCmd runs the real cosign CLI offline: proxies point nowhere, and
// SIGSTORE_REKOR_PUBLIC_KEY stops it from fetching a TUF root.
func cosignCmd(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("cosign")
	if err != nil {
		bin = filepath.Join(build.Default.GOPATH, "bin", "cosign")
		if _, err := os.Stat(bin); err != nil {
			t.Fatal("cosign not found in PATH or $(go env GOPATH)/bin; run scripts/install-tools.sh")
		}
	}
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TUF_ROOT=" + filepath.Join(home, "tuf"),
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost"}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestCosignInterop: the real cosign verifies an extracted bundle's
// signature, and a key pair made by cosign signs a bundle we accept.
func TestCosignInterop(t *testing.T) {
	dir := t.TempDir()
	b, pub := signedDemo(t, dir)
	x := filepath.Join(dir, "x")
	mustBundle(t, nil, "extract", b, "-C", x, "--key", pub)
	out, err := cosignCmd(t, x, []string{"SIGSTORE_REKOR_PUBLIC_KEY=" + pub},
		"verify-blob", "--key", pub, "--signature", "bundle.json.sig", "--insecure-ignore-tlog", "bundle.json")
	if err != nil || !strings.Contains(out, "Verified OK") {
		t.Fatalf("cosign verify-blob of the extracted bundle.json: %v\n%s", err, out)
	}
	kd := filepath.Join(dir, "cosign-made")
	os.Mkdir(kd, 0o755)
	if out, err := cosignCmd(t, kd, []string{password}, "generate-key-pair"); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	b2 := filepath.Join(dir, "cosign-signed.bundle")
	mustBundle(t, []string{password}, "build", "--stack", "demo", "--registry-mirror", mirror, "--cache-dir", filepath.Join(dir, "cache"),
		"--sign-key", filepath.Join(kd, "cosign.key"), "-o", b2, "-q")
	mustBundle(t, nil, "verify", b2, "--key", filepath.Join(kd, "cosign.pub"))
	if out, err := bundleCmd(t, nil, "verify", b2, "--key", pub); err == nil {
		t.Fatalf("a bundle signed with cosign's key verified with ours:\n%s", out)
	}
}

// TestLintReportsFileLine: a bad manifest fails lint with file:line and a
// fix, every problem at once.
func TestLintReportsFileLine(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "stack.yaml")
	os.WriteFile(m, []byte(`apiVersion: appliance/v1
kind: Stack
metadata: {name: demo, version: 0.1.0}
spec:
  components:
    - name: core
      images:
        - 127.0.0.1:5000/library/app
        - 127.0.0.1:5000/library/app:1.0
      colour: blue
`), 0o644)
	out, err := bundleCmd(t, nil, "lint", "-f", m)
	if err == nil {
		t.Fatalf("lint passed a bad manifest:\n%s", out)
	}
	for _, want := range []string{"stack.yaml:8:", "stack.yaml:10:"} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
}

// TestSplitCommand: bundle split cuts a signed bundle into parts that
// verify with the signature when opened by their first part, and the
// source is left alone; bad sizes are refused with the fix.
func TestSplitCommand(t *testing.T) {
	dir := t.TempDir()
	b, pub := signedDemo(t, dir)
	before := fileDigest(t, b)
	st, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	size := strconv.FormatInt(st.Size()/3+(4<<20), 10)
	out := mustBundle(t, nil, "split", b, "--size", size, "-o", filepath.Join(dir, "usb", "demo.bundle"))
	if !strings.Contains(out, "wrote ") || !strings.Contains(out, "demo.bundle.001") {
		t.Fatalf("split said:\n%s", out)
	}
	if fileDigest(t, b) != before {
		t.Fatal("split changed its source")
	}
	if out := mustBundle(t, nil, "verify", filepath.Join(dir, "usb", "demo.bundle.001"), "--key", pub); !strings.Contains(out, "signature verified") {
		t.Fatalf("verify of the parts said:\n%s", out)
	}
	for _, bad := range [][]string{{"split", b}, {"split", b, "--size", "1.5GiB"}, {"split", b, "--size", "64KiB"}} {
		if out, err := bundleCmd(t, nil, bad...); err == nil || !strings.Contains(out, "size") {
			t.Errorf("bundle %s: err %v\n%s", strings.Join(bad, " "), err, out)
		}
	}
}

func fileDigest(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestDeltaCommands: build a delta against a signed bundle, verify it
// alone (with the note that its base's blobs were not checked) and with
// its base, and refuse the wrong base.
func TestDeltaCommands(t *testing.T) {
	dir := t.TempDir()
	b, pub := signedDemo(t, dir)
	delta := filepath.Join(dir, "delta.bundle")
	out := mustBundle(t, []string{password}, "build", "--stack", "demo", "--registry-mirror", mirror,
		"--cache-dir", filepath.Join(dir, "cache"), "--sign-key", filepath.Join(dir, "cosign.key"), "-o", delta, "--base", b)
	if !strings.Contains(out, "delta:") || !strings.Contains(out, "left to the base") {
		t.Fatalf("build --base said:\n%s", out)
	}
	if out := mustBundle(t, nil, "verify", delta, "--key", pub); !strings.Contains(out, "add --base") {
		t.Errorf("verify of the delta alone said:\n%s", out)
	}
	if out := mustBundle(t, nil, "verify", delta, "--key", pub, "--base", b); strings.Contains(out, "add --base") || !strings.Contains(out, "ok") {
		t.Errorf("verify with the base said:\n%s", out)
	}
	if out, err := bundleCmd(t, nil, "verify", b, "--key", pub, "--base", delta); err == nil || !strings.Contains(out, "not a delta") {
		t.Errorf("verify of a full bundle with a base: err %v\n%s", err, out)
	}
	if out := mustBundle(t, nil, "inspect", delta); !strings.Contains(out, "a delta bundle; deploy it with --base") {
		t.Errorf("inspect of the delta said:\n%s", out)
	}
}

// TestReadCommandsWarnWithoutKey: cat and extract without --key say, as
// verify does, that the signature is not checked; with --key they do not.
func TestReadCommandsWarnWithoutKey(t *testing.T) {
	dir := t.TempDir()
	b, pub := signedDemo(t, dir)
	for _, args := range [][]string{
		{"cat", b, "index.json"},
		{"extract", b, "-C", filepath.Join(dir, "x")},
		{"verify", b, "-q"},
	} {
		out := mustBundle(t, nil, args...)
		if !strings.Contains(out, noKeyWarning) {
			t.Errorf("bundle %s without --key does not warn:\n%.500s", strings.Join(args, " "), out)
		}
		out = mustBundle(t, nil, append(args, "--key", pub)...)
		if strings.Contains(out, "WARNING") {
			t.Errorf("bundle %s --key warns:\n%.500s", strings.Join(args, " "), out)
		}
	}
	if out := mustBundle(t, nil, "extract", b, "-C", filepath.Join(dir, "y")); !strings.Contains(out, "signature NOT checked") {
		t.Errorf("extract without --key reports:\n%s", out)
	}
}

// TestDryRunRefusesLikeLintAndBuild: a stack whose local chart holds a
// symbolic link is refused by lint, by build --dry-run and by build, each
// with exit status 1 and the link named (build used to panic, dry-run to
// succeed), and build leaves no temporary file.
func TestDryRunRefusesLikeLintAndBuild(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "c", "templates"), 0o755)
	os.WriteFile(filepath.Join(dir, "c", "Chart.yaml"), []byte("apiVersion: v2\nname: c\nversion: 1.0.0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "c", "values.yaml"), []byte("x: 1\n"), 0o644)
	if err := os.Symlink("../values.yaml", filepath.Join(dir, "c", "templates", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(dir, "stack.yaml")
	os.WriteFile(m, []byte("apiVersion: appliance/v1\nkind: Stack\nmetadata: {name: t, version: 0.1.0}\nspec:\n  platform: linux/amd64\n  components:\n    - name: core\n      charts: [{path: c}]\n"), 0o644)
	tmp := t.TempDir()
	for _, args := range [][]string{
		{"lint", "-f", m},
		{"build", "-f", m, "--dry-run"},
		{"build", "-f", m, "--unsigned", "-q", "-o", filepath.Join(dir, "out.bundle"), "--cache-dir", filepath.Join(dir, "cache")},
	} {
		out, err := bundleCmd(t, []string{"TMPDIR=" + tmp}, args...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "templates/link.yaml is a symbolic link") {
			t.Errorf("bundle %s: %v, want exit status 1 naming the link:\n%s", strings.Join(args, " "), err, out)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestKeysGenerateMakesTheDirectory: --prefix in a directory that does not
// exist yet creates it (mode 0700, said so) and writes the pair there; a
// prefix under a file is refused with the fix.
func TestKeysGenerateMakesTheDirectory(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "keys", "release")
	out := mustBundle(t, []string{password}, "keys", "generate", "--prefix", prefix)
	if !strings.Contains(out, "Created directory "+filepath.Join(dir, "keys")+" (mode 0700)") {
		t.Errorf("the new directory is not reported:\n%s", out)
	}
	st, err := os.Stat(filepath.Join(dir, "keys"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("keys/: %v %v, want a directory of mode 0700", st, err)
	}
	for _, f := range []string{prefix + ".key", prefix + ".pub"} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := bundleCmd(t, []string{password}, "keys", "generate", "--prefix", filepath.Join(file, "x")); err == nil || !strings.Contains(out, "is not a directory; choose a prefix in a directory") {
		t.Errorf("a prefix under a file: %v\n%s", err, out)
	}
}

// TestLintWarnsOfUnmarkedTemplates: bundle lint passes a values file that
// is valid YAML but holds {{ }} without template: true, and warns, at the
// file's line, with the fix; bundle build warns the same way.
func TestLintWarnsOfUnmarkedTemplates(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "values"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(dir, "stack.yaml")
	os.WriteFile(m, []byte("apiVersion: appliance/v1\nkind: Stack\nmetadata: {name: demo, version: 0.1.0}\nspec:\n  components:\n    - name: core\n      values: [values/app.yaml]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "values", "app.yaml"), []byte("replicas: 1\nimage: \"{{ .Site.Registry }}/app\"\n"), 0o644)
	want := "warning: " + filepath.Join(dir, "values", "app.yaml") + ":2: values file values/app.yaml (named at " + m + ":7) holds {{ }} but is not marked template: true"
	out := mustBundle(t, nil, "lint", "-f", m)
	if !strings.Contains(out, want) || !strings.Contains(out, "values: [{path: values/app.yaml, template: true}]") {
		t.Errorf("bundle lint does not warn:\n%s", out)
	}
	out, _ = bundleCmd(t, nil, "build", "-f", m, "-o", filepath.Join(dir, "x.bundle"), "--unsigned")
	if !strings.Contains(out, want) {
		t.Errorf("bundle build does not warn:\n%s", out)
	}
}
