// Package rpmfixture builds, for the tests of rpms and its sub-packages,
// the signed fixture RPM repositories that scripts/rpm-fixtures/build.sh
// makes (base, updates and their keys, built with rpmbuild, rpmsign, gpg
// and createrepo_c). It is test support only: nothing outside tests
// imports it.
package rpmfixture

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Main is a TestMain body: it builds the fixture into a temporary directory,
// sets *dir to it, runs the tests and removes the directory. It returns the
// exit code. Fuzz workers get no fixture (Fuzz targets need none), and a
// missing tool fails the run with the Debian package that has it.
func Main(m *testing.M, dir *string) int {
	for _, a := range os.Args {
		if strings.HasPrefix(a, "-test.fuzzworker") {
			return m.Run() // fuzz workers only run Fuzz targets, which need no fixture
		}
	}
	for _, tool := range []string{"rpmbuild", "rpmsign", "gpg", "createrepo_c"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "rpms tests need %s: install Debian packages rpm, gnupg and createrepo-c\n", tool)
			return 1
		}
	}
	tmp, err := os.MkdirTemp("", "rpms-fixture-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "..", "..", "..", "scripts", "rpm-fixtures", "build.sh")
	cmd := exec.Command("bash", script, tmp)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the RPM fixture:", err)
		return 1
	}
	*dir = tmp
	return m.Run()
}
