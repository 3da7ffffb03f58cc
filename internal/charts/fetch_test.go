package charts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/fetch"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
	"helm.sh/helm/v3/pkg/chart/loader"
)

func TestResolveVersion(t *testing.T) {
	published := []string{"44.3.0", "45.0.0", "45.7.1", "45.10.0", "46.0.0-rc.1", "1.2.3", "1.2.9", "1.3.0", "2.0.0", "not-semver"}
	tests := []struct{ constraint, want string }{
		{"45.x", "45.10.0"},
		{"~1.2", "1.2.9"},
		{"^1.2", "1.3.0"},
		{">=1.0 <2", "1.3.0"},
		{"1.2.3", "1.2.3"},
		{"46.0.0-rc.1", "46.0.0-rc.1"}, // written exactly: pre-release taken
		{">=46.0.0-0", "46.0.0-rc.1"},  // a constraint naming a pre-release
		{"46.x", ""},                   // pre-releases do not match a plain range
		{"3.x", ""},
	}
	for _, tt := range tests {
		got, err := resolveVersion(tt.constraint, published)
		if tt.want == "" {
			if !errors.Is(err, ErrNoVersion) {
				t.Errorf("%q: got %q, %v; want ErrNoVersion", tt.constraint, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.constraint, got, err, tt.want)
		}
	}
	if _, err := resolveVersion("not a constraint!", published); err == nil {
		t.Error("a malformed constraint was accepted")
	}
}

// chartRepo serves an index.yaml and the packaged charts of one chart at
// several versions, as a chart repository on loopback does.
type chartRepo struct {
	srv      *httptest.Server
	archives map[string][]byte // file name → bytes
	digests  map[string]string // version → published digest (hex)
	requests int
}

func newChartRepo(t *testing.T, name string, versions ...string) *chartRepo {
	t.Helper()
	r := &chartRepo{archives: map[string][]byte{}, digests: map[string]string{}}
	for _, v := range versions {
		data := packageBytes(t, chartFS(name, v, "busybox:"+v), name)
		r.archives[name+"-"+v+".tgz"] = data
		sum := sha256.Sum256(data)
		r.digests[v] = hex.EncodeToString(sum[:])
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests++
		file := strings.TrimPrefix(req.URL.Path, "/charts/")
		if file == "index.yaml" {
			fmt.Fprintf(w, "apiVersion: v1\nentries:\n  %s:\n", name)
			for _, v := range versions {
				fmt.Fprintf(w, "    - name: %s\n      version: %s\n      digest: %s\n      urls: [%s-%s.tgz]\n", name, v, r.digests[v], name, v)
			}
			return
		}
		data, ok := r.archives[file]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func repoChart(r *chartRepo, name, version string) manifest.Chart {
	return manifest.Chart{Source: manifest.ChartRepo, Name: name, Repo: r.srv.URL + "/charts", Version: version, Component: "core"}
}

func TestFetchRepo(t *testing.T) {
	repo := newChartRepo(t, "redis", "17.0.0", "17.3.2", "18.0.0")
	f := NewFetcher(newCache(t))
	got, err := f.Fetch(context.Background(), nil, repoChart(repo, "redis", "17.x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "redis" || got.Version != "17.3.2" || got.Digest != "sha256:"+repo.digests["17.3.2"] || got.FileName() != "redis-17.3.2.tgz" {
		t.Fatalf("fetched %+v, want redis 17.3.2 with the published digest", got)
	}
	if got.Size != int64(len(repo.archives["redis-17.3.2.tgz"])) {
		t.Errorf("size %d, want %d", got.Size, len(repo.archives["redis-17.3.2.tgz"]))
	}
	// Pinned and cached: no request at all.
	before := repo.requests
	lc := got.Locked()
	if _, err := f.Fetch(context.Background(), nil, repoChart(repo, "redis", "17.x"), &lc); err != nil {
		t.Fatal(err)
	}
	if repo.requests != before {
		t.Errorf("a pinned, cached chart made %d requests", repo.requests-before)
	}
}

func TestFetchRepoRefusesWrongBytes(t *testing.T) {
	repo := newChartRepo(t, "redis", "17.0.0")
	other := "sha256:" + strings.Repeat("ab", 32)
	t.Run("lock disagrees", func(t *testing.T) {
		_, err := NewFetcher(newCache(t)).Fetch(context.Background(), nil, repoChart(repo, "redis", "17.x"), &lock.Chart{Version: "17.0.0", Digest: other})
		var de *lock.DriftError
		if !errors.As(err, &de) || de.Drifts[0].Upstream != "sha256:"+repo.digests["17.0.0"] || de.Drifts[0].Kind != lock.KindChart {
			t.Fatalf("got %v, want a chart DriftError naming the upstream digest", err)
		}
	})
	t.Run("locked version gone", func(t *testing.T) {
		_, err := NewFetcher(newCache(t)).Fetch(context.Background(), nil, repoChart(repo, "redis", "17.x"), &lock.Chart{Version: "17.0.1", Digest: other})
		var de *lock.DriftError
		if !errors.As(err, &de) || de.Drifts[0].Upstream != "" {
			t.Fatalf("got %v, want a DriftError with no upstream digest", err)
		}
	})
	t.Run("index digest disagrees with the archive", func(t *testing.T) {
		repo.archives["redis-17.0.0.tgz"] = append([]byte(nil), repo.archives["redis-17.0.0.tgz"]...)
		repo.archives["redis-17.0.0.tgz"][20] ^= 1
		cache := newCache(t)
		_, err := NewFetcher(cache).Fetch(context.Background(), nil, repoChart(repo, "redis", "17.0.0"), nil)
		var de *cas.DigestError
		if !errors.As(err, &de) {
			t.Fatalf("got %v, want a *cas.DigestError", err)
		}
		if _, ok := cache.Has("sha256:" + repo.digests["17.0.0"]); ok {
			t.Error("corrupt bytes were stored in the cache")
		}
	})
	t.Run("no such chart", func(t *testing.T) {
		_, err := NewFetcher(newCache(t)).Fetch(context.Background(), nil, repoChart(repo, "mysql", "9.x"), nil)
		if err == nil || !strings.Contains(err.Error(), "has no chart mysql") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no matching version", func(t *testing.T) {
		_, err := NewFetcher(newCache(t)).Fetch(context.Background(), nil, repoChart(repo, "redis", "18.x"), nil)
		if !errors.Is(err, ErrNoVersion) || !strings.Contains(err.Error(), "17.0.0") {
			t.Fatalf("got %v, want ErrNoVersion listing 17.0.0", err)
		}
	})
}

func TestFetchRefusesPlainHTTPToOtherHosts(t *testing.T) {
	c := manifest.Chart{Source: manifest.ChartRepo, Name: "redis", Repo: "http://charts.invalid/stable", Version: "1.x"}
	_, err := NewFetcher(newCache(t)).Fetch(context.Background(), nil, c, nil)
	var ie *fetch.InsecureError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "--insecure-registry charts.invalid") {
		t.Fatalf("got %v, want plain HTTP refused with the way out", err)
	}
}

func TestFetchLocal(t *testing.T) {
	c := manifest.Chart{Source: manifest.ChartLocal, Path: "factory-app", Component: "core"}
	f := NewFetcher(newCache(t))
	got, err := f.Fetch(context.Background(), os.DirFS("testdata"), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(packageDir(t, "testdata"))
	if got.Name != "factory-app" || got.Version != "0.1.0" || got.Digest != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Fatalf("fetched %+v", got)
	}
	if ArtifactRef(got) != "charts.local/factory-app:0.1.0" {
		t.Errorf("artifact ref %s", ArtifactRef(got))
	}
}

// pushChart pushes a chart archive to the registry as `helm push` does:
// Helm's config and content media types, one content layer.
func pushChart(t *testing.T, ref string, tgz []byte) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	cfgData := []byte(`{"name":"factory-app","version":"0.1.0","apiVersion":"v2"}`)
	cfg := static.NewLayer(cfgData, ConfigMediaType)
	content := static.NewLayer(tgz, ContentMediaType)
	for _, l := range []v1.Layer{cfg, content} {
		if err := remote.WriteLayer(r.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	cd, _ := cfg.Digest()
	ld, _ := content.Digest()
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		ConfigMediaType, cd, len(cfgData), ContentMediaType, ld, len(tgz))
	if err := remote.Put(r, rawManifest(m)); err != nil {
		t.Fatal(err)
	}
}

// rawManifest is an OCI manifest to put as it is.
type rawManifest string

func (m rawManifest) RawManifest() ([]byte, error) { return []byte(m), nil }
func (m rawManifest) MediaType() (types.MediaType, error) {
	return types.OCIManifestSchema1, nil
}

func TestFetchOCI(t *testing.T) {
	reg := startRegistry(t)
	tgz := packageDir(t, "testdata")
	for _, tag := range []string{"0.1.0", "0.0.9"} {
		pushChart(t, reg.Addr()+"/charts/factory-app:"+tag, tgz)
	}
	sum := sha256.Sum256(tgz)
	for _, version := range []string{"0.1.0", "~0.1"} {
		t.Run(version, func(t *testing.T) {
			c := manifest.Chart{Source: manifest.ChartOCI, OCI: "oci://" + reg.Addr() + "/charts/factory-app", Version: version, Component: "core"}
			got, err := NewFetcher(newCache(t)).Fetch(context.Background(), nil, c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != "0.1.0" || got.Digest != "sha256:"+hex.EncodeToString(sum[:]) {
				t.Fatalf("fetched %+v", got)
			}
			if ref := ArtifactRef(got); ref != reg.Addr()+"/charts/factory-app:0.1.0" {
				t.Errorf("artifact ref %s", ref)
			}
		})
	}
	t.Run("not a chart", func(t *testing.T) {
		r, _ := name.ParseReference(reg.Addr() + "/charts/image:1.0.0")
		cfg := static.NewLayer([]byte("{}"), types.OCIConfigJSON)
		if err := remote.WriteLayer(r.Context(), cfg); err != nil {
			t.Fatal(err)
		}
		d, _ := cfg.Digest()
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},"layers":[]}`, d)
		if err := remote.Put(r, rawManifest(m)); err != nil {
			t.Fatal(err)
		}
		c := manifest.Chart{Source: manifest.ChartOCI, OCI: "oci://" + reg.Addr() + "/charts/image", Version: "1.0.0"}
		_, err := NewFetcher(newCache(t)).Fetch(context.Background(), nil, c, nil)
		if err == nil || !strings.Contains(err.Error(), "is not a Helm chart") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestArtifactPullsWithHelm pushes the OCI artifact Artifact makes to a
// registry and pulls it with the real helm CLI: a site registry hosting it
// serves a chart Helm installs.
func TestArtifactPullsWithHelm(t *testing.T) {
	reg := startRegistry(t)
	cache := newCache(t)
	f := NewFetcher(cache)
	got, err := f.Fetch(context.Background(), os.DirFS("testdata"), manifest.Chart{Source: manifest.ChartLocal, Path: "factory-app"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	img, err := f.Artifact(got)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.Artifact(got)
	if err != nil || again.Digest != img.Digest {
		t.Fatalf("the artifact manifest is not reproducible: %s then %s (%v)", img.Digest, again.Digest, err)
	}
	repo, _ := name.NewRepository(reg.Addr() + "/charts/factory-app")
	for _, b := range append([]images.Blob{img.Config}, img.Layers...) {
		data := readCache(t, cache, b.Digest)
		if err := remote.WriteLayer(repo, static.NewLayer(data, types.MediaType(b.MediaType))); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Put(repo.Tag("0.1.0"), rawManifest(readCache(t, cache, img.Digest))); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	runHelm(t, "pull", "oci://"+reg.Addr()+"/charts/factory-app", "--version", "0.1.0", "--plain-http", "-d", dir)
	pulled, err := os.ReadFile(filepath.Join(dir, "factory-app-0.1.0.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(pulled); "sha256:"+hex.EncodeToString(sum[:]) != got.Digest {
		t.Error("helm pulled other bytes than the chart archive")
	}
}

func readCache(t *testing.T, c *cas.Store, digest string) []byte {
	t.Helper()
	rc, _, err := c.Open(digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// hostileChart is chart name 1.0.0 packaged with one more entry, extra, as
// a chart repository or registry could publish it: Helm's loader reads it.
func hostileChart(t *testing.T, name string, extra *tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	fsys := chartFS(name, "1.0.0", "busybox:1.36")
	for _, p := range []string{name + "/Chart.yaml", name + "/values.yaml", name + "/templates/pod.yaml"} {
		data := fsys[p].Data
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	extra.Mode = 0o644
	if extra.Typeflag == tar.TypeReg {
		extra.Size = 4
	}
	if err := tw.WriteHeader(extra); err != nil {
		t.Fatal(err)
	}
	if extra.Typeflag == tar.TypeReg {
		tw.Write([]byte("x: 1"))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// TestFetchRefusesUnsafeArchives: a remote chart archive holding a link,
// an absolute path or a ".." element loads with Helm, but is refused as a
// local chart directory holding one is, naming the chart, its version and
// the entry, and nothing of it is returned.
func TestFetchRefusesUnsafeArchives(t *testing.T) {
	cases := []struct {
		name  string
		entry *tar.Header
		want  string
	}{
		{"symlink", &tar.Header{Typeflag: tar.TypeSymlink, Name: "evil/templates/link.yaml", Linkname: "/etc/passwd"}, `"evil/templates/link.yaml" is a symbolic link to "/etc/passwd"`},
		{"hardlink", &tar.Header{Typeflag: tar.TypeLink, Name: "evil/templates/hard.yaml", Linkname: "evil/values.yaml"}, "is a hard link"},
		{"fifo", &tar.Header{Typeflag: tar.TypeFifo, Name: "evil/templates/fifo"}, "is not a regular file"},
		{"absolute path", &tar.Header{Typeflag: tar.TypeReg, Name: "/etc/cron.d/evil"}, `"/etc/cron.d/evil" has an absolute path`},
		{"dot-dot", &tar.Header{Typeflag: tar.TypeReg, Name: "../../etc/evil.yaml"}, `".." element`},
		{"dot-dot inside", &tar.Header{Typeflag: tar.TypeReg, Name: "evil/templates/../../x.yaml"}, `".." element`},
		{"backslash dot-dot", &tar.Header{Typeflag: tar.TypeReg, Name: `evil\..\..\x.yaml`}, `".." element`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := newChartRepo(t, "evil", "1.0.0")
			data := hostileChart(t, "evil", c.entry)
			if _, err := loader.LoadArchive(bytes.NewReader(data)); err != nil {
				t.Logf("Helm's loader refuses it too: %v", err)
			}
			sum := sha256.Sum256(data)
			repo.archives["evil-1.0.0.tgz"], repo.digests["1.0.0"] = data, hex.EncodeToString(sum[:])
			got, err := NewFetcher(newCache(t)).Fetch(context.Background(), nil, repoChart(repo, "evil", "1.0.0"), nil)
			if err == nil {
				t.Fatalf("fetched %+v", got)
			}
			for _, want := range []string{c.want, "chart evil version 1.0.0", "ask the chart's publisher"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
	// The same chart without the extra entry is fetched.
	repo := newChartRepo(t, "evil", "1.0.0")
	if _, err := NewFetcher(newCache(t)).Fetch(context.Background(), nil, repoChart(repo, "evil", "1.0.0"), nil); err != nil {
		t.Fatalf("the plain chart: %v", err)
	}
}
