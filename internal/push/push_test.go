package push

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/factory-appliance/appliance/internal/lockedio"
	"github.com/factory-appliance/appliance/internal/progress"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// expected is what pushing a bundle into an empty registry must do,
// computed from the bundle itself.
type expected struct {
	uploads int64 // distinct config and layer blobs
	bytes   int64 // their sizes
	mounts  int64 // for each blob, the repositories beyond the first that need it
}

func expect(t *testing.T, r *bundle.Reader, units []unit) expected {
	t.Helper()
	repos := map[v1.Hash]map[string]bool{}
	sizes := map[v1.Hash]int64{}
	var walk func(repo string, d v1.Descriptor)
	walk = func(repo string, d v1.Descriptor) {
		raw, err := readManifest(r, d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		pm, err := parseManifest(raw, d.MediaType)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range pm.children {
			if _, ok := r.Lookup(blobPath(c.Digest)); ok {
				walk(repo, c)
			}
		}
		for _, b := range pm.blobs {
			if repos[b.Digest] == nil {
				repos[b.Digest] = map[string]bool{}
			}
			repos[b.Digest][repo] = true
			sizes[b.Digest] = b.Size
		}
	}
	for _, u := range units {
		walk(u.ref.Context().String(), u.desc)
	}
	var e expected
	for d, rs := range repos {
		e.uploads++
		e.bytes += sizes[d]
		e.mounts += int64(len(rs) - 1)
	}
	return e
}

// siteState lists every repository:tag of the site with its digest, and
// every untagged unit by digest.
func siteState(t *testing.T, s *site, units []unit) map[string]string {
	t.Helper()
	opts := s.remoteOpts()
	state := map[string]string{}
	reg, err := name.NewRegistry(s.reg.Addr())
	if err != nil {
		t.Fatal(err)
	}
	repos, err := remote.Catalog(context.Background(), reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, repo := range repos {
		r, _ := name.NewRepository(s.reg.Addr() + "/" + repo)
		tags, err := remote.List(r, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags {
			d, err := remote.Head(r.Tag(tag), opts...)
			if err != nil {
				t.Fatal(err)
			}
			state[repo+":"+tag] = d.Digest.String()
		}
	}
	for _, u := range units {
		if _, isTag := u.ref.(name.Tag); !isTag {
			d, err := remote.Head(u.ref, opts...)
			if err != nil {
				t.Fatalf("%s: %v", u.ref, err)
			}
			state[u.ref.Context().RepositoryStr()+"@"+d.Digest.String()] = d.Digest.String()
		}
	}
	return state
}

// checkArrived checks every unit is in the site under its name with the
// bundle's digest, or (for an index the bundle carries one platform of)
// with the platform manifest's digest and a warning.
func checkArrived(t *testing.T, s *site, r *bundle.Reader, units []unit, rep *Report) {
	t.Helper()
	for _, u := range units {
		d, err := remote.Head(u.ref, s.remoteOpts()...)
		if err != nil {
			t.Errorf("%s: %v", u.ref, err)
			continue
		}
		if d.Digest == u.desc.Digest {
			continue
		}
		raw, err := readManifest(r, u.desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		pm, _ := parseManifest(raw, u.desc.MediaType)
		carried := slices.ContainsFunc(pm.children, func(c v1.Descriptor) bool { return c.Digest == d.Digest })
		warned := slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, d.Digest.String()) })
		if !pm.isIndex() || !carried || !warned {
			t.Errorf("%s has digest %s, want %s (or its carried platform, with a warning)", u.ref, d.Digest, u.desc.Digest)
		}
	}
}

func mustUnits(t *testing.T, r *bundle.Reader, host string) []unit {
	t.Helper()
	units, err := listUnits(context.Background(), r, host, false)
	if err != nil {
		t.Fatal(err)
	}
	return units
}

func TestPushIntoTLSRegistryWithAuth(t *testing.T) {
	tb := getBundle(t)
	r := openBundle(t, tb.path)
	s := startSite(t)
	units := mustUnits(t, r, s.reg.Addr())
	want := expect(t, r, units)
	ctx := context.Background()

	rec := newRecorder(s)
	rep, err := Push(ctx, r, s.reg.Addr(), s.opts(WithTransport(rec))...)
	if err != nil {
		t.Fatalf("push: %v\n%+v", err, rep)
	}
	checkArrived(t, s, r, units, rep)
	if rep.Harbor {
		t.Error("docker-registry was taken for Harbor")
	}
	shared := sharedLayer(t, r, units, "library/app", "library/db")
	if rec.uploads[shared] != 1 || rec.mounts[shared] != 1 {
		t.Errorf("layer %s shared by library/app and library/db: uploaded %d times, mounted %d times; want once each",
			shared, rec.uploads[shared], rec.mounts[shared])
	}
	if rep.Images != len(units) || rep.ImagesPushed != len(units) || rep.ImagesFailed != 0 {
		t.Errorf("images: %d total, %d pushed, %d failed; want %d pushed", rep.Images, rep.ImagesPushed, rep.ImagesFailed, len(units))
	}
	if rep.BlobsUploaded != want.uploads || rep.BytesUploaded != want.bytes || rep.BlobsMounted != want.mounts {
		t.Errorf("uploaded %d blobs (%d bytes), mounted %d; want %d (%d bytes), %d",
			rep.BlobsUploaded, rep.BytesUploaded, rep.BlobsMounted, want.uploads, want.bytes, want.mounts)
	}
	if want.mounts == 0 {
		t.Fatal("the test bundle must share a layer across repositories (library/app and library/db do)")
	}
	checkReferrers(t, s, units)
	if !slices.ContainsFunc(units, func(u unit) bool { return strings.HasPrefix(u.source, "charts.local/") }) {
		t.Error("the test bundle has no Helm OCI chart")
	}
	first := siteState(t, s, units)

	again, err := Push(ctx, r, s.reg.Addr(), s.opts()...)
	if err != nil {
		t.Fatalf("second push: %v", err)
	}
	if again.BlobsUploaded != 0 || again.BytesUploaded != 0 || again.BlobsMounted != 0 || again.Manifests != 0 {
		t.Errorf("second push uploaded %d blobs (%d bytes), mounted %d, wrote %d manifests; want none",
			again.BlobsUploaded, again.BytesUploaded, again.BlobsMounted, again.Manifests)
	}
	if again.ImagesPresent != len(units) {
		t.Errorf("second push found %d of %d images present", again.ImagesPresent, len(units))
	}
	if got := siteState(t, s, units); !mapsEqual(got, first) {
		t.Errorf("the second push changed the registry:\n%v\nwas\n%v", got, first)
	}

	var js bytes.Buffer
	if err := again.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(js.Bytes(), &obj); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"images", "blobsUploaded", "bytesUploaded", "blobsSkipped", "blobsMounted", "manifests", "durationSeconds", "errors"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("JSON report lacks %q: %s", k, js.String())
		}
	}
}

// recorder counts, per digest, completed uploads and mounts.
type recorder struct {
	next            http.RoundTripper
	mu              sync.Mutex
	uploads, mounts map[string]int
}

func newRecorder(s *site) *recorder {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: s.roots}
	return &recorder{next: tr, uploads: map[string]int{}, mounts: map[string]int{}}
}

func (x *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := x.next.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/blobs/uploads/") {
		return resp, err
	}
	q := req.URL.Query()
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case req.Method == http.MethodPut && resp.StatusCode == http.StatusCreated:
		x.uploads[q.Get("digest")]++
	case req.Method == http.MethodPost && q.Get("mount") != "" && resp.StatusCode == http.StatusCreated:
		x.mounts[q.Get("mount")]++
	}
	return resp, err
}

// sharedLayer returns the layer the images of repositories a and b (their
// names end so) have in common.
func sharedLayer(t *testing.T, r *bundle.Reader, units []unit, a, b string) string {
	t.Helper()
	layers := func(suffix string) map[string]bool {
		for _, u := range units {
			if !strings.HasSuffix(u.ref.Context().RepositoryStr(), suffix) || u.late() {
				continue
			}
			raw, err := readManifest(r, u.desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			pm, err := parseManifest(raw, u.desc.MediaType)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]bool{}
			for _, l := range pm.blobs[1:] {
				out[l.Digest.String()] = true
			}
			return out
		}
		t.Fatalf("no image in %s", suffix)
		return nil
	}
	la, lb := layers(a), layers(b)
	for d := range la {
		if lb[d] {
			return d
		}
	}
	t.Fatalf("%s and %s share no layer", a, b)
	return ""
}

// checkReferrers checks that every referrer pushed by digest is found
// through the referrers API or its fallback tag, from its subject.
func checkReferrers(t *testing.T, s *site, units []unit) {
	t.Helper()
	found := 0
	for _, u := range units {
		if _, isTag := u.ref.(name.Tag); isTag {
			continue
		}
		subject := subjectOf(t, s, u.ref)
		if subject == "" {
			continue
		}
		idx, err := remote.Referrers(u.ref.Context().Digest(subject), s.remoteOpts()...)
		if err != nil {
			t.Fatalf("referrers of %s: %v", subject, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(im.Manifests, func(d v1.Descriptor) bool { return d.Digest == u.desc.Digest }) {
			t.Errorf("referrer %s is not listed among the referrers of %s", u.desc.Digest, subject)
		}
		found++
	}
	if found == 0 {
		t.Error("the test bundle has no referrer")
	}
}

// subjectOf returns the subject digest of the manifest at ref, or "".
func subjectOf(t *testing.T, s *site, ref name.Reference) string {
	t.Helper()
	d, err := remote.Get(ref, s.remoteOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Subject *v1.Descriptor `json:"subject"`
	}
	if err := json.Unmarshal(d.Manifest, &m); err != nil || m.Subject == nil {
		return ""
	}
	return m.Subject.Digest.String()
}

func TestCorruptBundleIsNeverPushedAsGood(t *testing.T) {
	tb := getBundle(t)
	b, err := os.ReadFile(tb.path)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the middle of the file, where the layers are.
	for i := len(b) * 2 / 5; i < len(b)*3/5; i += 4096 {
		b[i] ^= 0x5a
	}
	path := filepath.Join(t.TempDir(), "corrupt.bundle")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := openBundle(t, path)
	s := startSite(t)
	rep, err := Push(context.Background(), r, s.reg.Addr(), s.opts()...)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("push of a damaged bundle = %v, want ErrFailed", err)
	}
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "bundle verify") {
		t.Errorf("error does not say the bundle is damaged: %v", err)
	}
	if rep.ImagesFailed == 0 || !slices.ContainsFunc(rep.Errors, func(e string) bool { return strings.Contains(e, "corrupt") }) {
		t.Errorf("report does not name the damage: %+v", rep.Errors)
	}
	// Whatever arrived is exactly the bundle's: the registry holds no
	// image under a name with another digest.
	for _, u := range mustUnits(t, r, s.reg.Addr()) {
		d, err := remote.Head(u.ref, s.remoteOpts()...)
		if err == nil && d.Digest != u.desc.Digest && !u.desc.MediaType.IsIndex() {
			t.Errorf("%s arrived with digest %s, want %s", u.ref, d.Digest, u.desc.Digest)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// interrupter cancels a context after n completed blob uploads.
type interrupter struct {
	next   http.RoundTripper
	n      int64
	seen   atomic.Int64
	cancel context.CancelFunc
}

func (i *interrupter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := i.next.RoundTrip(req)
	if err == nil && req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/uploads/") && resp.StatusCode == http.StatusCreated {
		if i.seen.Add(1) == i.n {
			i.cancel()
		}
	}
	return resp, err
}

func TestInterruptedPushCompletesOnRerun(t *testing.T) {
	tb := getBundle(t)
	r := openBundle(t, tb.path)
	s := startSite(t)
	units := mustUnits(t, r, s.reg.Addr())
	want := expect(t, r, units)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: s.roots}
	stop := &interrupter{next: tr, n: 3, cancel: cancel}
	rep, err := Push(ctx, r, s.reg.Addr(), s.opts(WithTransport(stop), WithConcurrency(1, 1))...)
	if err == nil {
		t.Fatal("the interrupted push reported success")
	}
	if rep == nil || rep.BlobsUploaded < 3 || rep.BlobsUploaded >= want.uploads {
		t.Fatalf("interrupted push: %+v; want between 3 and %d uploads", rep, want.uploads)
	}

	rerun, err := Push(context.Background(), r, s.reg.Addr(), s.opts()...)
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	checkArrived(t, s, r, units, rerun)
	if total := rep.BlobsUploaded + rerun.BlobsUploaded; rerun.BlobsUploaded >= want.uploads || total < want.uploads {
		t.Errorf("rerun uploaded %d blobs after %d; want the %d missing ones only", rerun.BlobsUploaded, rep.BlobsUploaded, want.uploads-rep.BlobsUploaded)
	}
	if rerun.BlobsSkipped == 0 {
		t.Error("the rerun skipped no blob: it did not resume")
	}

	// The final state is the one an uninterrupted push gives.
	fresh := startSite(t)
	if _, err := Push(context.Background(), r, fresh.reg.Addr(), fresh.opts()...); err != nil {
		t.Fatal(err)
	}
	got := siteState(t, s, units)
	ref := siteState(t, fresh, mustUnits(t, r, fresh.reg.Addr()))
	if !mapsEqual(got, ref) {
		t.Errorf("after resuming:\n%v\nuninterrupted:\n%v", got, ref)
	}
}

func TestWrongPasswordIsRefusedAndNeverShown(t *testing.T) {
	tb := getBundle(t)
	r := openBundle(t, tb.path)
	s := startSite(t)
	const wrong = "Wr0ng-Pa55-do-not-print"
	var logs bytes.Buffer
	shared := lockedio.Writer(&logs) // the logger and the reporter write it at once
	opts := []Option{WithCAFile(s.caFile), WithBasicAuth(testUser, wrong), WithHarbor(HarborOff),
		WithLogger(slog.New(slog.NewTextHandler(shared, &slog.HandlerOptions{Level: slog.LevelDebug}))), WithProgress(shared, progress.Plain)}
	rep, err := Push(context.Background(), r, s.reg.Addr(), opts...)
	if err == nil {
		t.Fatal("push with a wrong password succeeded")
	}
	var out bytes.Buffer
	if rep != nil {
		rep.WriteJSON(&out)
		rep.WriteText(&out)
	}
	for _, text := range []string{err.Error(), logs.String(), out.String()} {
		if strings.Contains(text, wrong) {
			t.Errorf("the password appears in the output: %s", text)
		}
	}
	if !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
		t.Errorf("error does not say the registry refused the credentials: %v", err)
	}
}

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:5000", true}, {"localhost:5000", true}, {"[::1]:5000", true},
		{"10.0.0.5:5000", false}, {"harbor.site.local", false},
	} {
		err := checkTarget(tc.host, true)
		if (err == nil) != tc.ok {
			t.Errorf("checkTarget(%q, plain) = %v, want ok=%v", tc.host, err, tc.ok)
		}
	}
	for _, bad := range []string{"", "https://harbor", "harbor/project", "user@harbor"} {
		if err := checkTarget(bad, false); err == nil {
			t.Errorf("checkTarget(%q) accepted", bad)
		}
	}
}

func TestUntrustedCertificateSaysHowToFix(t *testing.T) {
	tb := getBundle(t)
	r := openBundle(t, tb.path)
	s := startSite(t)
	for _, harbor := range []HarborMode{HarborAuto, HarborOff} {
		_, err := Push(context.Background(), r, s.reg.Addr(), WithBasicAuth(testUser, testPass), WithHarbor(harbor))
		if err == nil || !strings.Contains(err.Error(), "--ca-file") {
			t.Errorf("harbor mode %d: push to an untrusted registry = %v, want a hint at --ca-file", harbor, err)
		}
	}
}

// TestPushDeltaWithBase pushes a delta bundle layered over its base (each
// holding half the blobs): every image arrives digest-identical, as from
// the whole bundle.
func TestPushDeltaWithBase(t *testing.T) {
	tb := getBundle(t)
	base, err := bundle.Open(tb.deltaBase)
	if err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Open(tb.delta, bundle.WithBase(base))
	if err != nil {
		base.Close()
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.Index().Artifacts) >= len(r.Artifacts()) {
		t.Fatalf("the delta lists %d artifacts, with its base %d: the base adds nothing", len(r.Index().Artifacts), len(r.Artifacts()))
	}
	s := startSite(t)
	units := mustUnits(t, r, s.reg.Addr())
	rep, err := Push(context.Background(), r, s.reg.Addr(), s.opts()...)
	if err != nil {
		t.Fatalf("push: %v\n%+v", err, rep)
	}
	checkArrived(t, s, r, units, rep)
}
