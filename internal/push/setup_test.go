package push

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/fixture"
	"github.com/factory-appliance/appliance/internal/signing"
)

// The test bundle: the fixture's demo images under two source registries,
// a cosign-style signature tag on one, and an OCI 1.1 referrer on another.
const (
	factoryReg = "registry.factory.example"
	testUser   = "pusher"
	testPass   = "s3cret-Pa55word-never-logged"
	keyPass    = "key-password"
)

// sourceNames maps the demo repositories to the names the bundle carries.
var sourceNames = map[string]string{
	"library/app":   factoryReg + "/library/app:1.0",
	"library/db":    factoryReg + "/library/db:1.0",
	"library/multi": "docker.io/library/multi:1.0",
	"library/logs":  "docker.io/library/logs:1.0",
	"library/web":   factoryReg + "/library/web:1.0",
	"demo":          "charts.local/demo:1.0.0", // a Helm OCI chart
}

// testBundle is a signed bundle file built once per test binary.
type testBundle struct {
	path     string // signed
	unsigned string
	pub      string // the signing key's public key file
	otherPub string // another key's public key
	// deltaBase holds half the image blobs; delta the other half, as a
	// delta bundle against deltaBase (both unsigned).
	deltaBase, delta string
}

var (
	bundleOnce   sync.Once
	sharedBundle *testBundle
	bundleErr    error
	bundleDir    string
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(killHelperEnv); spec != "" {
		os.Exit(runKillHelper(spec))
	}
	code := m.Run()
	if bundleDir != "" {
		os.RemoveAll(bundleDir)
	}
	os.Exit(code)
}

func getBundle(t *testing.T) *testBundle {
	t.Helper()
	bundleOnce.Do(func() { sharedBundle, bundleErr = buildBundle() })
	if bundleErr != nil {
		t.Fatalf("building the test bundle: %v", bundleErr)
	}
	return sharedBundle
}

func openBundle(t *testing.T, path string) *bundle.Reader {
	t.Helper()
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// buildBundle pushes the demo set (plus a signature and a referrer) into
// a docker-registry, pulls it with images.Puller into a cache, and writes
// it with the bundle writer, signed and unsigned.
func buildBundle() (*testBundle, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var err error
	if bundleDir, err = os.MkdirTemp("", "push-bundle-*"); err != nil {
		return nil, err
	}
	src, err := fixture.StartRegistry(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w (install the Debian package docker-registry)", err)
	}
	defer src.Close()
	pushed, err := fixture.PushDemoSet(ctx, src.Addr())
	if err != nil {
		return nil, err
	}
	if err := addSignatureAndReferrer(src.Addr(), pushed); err != nil {
		return nil, err
	}
	chart, err := addChart(src.Addr())
	if err != nil {
		return nil, err
	}
	pushed = append(pushed, chart)
	imgs, err := pullAll(ctx, src.Addr(), pushed)
	if err != nil {
		return nil, err
	}
	return writeBundles(imgs)
}

// addSignatureAndReferrer gives library/app a cosign-style signature tag and
// library/db an OCI 1.1 referrer (stored under the fallback tag, since
// docker-registry has no referrers API).
func addSignatureAndReferrer(addr string, pushed []fixture.Pushed) error {
	byRepo := map[string]fixture.Pushed{}
	for _, p := range pushed {
		byRepo[p.Repo] = p
	}
	app := byRepo["library/app"]
	sig, err := random.Image(512, 1)
	if err != nil {
		return err
	}
	sigTag, err := name.NewTag(addr + "/library/app:" + strings.Replace(app.Digest, ":", "-", 1) + ".sig")
	if err != nil {
		return err
	}
	if err := remote.Write(sigTag, sig); err != nil {
		return err
	}
	db := byRepo["library/db"]
	h, err := v1.NewHash(db.Digest)
	if err != nil {
		return err
	}
	sbom, err := random.Image(300, 1)
	if err != nil {
		return err
	}
	sbom = mutate.MediaType(sbom, types.OCIManifestSchema1)
	sbom = mutate.ConfigMediaType(sbom, "application/vnd.example.sbom.v1+json")
	sbom = mutate.Subject(sbom, v1.Descriptor{MediaType: types.MediaType(db.MediaType), Digest: h, Size: manifestSize(addr, db)}).(v1.Image)
	d, err := sbom.Digest()
	if err != nil {
		return err
	}
	ref, err := name.NewDigest(addr + "/library/db@" + d.String())
	if err != nil {
		return err
	}
	return remote.Write(ref, sbom)
}

// addChart pushes a Helm OCI chart (Helm's config and content media types)
// as demo:1.0.0.
func addChart(addr string) (fixture.Pushed, error) {
	layer := static.NewLayer([]byte("not really a chart tarball, but bytes with a digest\n"), "application/vnd.cncf.helm.chart.content.v1.tar+gzip")
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer})
	if err != nil {
		return fixture.Pushed{}, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, "application/vnd.cncf.helm.config.v1+json")
	ref, err := name.NewTag(addr + "/demo:1.0.0")
	if err != nil {
		return fixture.Pushed{}, err
	}
	if err := remote.Write(ref, img); err != nil {
		return fixture.Pushed{}, err
	}
	d, err := img.Digest()
	return fixture.Pushed{Repo: "demo", Tag: "1.0.0", Digest: d.String(), MediaType: string(types.OCIManifestSchema1)}, err
}

func manifestSize(addr string, p fixture.Pushed) int64 {
	d, err := remote.Head(mustRef(addr + "/" + p.Repo + "@" + p.Digest))
	if err != nil {
		return 0
	}
	return d.Size
}

func mustRef(s string) name.Reference {
	r, err := name.ParseReference(s)
	if err != nil {
		panic(err)
	}
	return r
}

func pullAll(ctx context.Context, addr string, pushed []fixture.Pushed) ([]*images.Image, error) {
	store, err := cas.Open(filepath.Join(bundleDir, "cas"))
	if err != nil {
		return nil, err
	}
	p, err := images.NewPuller(store, images.WithMirror(factoryReg, addr), images.WithMirror("docker.io", addr), images.WithMirror("charts.local", addr),
		images.WithSignatures(true))
	if err != nil {
		return nil, err
	}
	var reqs []images.Request
	for _, x := range pushed {
		reqs = append(reqs, images.Request{Ref: sourceNames[x.Repo]})
	}
	imgs, err := p.PullAll(ctx, reqs)
	if err != nil {
		return nil, err
	}
	return imgs, nil
}

func writeBundles(imgs []*images.Image) (*testBundle, error) {
	store, err := cas.Open(filepath.Join(bundleDir, "cas"))
	if err != nil {
		return nil, err
	}
	ociLayout, indexJSON, blobs, err := images.Layout(imgs)
	if err != nil {
		return nil, err
	}
	priv, pub, err := signing.GenerateKeyPair([]byte(keyPass))
	if err != nil {
		return nil, err
	}
	_, otherPub, err := signing.GenerateKeyPair([]byte(keyPass))
	if err != nil {
		return nil, err
	}
	signer, err := signing.ParseSigner("test key", priv, func() ([]byte, error) { return []byte(keyPass), nil })
	if err != nil {
		return nil, err
	}
	tb := &testBundle{
		path: filepath.Join(bundleDir, "signed.bundle"), unsigned: filepath.Join(bundleDir, "unsigned.bundle"),
		pub: filepath.Join(bundleDir, "cosign.pub"), otherPub: filepath.Join(bundleDir, "other.pub"),
	}
	for path, b := range map[string][]byte{tb.pub: pub, tb.otherPub: otherPub} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return nil, err
		}
	}
	if err := writeBundle(tb.path, store, imgs, ociLayout, indexJSON, blobs, signer); err != nil {
		return nil, err
	}
	tb.deltaBase, tb.delta = filepath.Join(bundleDir, "base.bundle"), filepath.Join(bundleDir, "delta.bundle")
	half := len(blobs) / 2
	if err := writeBundle(tb.deltaBase, store, imgs, ociLayout, indexJSON, blobs[:half], nil); err != nil {
		return nil, err
	}
	br, err := bundle.Open(tb.deltaBase)
	if err != nil {
		return nil, err
	}
	ref := br.BaseRef()
	br.Close()
	if err := writeBundleBase(tb.delta, store, imgs, ociLayout, indexJSON, blobs[half:], nil, ref); err != nil {
		return nil, err
	}
	return tb, writeBundle(tb.unsigned, store, imgs, ociLayout, indexJSON, blobs, nil)
}

// writeBundle writes the layout in path order (blobs/, index.json,
// oci-layout), streaming blobs from the cache.
func writeBundle(path string, store *cas.Store, imgs []*images.Image, ociLayout, indexJSON []byte, blobs []images.Blob, signer *signing.Signer) error {
	return writeBundleBase(path, store, imgs, ociLayout, indexJSON, blobs, signer, nil)
}

// writeBundleBase is writeBundle for a delta bundle when base is not nil.
func writeBundleBase(path string, store *cas.Store, imgs []*images.Image, ociLayout, indexJSON []byte, blobs []images.Blob, signer *signing.Signer, base *bundle.BaseRef) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bundle.NewWriter(f)
	defer w.Abort()
	x := &bundle.Index{SchemaVersion: bundle.SchemaVersion, Name: "push-test", Version: "1.0", Platform: images.DefaultPlatform, Base: base}
	for _, b := range blobs {
		rc, size, err := store.Open(b.Digest)
		if err != nil {
			return err
		}
		e, err := w.Add("blobs/sha256/"+strings.TrimPrefix(b.Digest, "sha256:"), size, rc)
		rc.Close()
		if err != nil {
			return err
		}
		kind := bundle.KindBlob
		if types.MediaType(b.MediaType).IsImage() || types.MediaType(b.MediaType).IsIndex() {
			kind = bundle.KindManifest
		}
		a := e.Artifact(kind, b.Digest)
		a.MediaType = b.MediaType
		x.Artifacts = append(x.Artifacts, a)
	}
	for _, e := range []struct {
		path string
		data []byte
	}{{bundle.OCIIndexName, indexJSON}, {bundle.OCILayoutName, ociLayout}} {
		got, err := w.Add(e.path, int64(len(e.data)), bytes.NewReader(e.data))
		if err != nil {
			return err
		}
		x.Artifacts = append(x.Artifacts, got.Artifact(bundle.KindLayout, e.path))
	}
	for _, img := range imgs {
		x.Images = append(x.Images, bundle.Image{Ref: img.Ref, Name: img.Name, Digest: img.Digest, MediaType: img.MediaType, Platform: img.Platform})
	}
	index, err := x.Marshal()
	if err != nil {
		return err
	}
	var sig []byte
	if signer != nil {
		if sig, err = signer.SignBlob(index); err != nil {
			return err
		}
	}
	if err := w.Finish(index, sig); err != nil {
		return err
	}
	return f.Close()
}

// site is a target registry: Debian's docker-registry with TLS from a CA
// made here and htpasswd auth.
type site struct {
	reg    *fixture.Registry
	caFile string
	roots  *x509.CertPool
}

func startSite(t *testing.T) *site {
	t.Helper()
	caPEM, certPEM, keyPEM := makeCerts(t)
	reg, err := fixture.StartRegistry(context.Background(), fixture.WithTLS(certPEM, keyPEM), fixture.WithHtpasswd(testUser, testPass))
	if err != nil {
		t.Fatalf("%v (install the Debian package docker-registry)", err)
	}
	t.Cleanup(func() { reg.Close() })
	s := &site{reg: reg, caFile: filepath.Join(t.TempDir(), "ca.crt"), roots: x509.NewCertPool()}
	if err := os.WriteFile(s.caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	s.roots.AppendCertsFromPEM(caPEM)
	return s
}

func (s *site) opts(extra ...Option) []Option {
	// HarborAuto: docker-registry must be recognised as not Harbor.
	return append([]Option{WithCAFile(s.caFile), WithBasicAuth(testUser, testPass)}, extra...)
}

// remoteOpts are the options of an independent client checking the site.
func (s *site) remoteOpts() []remote.Option {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots}}
	return []remote.Option{remote.WithTransport(tr), remote.WithAuth(&authn.Basic{Username: testUser, Password: testPass})}
}

// makeCerts returns a CA certificate and a server certificate and key for
// 127.0.0.1 signed by it, in PEM.
func makeCerts(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "push test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
