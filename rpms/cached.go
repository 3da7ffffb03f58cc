package rpms

import (
	"errors"
	"runtime"
	"sync"

	"github.com/factory-appliance/appliance/internal/cas"
)

// RepoPackages reads the headers of fetched packages back from the cache
// (every byte digest-checked while read) for GenerateRepodata: full file
// lists, changelogs and sha256 checksums, with Location set to
// "Packages/<name>-<version>-<release>.<arch>.rpm", the layout the bundle's
// repos/<id>/ uses. Headers are read in parallel; the result is in the order
// of fetched.
func RepoPackages(store *cas.Store, fetched []Fetched) ([]*Package, error) {
	pkgs := make([]*Package, len(fetched))
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

func readCached(store *cas.Store, digest, what string) (*Package, error) {
	rc, _, err := store.Open(digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	p, err := ReadPackage(rc, what)
	if err != nil {
		return nil, err
	}
	p.Location = "Packages/" + p.FileName()
	return p, nil
}
