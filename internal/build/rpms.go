package build

import (
	"context"

	"github.com/factory-appliance/appliance/internal/build/rpmrepo"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// rpmOptions are the build's settings for its yum repository: the same
// transport and insecure hosts as every other fetch, the lock for a
// locked build.
func (b *builder) rpmOptions() rpmrepo.Options {
	var locked *lock.Lock
	if b.o.Locked {
		locked = b.o.Lock
	}
	return rpmrepo.Options{
		Stack: b.o.Stack, Cache: b.cache, Transport: b.transport(), Insecure: b.insecureHosts(),
		Locked: locked, Parallel: b.concurrency(), Progress: b.prog,
	}
}

// fetchRPMs makes the bundle's one yum repository (rpmrepo.Fetch): the
// closure of the requested packages, the local rpmFiles, repodata and keys.
func (b *builder) fetchRPMs(ctx context.Context) error {
	repo, err := rpmrepo.Fetch(ctx, b.rpmOptions())
	if err != nil {
		return err
	}
	b.rpms = repo
	return nil
}

// rpmEntries are the files of the yum repository, for the writer: the
// packages read from the cache, keys and repodata from memory.
func (b *builder) rpmEntries() []entry {
	if b.rpms == nil {
		return nil
	}
	es := make([]entry, 0, len(b.rpms.Files))
	for _, f := range b.rpms.Files {
		if f.Digest == "" {
			es = append(es, memEntry(f.Path, f.Kind, f.Name, f.Data))
			continue
		}
		es = append(es, entry{
			path: f.Path, kind: f.Kind, name: f.Name, component: f.Component,
			size: f.Size, annotations: f.Annotations, digest: f.Digest, open: b.cachedOpener(f.Digest),
		})
	}
	return es
}
