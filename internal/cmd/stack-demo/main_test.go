package main

import (
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// testRootEnv makes the test binary, run again by TestHost, be stack-demo
// host with that root instead of /host.
const testRootEnv = "STACK_DEMO_TEST_ROOT"

func TestMain(m *testing.M) {
	if root := os.Getenv(testRootEnv); root != "" {
		log.Fatal(onHost(root, os.Args[1]))
	}
	os.Exit(m.Run())
}

// fakeShell is the /bin/sh of TestHost's root: it writes its arguments, its
// working directory and NODE_NAME to /out, which is in the root only if it
// runs chrooted.
const fakeShell = `package main

import (
	"fmt"
	"os"
)

func main() {
	wd, _ := os.Getwd()
	if err := os.WriteFile("/out", []byte(fmt.Sprintf("%q %s %s", os.Args, wd, os.Getenv("NODE_NAME"))), 0o644); err != nil {
		panic(err)
	}
}
`

// TestHost: stack-demo host SCRIPT runs the root's /bin/sh -c SCRIPT,
// chrooted into the root, in its /, with stack-demo's environment.
func TestHost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sh.go"), []byte(fakeShell), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(root, "bin", "sh"), filepath.Join(dir, "sh.go"))
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the fake shell: %v\n%s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "echo hi >/dev/null")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), testRootEnv+"="+root, "NODE_NAME=node-1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stack-demo host: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(root, "out"))
	if err != nil {
		t.Fatalf("the shell did not run chrooted into the root: %v", err)
	}
	if want := `["sh" "-c" "echo hi >/dev/null"] / node-1`; string(got) != want {
		t.Errorf("the shell saw %s, want %s", got, want)
	}
}
