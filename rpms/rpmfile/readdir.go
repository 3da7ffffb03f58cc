package rpmfile

import (
	"errors"
	"io/fs"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/factory-appliance/appliance/rpms/rpm"
)

// ReadPackagesDir reads the header of every *.rpm under dir (recursively)
// with workers goroutines (default: the number of CPUs) and returns the
// packages with Location set to their path relative to dir, sorted by it.
func ReadPackagesDir(dir string, workers int) ([]*rpm.Package, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".rpm") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	pkgs := make([]*rpm.Package, len(paths))
	errs := make([]error, len(paths))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				pkgs[i], errs[i] = ReadPackageFile(paths[i])
				if errs[i] == nil {
					rel, _ := filepath.Rel(dir, paths[i])
					pkgs[i].Location = filepath.ToSlash(rel)
				}
			}
		}()
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	return pkgs, errors.Join(errs...)
}
