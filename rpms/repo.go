package rpms

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/factory-appliance/appliance/rpms/repodata"
	"github.com/factory-appliance/appliance/rpms/rpm"
)

// DefaultPriority is a repository's priority when none is given, as in
// yum's priorities plugin. Lower numbers win.
const DefaultPriority = 99

// Repo is one upstream yum repository.
type Repo struct {
	ID       string
	BaseURL  string // http(s):// or file:// URL of the directory holding repodata/
	Priority int    // lower wins; 0 means DefaultPriority
	// Keys are the OpenPGP keys the repository's packages must be signed with.
	Keys openpgp.EntityList
	// InsecureSkipGPGCheck accepts unsigned packages (gpgcheck: false). It
	// is logged as a warning every time the repository is used.
	InsecureSkipGPGCheck bool
}

func (r Repo) priority() int {
	if r.Priority == 0 {
		return DefaultPriority
	}
	return r.Priority
}

// RepoData is a repository's metadata: every package of primary.xml, and a
// way to look paths up in filelists.xml on demand.
type RepoData struct {
	Repo     Repo
	Revision string
	Packages []*rpm.Package

	fetch     *Fetcher
	filelists *repodata.RepomdData
	byID      map[string]*rpm.Package
}

// LoadRepo reads repomd.xml and primary.xml of repo, verifying primary
// against repomd.xml's checksum. filelists.xml is read later, only if a
// file requirement is not found in primary (see FindFiles).
func LoadRepo(ctx context.Context, f *Fetcher, repo Repo) (*RepoData, error) {
	if repo.InsecureSkipGPGCheck {
		slog.Warn("repository packages will not be signature-checked (gpgcheck: false)", "repo", repo.ID)
	}
	md, err := readRepomd(ctx, f, repo.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", repo.ID, err)
	}
	primary := md.Find("primary")
	if primary == nil {
		return nil, fmt.Errorf("repo %s: repomd.xml lists no primary metadata", repo.ID)
	}
	rd := &RepoData{Repo: repo, Revision: md.Revision, fetch: f, filelists: md.Find("filelists"), byID: map[string]*rpm.Package{}}
	var pkgs []*rpm.Package
	err = openMetadata(ctx, f, repo.BaseURL, primary, func(r io.Reader) error {
		return repodata.ParsePrimary(r, func(p *rpm.Package) error {
			pkgs = append(pkgs, p)
			return ctx.Err()
		})
	})
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", repo.ID, err)
	}
	rd.Packages = pkgs
	for _, p := range pkgs {
		rd.byID[p.Checksum.Value] = p
	}
	return rd, nil
}

// FindFiles scans filelists.xml for the given paths and returns, for each
// path found, the packages that own it. The scan streams the file.
func (rd *RepoData) FindFiles(ctx context.Context, paths map[string]bool) (map[string][]*rpm.Package, error) {
	out := map[string][]*rpm.Package{}
	if rd.filelists == nil || len(paths) == 0 {
		return out, nil
	}
	err := openMetadata(ctx, rd.fetch, rd.Repo.BaseURL, rd.filelists, func(r io.Reader) error {
		return repodata.ParseFilelists(r, paths, func(pkgid, path string) {
			if p := rd.byID[pkgid]; p != nil {
				out[path] = append(out[path], p)
			}
		})
	})
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", rd.Repo.ID, err)
	}
	return out, nil
}

// URL is where the package's file is downloaded from.
func (rd *RepoData) URL(p *rpm.Package) (string, error) {
	base := rd.Repo.BaseURL
	if p.LocationBase != "" {
		base = p.LocationBase
	}
	return resolveURL(base, p.Location)
}
