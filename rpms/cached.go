package rpms

import (
	"errors"
	"runtime"
	"sync"

	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/rpms/rpm"
	"github.com/factory-appliance/appliance/rpms/rpmfile"
)

// RepoPackages reads the headers of fetched packages back from the cache
// (every byte digest-checked while read) for repodata.Generate: full file
// lists, changelogs and sha256 checksums, with Location set to
// "Packages/<name>-<version>-<release>.<arch>.rpm", the layout the bundle's
// repos/<id>/ uses. Headers are read in parallel; the result is in the order
// of fetched.
func RepoPackages(store *cas.Store, fetched []Fetched) ([]*rpm.Package, error) {
	pkgs := make([]*rpm.Package, len(fetched))
	errs := make([]error, len(fetched))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, f := range fetched {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			pkgs[i], errs[i] = readCached(store, f.Digest, f.NEVRA())
		}()
	}
	wg.Wait()
	return pkgs, errors.Join(errs...)
}

func readCached(store *cas.Store, digest, what string) (*rpm.Package, error) {
	rc, _, err := store.Open(digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	p, err := rpmfile.ReadPackage(rc, what)
	if err != nil {
		return nil, err
	}
	p.Location = "Packages/" + p.FileName()
	return p, nil
}
