package rpms

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fixtureDir holds the repositories scripts/rpm-fixtures/build.sh made for
// this test run.
var fixtureDir string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
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
	dir, err := os.MkdirTemp("", "rpms-fixture-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "..", "scripts", "rpm-fixtures", "build.sh")
	cmd := exec.Command("bash", script, dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the RPM fixture:", err)
		return 1
	}
	fixtureDir = dir
	return m.Run()
}

// serveFixture serves dir over HTTP on 127.0.0.1 for the test's lifetime.
func serveFixture(t *testing.T, dir string) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

func fixtureKeys(t *testing.T) []string {
	return []string{filepath.Join(fixtureDir, "keys", "RPM-GPG-KEY-fixture")}
}
