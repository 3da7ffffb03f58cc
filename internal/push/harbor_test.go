package push

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/factory-appliance/appliance/internal/fixture"
	"github.com/factory-appliance/appliance/internal/harbor"
	"github.com/factory-appliance/appliance/internal/harbor/harbortest"
	"github.com/factory-appliance/appliance/internal/lockedio"
	"github.com/factory-appliance/appliance/internal/progress"
)

// startFakeHarbor runs the Harbor API fake on loopback in front of a real
// docker-registry, so pushes through it land. The registry itself has no
// htpasswd (registry auth is tested against docker-registry directly, and
// bcrypt on every request makes it slow); the fake checks the API's auth.
func startFakeHarbor(t *testing.T) (*harbortest.Fake, string) {
	t.Helper()
	reg, err := fixture.StartRegistry(context.Background())
	if err != nil {
		t.Fatalf("%v (install the Debian package docker-registry)", err)
	}
	t.Cleanup(func() { reg.Close() })
	f, err := harbortest.New(testUser, testPass, reg.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, strings.TrimPrefix(srv.URL, "http://")
}

func TestPushIntoHarborCreatesProjects(t *testing.T) {
	tb := getBundle(t)
	r := openBundle(t, tb.path)
	fake, host := startFakeHarbor(t)
	fake.AddProject("docker.io") // exists already: must not be created again
	var logs bytes.Buffer
	shared := lockedio.Writer(&logs) // the logger and the reporter write it at once
	log := slog.New(slog.NewTextHandler(shared, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := []Option{WithPlainHTTP(), WithBasicAuth(testUser, testPass), WithLogger(log), WithProgress(shared, progress.Plain)}

	rep, err := Push(context.Background(), r, host, opts...)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	wantCreated := []string{"charts.local", factoryReg}
	if !rep.Harbor || !slices.Equal(rep.ProjectsCreated, wantCreated) {
		t.Errorf("harbor %v, created %v; want %v", rep.Harbor, rep.ProjectsCreated, wantCreated)
	}
	if got := fake.Projects(); !slices.Equal(got, []string{"charts.local", "docker.io", factoryReg}) {
		t.Errorf("projects = %v", got)
	}
	var posts []harbortest.Call
	for _, c := range fake.Calls() {
		if c.Method == http.MethodPost {
			posts = append(posts, c)
		}
	}
	if len(posts) != len(wantCreated) || slices.ContainsFunc(posts, func(c harbortest.Call) bool { return c.Status != http.StatusCreated }) {
		t.Errorf("project creations = %+v, want %d answered 201", posts, len(wantCreated))
	}
	units := mustUnits(t, r, host)
	ropts := []remote.Option{remote.WithAuth(&authn.Basic{Username: testUser, Password: testPass})}
	for _, u := range units {
		if _, err := remote.Head(u.ref, ropts...); err != nil {
			t.Errorf("%s did not arrive: %v", u.ref, err)
		}
	}
	if strings.Contains(logs.String(), testPass) {
		t.Errorf("the password appears in the logs:\n%s", logs.String())
	}

	// A second run finds every project: HEAD 200, no POST; 409 from a
	// concurrent creator is covered by harbor.Client's own tests.
	before := len(fake.Calls())
	if _, err := Push(context.Background(), r, host, opts...); err != nil {
		t.Fatal(err)
	}
	for _, c := range fake.Calls()[before:] {
		if c.Method == http.MethodPost {
			t.Errorf("second push created a project: %+v", c)
		}
	}
}

func TestHarborRefusesWithoutProjects(t *testing.T) {
	// The fake answers as Harbor does for a missing project; with Harbor
	// calls turned off the push must fail, showing that projects matter.
	tb := getBundle(t)
	r := openBundle(t, tb.path)
	_, host := startFakeHarbor(t)
	_, err := Push(context.Background(), r, host, WithPlainHTTP(), WithBasicAuth(testUser, testPass), WithHarbor(HarborOff))
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("push without projects = %v, want a project-not-found failure", err)
	}
}

func TestHarborWrongPassword(t *testing.T) {
	tb := getBundle(t)
	r := openBundle(t, tb.path)
	fake, host := startFakeHarbor(t)
	const wrong = "N0t-The-Pa55word"
	var logs bytes.Buffer
	shared := lockedio.Writer(&logs) // the logger and the reporter write it at once
	log := slog.New(slog.NewTextHandler(shared, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rep, err := Push(context.Background(), r, host, WithPlainHTTP(), WithBasicAuth(testUser, wrong), WithLogger(log), WithProgress(shared, progress.Plain))
	if !errors.Is(err, harbor.ErrUnauthorized) {
		t.Fatalf("push with a wrong password = %v, want harbor.ErrUnauthorized", err)
	}
	var out bytes.Buffer
	if rep != nil {
		rep.WriteText(&out)
	}
	for _, s := range []string{err.Error(), logs.String(), out.String()} {
		if strings.Contains(s, wrong) {
			t.Errorf("the password appears: %s", s)
		}
	}
	if len(fake.Projects()) != 0 {
		t.Errorf("projects created with a wrong password: %v", fake.Projects())
	}
}
