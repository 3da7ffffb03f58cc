package charts

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/fixture"
)

// helmCLI returns the real helm binary that scripts/install-tools.sh
// installs, and an environment that keeps its state in a temporary
// directory.
func helmCLI(t *testing.T) (string, []string) {
	t.Helper()
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env GOPATH: %v", err)
	}
	bin := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the helm CLI is not at %s: run scripts/install-tools.sh", bin)
	}
	home := t.TempDir()
	env := append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config",
		"HELM_DATA_HOME="+home+"/data", "DOCKER_CONFIG="+home+"/docker")
	return bin, env
}

func runHelm(t *testing.T, args ...string) string {
	t.Helper()
	bin, env := helmCLI(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func newCache(t *testing.T) *cas.Store {
	t.Helper()
	c, err := cas.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// chartFS is a minimal chart named name at version, in an in-memory tree,
// whose deployment uses image.
func chartFS(name, version, image string) fstest.MapFS {
	return fstest.MapFS{
		name + "/Chart.yaml":  {Data: []byte("apiVersion: v2\nname: " + name + "\nversion: " + version + "\n")},
		name + "/values.yaml": {Data: []byte("image: " + image + "\n")},
		name + "/templates/pod.yaml": {Data: []byte(
			"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: {{ .Values.image }}\n")},
	}
}

func packageBytes(t *testing.T, fsys fstest.MapFS, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Package(fsys, dir, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func startRegistry(t *testing.T) *fixture.Registry {
	t.Helper()
	r, err := fixture.StartRegistry(context.Background())
	if err != nil {
		t.Fatalf("start docker-registry (Debian package docker-registry): %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
