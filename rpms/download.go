package rpms

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/factory-appliance/appliance/internal/atomicfile"
	"github.com/factory-appliance/appliance/internal/cas"

	"github.com/factory-appliance/appliance/internal/fetch"
	"github.com/factory-appliance/appliance/rpms/repodata"
	"github.com/factory-appliance/appliance/rpms/rpm"
	"github.com/factory-appliance/appliance/rpms/rpmfile"
)

// Fetched is a closure package stored in the content cache.
type Fetched struct {
	Resolved
	Digest string // "sha256:<hex>" of the .rpm file: its name in the cache
}

// DownloadOptions tunes Download.
type DownloadOptions struct {
	Parallel int // concurrent downloads; default 4
}

// Download fetches every package of set into store, at most
// opts.Parallel at a time, and verifies each: the bytes against the
// checksum in the repository's primary.xml while they stream, then the
// package's OpenPGP signatures against the repository's keys (unless the
// repository has InsecureSkipGPGCheck), and that the header names the same
// NEVRA as the metadata. Packages already in the cache are not downloaded
// again but are verified again.
//
// The cache is keyed by sha256. For a repository whose metadata uses
// another checksum (sha1, sha512), the file is downloaded to a temporary
// file while both that checksum and sha256 are computed, checked against
// the metadata, and then stored under its sha256; the pairing is remembered
// in <cache>/rpm-checksums/<type>/<hex> so the next run finds the package in
// the cache. Every failing package is reported, joined.
func Download(ctx context.Context, f *Fetcher, store *cas.Store, repos []*RepoData, set []Resolved, opts DownloadOptions) ([]Fetched, error) {
	n := opts.Parallel
	if n <= 0 {
		n = 4
	}
	byID := map[string]*RepoData{}
	for _, rd := range repos {
		if len(rd.Repo.Keys) == 0 && !rd.Repo.InsecureSkipGPGCheck {
			return nil, fmt.Errorf("repo %s has no gpgkey to check its packages with; add its gpgkey, or set gpgcheck: false (insecure)", rd.Repo.ID)
		}
		byID[rd.Repo.ID] = rd
	}
	out := make([]Fetched, len(set))
	errs := make([]error, len(set))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range set {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = fetchOne(ctx, f, store, byID[set[i].Repo], set[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func fetchOne(ctx context.Context, f *Fetcher, store *cas.Store, rd *RepoData, res Resolved) (Fetched, error) {
	what := fmt.Sprintf("package %s from repo %s", res.NEVRA(), res.Repo)
	if rd == nil {
		return Fetched{}, fmt.Errorf("%s: unknown repository", what)
	}
	u, err := rd.URL(res.Package)
	if err != nil {
		return Fetched{}, fmt.Errorf("%s: %w", what, err)
	}
	retry := fetch.Default
	retry.OnRetry = func(attempt int, err error) {
		slog.Warn("download failed, retrying", "attempt", attempt, "err", err)
	}
	var digest string
	err = retry.Do(ctx, func() (err error) {
		if res.Checksum.Type == "sha256" {
			digest, err = fetchSHA256(ctx, f, store, u, what, res.Package)
		} else {
			digest, err = fetchOther(ctx, f, store, u, what, res.Package)
		}
		return err
	})
	if err != nil {
		return Fetched{}, err
	}
	if err := checkStored(store, digest, rd.Repo, res); err != nil {
		return Fetched{}, err
	}
	return Fetched{Resolved: res, Digest: digest}, nil
}

func fetchSHA256(ctx context.Context, f *Fetcher, store *cas.Store, u, what string, p *rpm.Package) (string, error) {
	digest := "sha256:" + p.Checksum.Value
	if _, ok := store.Has(digest); ok {
		return digest, nil
	}
	rc, err := f.Open(ctx, u)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	defer rc.Close()
	if err := store.Put(what, digest, sizeOrUnknown(p), rc); err != nil {
		return "", fmt.Errorf("%w; the mirror serves a different file than its metadata lists: refresh the mirror or remove the package", err)
	}
	return digest, nil
}

func sizeOrUnknown(p *rpm.Package) int64 {
	if p.PackageSize > 0 {
		return p.PackageSize
	}
	return -1
}

// fetchOther downloads a package whose metadata checksum is not sha256.
func fetchOther(ctx context.Context, f *Fetcher, store *cas.Store, u, what string, p *rpm.Package) (string, error) {
	h, err := repodata.NewChecksumHash(p.Checksum.Type)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	alias := filepath.Join(store.Dir(), "rpm-checksums", p.Checksum.Type, p.Checksum.Value)
	if d, err := os.ReadFile(alias); err == nil {
		if _, ok := store.Has(string(d)); ok {
			return string(d), nil
		}
	}
	rc, err := f.Open(ctx, u)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "rpm-download-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	s256 := newSHA256()
	if _, err := io.Copy(io.MultiWriter(tmp, h, s256), rc); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.Checksum.Value {
		return "", &cas.DigestError{What: what, Expected: p.Checksum.String(), Actual: p.Checksum.Type + ":" + got}
	}
	digest := "sha256:" + hex.EncodeToString(s256.Sum(nil))
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	if err := store.Put(what, digest, -1, tmp); err != nil {
		return "", err
	}
	rememberAlias(alias, digest)
	return digest, nil
}

// rememberAlias records which sha256 a non-sha256 checksum maps to. It is
// only a hint: failures are ignored, and the signature and NEVRA of a
// package found through it are checked as for any other.
func rememberAlias(path, digest string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return
	}
	_ = atomicfile.Write(path, []byte(digest), 0o644)
}

// checkStored verifies the cached package's signatures and header.
func checkStored(store *cas.Store, digest string, repo Repo, res Resolved) error {
	rc, _, err := store.Open(digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	var got *rpm.Package
	if repo.InsecureSkipGPGCheck {
		slog.Warn("not checking the package signature (gpgcheck: false)", "package", res.NEVRA(), "repo", repo.ID)
		got, err = rpmfile.ReadPackage(rc, res.NEVRA())
	} else {
		got, err = rpmfile.VerifyPackage(rc, res.NEVRA(), repo.Keys)
	}
	var se *rpmfile.SignatureError
	if errors.As(err, &se) {
		se.Repo = repo.ID
	}
	if err != nil {
		return err
	}
	if got.NEVRA() != res.NEVRA() {
		return fmt.Errorf("package %s from repo %s: the file's header says %s; the repository metadata is wrong", res.NEVRA(), repo.ID, got.NEVRA())
	}
	return nil
}

// LocalFile is an RPM file given directly (a component's rpmFiles).
type LocalFile struct {
	Path string
	// Keys the file must be signed with: the component's gpgkey when it has
	// one, otherwise the keys of all repositories (the build pipeline decides).
	Keys                 openpgp.EntityList
	InsecureSkipGPGCheck bool
}

// AddLocal verifies a local RPM file like Download verifies repository
// packages (signature against lf.Keys, header structure, payload digest)
// and stores it in the cache. It returns the package and its digest.
func AddLocal(store *cas.Store, lf LocalFile) (*rpm.Package, string, error) {
	fh, err := os.Open(lf.Path)
	if err != nil {
		return nil, "", fmt.Errorf("rpmFiles: %w", err)
	}
	defer fh.Close()
	var p *rpm.Package
	if lf.InsecureSkipGPGCheck {
		slog.Warn("not checking the package signature (gpgcheck: false)", "file", lf.Path)
		p, err = rpmfile.ReadPackage(fh, lf.Path)
	} else {
		p, err = rpmfile.VerifyPackage(fh, lf.Path, lf.Keys)
	}
	if err != nil {
		return nil, "", err
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return nil, "", err
	}
	digest := "sha256:" + p.Checksum.Value
	if err := store.Put(lf.Path, digest, p.PackageSize, fh); err != nil {
		return nil, "", err
	}
	return p, digest, nil
}

func newSHA256() hash.Hash { h, _ := repodata.NewChecksumHash("sha256"); return h }
