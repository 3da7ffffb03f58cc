package rpms

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// loadFixtureRepos loads base and updates from url (the fixture served over
// HTTP), with the fixture key.
func loadFixtureRepos(t *testing.T, url string) []*RepoData {
	t.Helper()
	ctx := context.Background()
	f := &Fetcher{}
	keys, err := f.LoadKeys(ctx, fixtureKeys(t)...)
	if err != nil {
		t.Fatal(err)
	}
	var out []*RepoData
	for _, id := range []string{"base", "updates"} {
		rd, err := LoadRepo(ctx, f, Repo{ID: id, BaseURL: url + "/" + id, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rd)
	}
	return out
}

func TestLoadRepoCompressions(t *testing.T) {
	ctx := context.Background()
	f := &Fetcher{}
	nevras := func(rd *RepoData) []string {
		var s []string
		for _, p := range rd.Packages {
			s = append(s, p.NEVRA()+" "+p.Checksum.String())
		}
		slices.Sort(s)
		return s
	}
	gz, err := LoadRepo(ctx, f, Repo{ID: "gz", BaseURL: "file://" + filepath.Join(fixtureDir, "base")})
	if err != nil {
		t.Fatal(err)
	}
	if len(gz.Packages) < 25 {
		t.Fatalf("base has %d packages", len(gz.Packages))
	}
	for _, c := range []string{"bz2", "zst"} {
		rd, err := LoadRepo(ctx, f, Repo{ID: c, BaseURL: "file://" + filepath.Join(fixtureDir, "variants", c)})
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if !slices.Equal(nevras(rd), nevras(gz)) {
			t.Errorf("%s: packages differ from the gzip metadata", c)
		}
		u, err := rd.URL(rd.Packages[0])
		if err != nil || !strings.HasPrefix(u, "file://"+filepath.Join(fixtureDir, "base")+"/") {
			t.Errorf("%s: xml:base not applied: %s %v", c, u, err)
		}
	}
	xz, err := LoadRepo(ctx, f, Repo{ID: "xz", BaseURL: "file://" + filepath.Join(fixtureDir, "updates")})
	if err != nil {
		t.Fatal(err)
	}
	if len(xz.Packages) != 7 || xz.Packages[0].Checksum.Type != "sha1" {
		t.Errorf("updates (xz, sha1): %d packages, checksum %s", len(xz.Packages), xz.Packages[0].Checksum.Type)
	}
}

func TestResolve(t *testing.T) {
	repos := loadFixtureRepos(t, serveFixture(t, fixtureDir))
	base := NewBaseSet("glibc", "bash")
	cases := []struct {
		name     string
		requests []string
		want     []string // NEVRAs of the closure
	}{
		{"chain to soname", []string{"chain-a"}, []string{"chain-a-1.0-1.x86_64", "chain-b-1.0-1.x86_64", "chain-c-1.0-1.noarch", "chain-d-1.1-1.noarch", "libchain-1.0-1.x86_64"}},
		{"virtual provide", []string{"cron-lite"}, []string{"cron-lite-1.0-1.x86_64", "mta-lite-2.0-1.noarch"}},
		{"file in filelists only", []string{"foo-viewer"}, []string{"foo-data-1.0-1.noarch", "foo-viewer-1.0-1.x86_64"}},
		{"file in primary", []string{"foo-wrapper"}, []string{"foo-wrapper-1.0-1.noarch", "footool-1.0-1.x86_64"}},
		{"versioned, newest", []string{"app-v"}, []string{"app-v-1.0-1.x86_64", "libver-2.1-1.x86_64"}},
		{"versioned, older", []string{"app-old"}, []string{"app-old-1.0-1.x86_64", "libver-1.0-1.x86_64"}},
		{"newest across repos", []string{"pin-me"}, []string{"pin-me-1.1-1.noarch"}},
		{"pin version", []string{"pin-me-1.0"}, []string{"pin-me-1.0-2.noarch"}},
		{"pin release", []string{"pin-me-1.0-1"}, []string{"pin-me-1.0-1.noarch"}},
		{"epoch wins", []string{"epoch-pkg"}, []string{"epoch-pkg-2:0.9-1.noarch"}},
		{"rpmBase satisfies", []string{"uses-base"}, []string{"uses-base-1.0-1.x86_64"}},
		{"rich or", []string{"rich-dep"}, []string{"mta-lite-2.0-1.noarch", "rich-dep-1.0-1.noarch"}},
		{"across repos", []string{"extra-tool"}, []string{"extra-tool-3.0-1.x86_64", "step-1-1.1-1.noarch", "step-2-1.2-1.noarch", "step-3-1.3-1.noarch", "step-4-1.4-1.noarch", "step-5-1.5-1.noarch", "step-6-1.6-1.noarch"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Resolve(context.Background(), repos, c.requests, ResolveOptions{Base: base})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range got {
				names = append(names, r.NEVRA())
			}
			if !slices.Equal(names, c.want) {
				t.Errorf("closure = %v\nwant      %v", names, c.want)
			}
		})
	}
}

func TestResolveProvenance(t *testing.T) {
	repos := loadFixtureRepos(t, serveFixture(t, fixtureDir))
	got, err := Resolve(context.Background(), repos, []string{"chain-a"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]Resolved{}
	for _, r := range got {
		by[r.Name] = r
	}
	if r := by["chain-a"]; !r.Requested || r.By != "" || r.Repo != "base" {
		t.Errorf("chain-a: %+v", r)
	}
	if r := by["libchain"]; r.Requested || r.By != "chain-c" || r.Need != "libchain.so.1()(64bit)" {
		t.Errorf("libchain: by %q for %q", r.By, r.Need)
	}
	if r := by["chain-d"]; r.Repo != "updates" {
		t.Errorf("chain-d from %s, want updates", r.Repo)
	}
}

func TestResolveErrors(t *testing.T) {
	repos := loadFixtureRepos(t, serveFixture(t, fixtureDir))
	_, err := Resolve(context.Background(), repos, []string{"broken-top", "broken-other", "chain-a", "uses-base", "no-such-pkg"}, ResolveOptions{Base: NewBaseSet("glibc")})
	if !errors.Is(err, ErrUnsatisfiable) {
		t.Fatalf("err = %v, want ErrUnsatisfiable", err)
	}
	want := strings.Join([]string{
		"broken-other → no-such-thing >= 3: no provider in [base updates], not in rpmBase",
		"broken-top → broken-app → libmissing.so.3()(64bit): no provider in [base updates], not in rpmBase",
		"no-such-pkg: no package in [base updates]",
		"uses-base → /bin/sh: no provider in [base updates], not in rpmBase",
		"uses-base → bash >= 4.0: no provider in [base updates], not in rpmBase",
	}, "\n")
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

func TestResolvePriority(t *testing.T) {
	repos := loadFixtureRepos(t, serveFixture(t, fixtureDir))
	repos[0].Repo.Priority = 10 // base outranks updates for names it has
	got, err := Resolve(context.Background(), repos, []string{"pin-me", "extra-tool"}, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.Name == "pin-me" && r.NEVRA() != "pin-me-1.0-2.noarch" {
			t.Errorf("pin-me = %s, want base's 1.0-2", r.NEVRA())
		}
	}
}

func TestResolveConflictingVersions(t *testing.T) {
	repos := loadFixtureRepos(t, serveFixture(t, fixtureDir))
	_, err := Resolve(context.Background(), repos, []string{"app-v", "app-old"}, ResolveOptions{})
	want := "app-old → libver < 2.0: needs libver-1.0-1.x86_64, but libver-2.1-1.x86_64 is already chosen (for app-v)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}
