package rpms

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/factory-appliance/appliance/rpms/internal/rpmfixture"
)

// fixtureDir holds the repositories scripts/rpm-fixtures/build.sh made for
// this test run.
var fixtureDir string

func TestMain(m *testing.M) {
	os.Exit(rpmfixture.Main(m, &fixtureDir))
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
