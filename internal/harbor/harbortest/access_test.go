package harbortest

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/harbor"
)

// TestFakeRegistryAccess: the fake applies Harbor's access rules to /v2/
// before anything reaches the registry behind it (here a backend that
// answers 200 to whatever it gets, so only the fake's answers differ).
func TestFakeRegistryAccess(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	f, err := New("admin", "pw", backend.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "projects.json")
	if err := f.Persist(state); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := harbor.New(srv.URL, harbor.WithBasicAuth("admin", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateProject(t.Context(), "docker.io", true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateProject(t.Context(), "quay.io", false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		auth         bool
		want         int
	}{
		{"GET", "/v2/", false, 401},
		{"GET", "/v2/", true, 200},
		{"GET", "/v2/_catalog", false, 401},
		{"GET", "/v2/docker.io/library/x/manifests/1", false, 200},
		{"HEAD", "/v2/docker.io/library/x/blobs/sha256:00", false, 200},
		{"GET", "/v2/quay.io/x/manifests/1", false, 401},
		{"GET", "/v2/quay.io/x/manifests/1", true, 200},
		{"PUT", "/v2/docker.io/library/x/manifests/1", false, 401},
		{"POST", "/v2/docker.io/library/x/blobs/uploads/", true, 200},
		{"POST", "/v2/ghcr.io/x/blobs/uploads/", true, 404},
		{"GET", "/v2/ghcr.io/x/manifests/1", true, 404},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if tc.auth {
			req.SetBasicAuth("admin", "pw")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s (auth %v) = %d, want %d", tc.method, tc.path, tc.auth, resp.StatusCode, tc.want)
		}
	}
	// A stand-in started again over the same file keeps the projects.
	g, _ := New("admin", "pw", backend.URL, nil)
	if err := g.Persist(state); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(g.Projects(), " "); got != "docker.io quay.io" {
		t.Errorf("projects after a restart: %q", got)
	}
	if exists, public := g.Project("quay.io"); !exists || public {
		t.Errorf("quay.io after a restart: exists %v public %v, want a private project", exists, public)
	}
}
