package push

import (
	"errors"
	"strings"
	"testing"
)

func TestMapName(t *testing.T) {
	const d = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const other = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	for _, tc := range []struct {
		src, want, project string
		err                error
	}{
		{"docker.io/calico/node:v3.26.4", "site:5000/docker.io/calico/node:v3.26.4", "docker.io", nil},
		{"index.docker.io/calico/node:v3.26.4", "site:5000/docker.io/calico/node:v3.26.4", "docker.io", nil},
		{"nginx:1.25", "site:5000/docker.io/library/nginx:1.25", "docker.io", nil},
		{"registry.factory.example/library/app:1.0", "site:5000/registry.factory.example/library/app:1.0", "registry.factory.example", nil},
		{"quay.io/org/multi:1.0", "site:5000/quay.io/org/multi:1.0", "quay.io", nil},
		{"docker.io/calico/node@" + d, "site:5000/docker.io/calico/node@" + d, "docker.io", nil},
		{"docker.io/calico/node:v1@" + d, "site:5000/docker.io/calico/node:v1", "docker.io", nil},
		{"docker.io/calico/node:sha256-1111.sig", "site:5000/docker.io/calico/node:sha256-1111.sig", "docker.io", nil},
		{"registry.factory.example:5000/app:1.0", "", "", ErrUnmappableName},
		{"127.0.0.1:5000/library/app:1.0", "", "", ErrUnmappableName},
		{"docker.io/calico/node@" + other, "", "", errors.New("inconsistent")},
		{"Not A Name", "", "", ErrUnmappableName},
	} {
		got, err := mapName("site:5000", tc.src, d, false)
		switch {
		case tc.err == nil && err != nil:
			t.Errorf("mapName(%q): %v", tc.src, err)
		case tc.err != nil && err == nil:
			t.Errorf("mapName(%q) = %s, want an error", tc.src, got.ref)
		case tc.err != nil && !errors.Is(err, tc.err) && !strings.Contains(err.Error(), tc.err.Error()):
			t.Errorf("mapName(%q) error %v, want %v", tc.src, err, tc.err)
		case tc.err == nil && (got.ref.String() != tc.want || got.project != tc.project):
			t.Errorf("mapName(%q) = %s (project %s), want %s (project %s)", tc.src, got.ref, got.project, tc.want, tc.project)
		}
	}
}

func TestWavesPutReferrersLast(t *testing.T) {
	const d = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	var units []unit
	for _, src := range []string{
		"docker.io/a/b@" + d,
		"docker.io/a/b:sha256-1111111111111111111111111111111111111111111111111111111111111111.sig",
		"docker.io/a/b:1.0",
		"docker.io/a/a:sha256-1111111111111111111111111111111111111111111111111111111111111111",
		"docker.io/a/a:2.0",
	} {
		tg, err := mapName("site", src, d, false)
		if err != nil {
			t.Fatal(err)
		}
		units = append(units, unit{target: tg})
	}
	w := waves(units)
	var first, second []string
	for _, u := range w[0] {
		first = append(first, u.ref.Identifier())
	}
	for _, u := range w[1] {
		second = append(second, u.ref.Identifier())
	}
	if strings.Join(first, ",") != "2.0,1.0" || len(second) != 3 {
		t.Errorf("waves: %v then %v; want the two plain tags first", first, second)
	}
}
