package harbor_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/harbor"
	"github.com/factory-appliance/appliance/internal/harbor/harbortest"
)

const (
	user     = "admin"
	password = "Harbor12345-not-for-logs"
)

func newFake(t *testing.T) (*harbortest.Fake, *httptest.Server) {
	t.Helper()
	f, err := harbortest.New(user, password, "http://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func newClient(t *testing.T, url string, opts ...harbor.Option) *harbor.Client {
	t.Helper()
	c, err := harbor.New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHealth(t *testing.T) {
	_, srv := newFake(t)
	status, err := newClient(t, srv.URL).Health(context.Background())
	if err != nil || status != "healthy" {
		t.Fatalf("Health = %q, %v; want healthy", status, err)
	}
	for name, h := range map[string]http.HandlerFunc{
		"404":         http.NotFound,
		"not JSON":    func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>hi</html>")) },
		"no status":   func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"components":[]}`)) },
		"registry v2": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) },
	} {
		other := httptest.NewServer(h)
		_, err := newClient(t, other.URL).Health(context.Background())
		other.Close()
		if !errors.Is(err, harbor.ErrNotHarbor) {
			t.Errorf("%s: Health error = %v, want harbor.ErrNotHarbor", name, err)
		}
	}
}

func TestProjects(t *testing.T) {
	f, srv := newFake(t)
	ctx := context.Background()
	c := newClient(t, srv.URL, harbor.WithBasicAuth(user, password))
	steps := []struct {
		do   func() (bool, error)
		want bool
		what string
	}{
		{func() (bool, error) { return c.ProjectExists(ctx, "docker.io") }, false, "exists before create"},
		{func() (bool, error) { return c.CreateProject(ctx, "docker.io", false) }, true, "create (201)"},
		{func() (bool, error) { return c.CreateProject(ctx, "docker.io", false) }, false, "create again (409 tolerated)"},
		{func() (bool, error) { return c.ProjectExists(ctx, "docker.io") }, true, "exists after create"},
		{func() (bool, error) { return c.EnsureProject(ctx, "quay.io", true) }, true, "ensure creates"},
		{func() (bool, error) { return c.EnsureProject(ctx, "quay.io", true) }, false, "ensure is idempotent"},
	}
	for _, s := range steps {
		got, err := s.do()
		if err != nil || got != s.want {
			t.Errorf("%s: got %v, %v; want %v", s.what, got, err, s.want)
		}
	}
	if got := f.Projects(); strings.Join(got, ",") != "docker.io,quay.io" {
		t.Errorf("projects = %v", got)
	}
	var statuses []int
	for _, call := range f.Calls() {
		if call.Method == http.MethodPost {
			statuses = append(statuses, call.Status)
		}
		if call.User != user {
			t.Errorf("call %s %s not authenticated as %s", call.Method, call.Path, user)
		}
	}
	if len(statuses) != 3 || statuses[0] != 201 || statuses[1] != 409 || statuses[2] != 201 {
		t.Errorf("POST statuses = %v, want [201 409 201]", statuses)
	}
}

func TestAuthRequiredAndPasswordNeverShown(t *testing.T) {
	f, srv := newFake(t)
	ctx := context.Background()
	const wrong = "wrong-Secret-1234"
	for name, c := range map[string]*harbor.Client{
		"no credentials":  newClient(t, srv.URL),
		"wrong password":  newClient(t, srv.URL, harbor.WithBasicAuth(user, wrong)),
		"wrong user name": newClient(t, srv.URL, harbor.WithBasicAuth("nobody", password)),
	} {
		_, err := c.CreateProject(ctx, "docker.io", false)
		if !errors.Is(err, harbor.ErrUnauthorized) {
			t.Errorf("%s: CreateProject error = %v, want harbor.ErrUnauthorized", name, err)
		}
		_, err2 := c.ProjectExists(ctx, "docker.io")
		if !errors.Is(err2, harbor.ErrUnauthorized) {
			t.Errorf("%s: ProjectExists error = %v, want harbor.ErrUnauthorized", name, err2)
		}
		for _, e := range []error{err, err2} {
			if e != nil && (strings.Contains(e.Error(), wrong) || strings.Contains(e.Error(), password)) {
				t.Errorf("%s: the password appears in the error: %v", name, e)
			}
		}
	}
	if len(f.Projects()) != 0 {
		t.Errorf("unauthenticated calls created projects: %v", f.Projects())
	}
}

func TestProjectNames(t *testing.T) {
	_, srv := newFake(t)
	c := newClient(t, srv.URL, harbor.WithBasicAuth(user, password))
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"docker.io", true}, {"registry.factory.example", true}, {"quay.io", true}, {"my-project_1", true},
		{"", false}, {"Docker.io", false}, {"a..b", false}, {".io", false}, {"docker.io:5000", false}, {"a/b", false},
		{strings.Repeat("a", 256), false},
	} {
		_, err := c.CreateProject(context.Background(), tc.name, false)
		if (err == nil) != tc.ok || (!tc.ok && !errors.Is(err, harbor.ErrInvalidName)) {
			t.Errorf("CreateProject(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestNewRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"harbor.site", "ftp://harbor", "https://", "://x"} {
		if _, err := harbor.New(u); err == nil {
			t.Errorf("harbor.New(%q) accepted", u)
		}
	}
}
