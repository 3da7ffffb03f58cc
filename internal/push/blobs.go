package push

import (
	"context"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobTracker knows, for each blob this push has sent, a repository of the
// target that holds it, so later repositories mount it instead of receiving
// it again. go-containerregistry deduplicates within one repository only.
// Safe for concurrent use.
type blobTracker struct {
	mu sync.Mutex
	m  map[v1.Hash]*blobState
}

// blobState is one blob: done is closed once the first push of it ended;
// then repos lists the repositories known to hold it (empty if it failed).
type blobState struct {
	done  chan struct{}
	repos map[string]name.Repository
}

func newBlobTracker() *blobTracker { return &blobTracker{m: map[v1.Hash]*blobState{}} }

// send makes sure blob d is in repo, calling upload at most once at a time
// per blob across the whole push. The first caller for a blob uploads it
// with from == nil (the registry may still have it: upload checks first).
// Later callers wait for that, then call upload with from set to a
// repository that holds it, so the blob is mounted; a caller whose repo
// already holds it returns at once. If an upload fails, the next waiter
// tries again from scratch.
func (t *blobTracker) send(ctx context.Context, d v1.Hash, repo name.Repository, upload func(from *name.Repository) error) error {
	for {
		t.mu.Lock()
		st, ok := t.m[d]
		if !ok {
			st = &blobState{done: make(chan struct{}), repos: map[string]name.Repository{}}
			t.m[d] = st
			t.mu.Unlock()
			return t.first(d, st, repo, upload)
		}
		t.mu.Unlock()
		select {
		case <-st.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		from, held, ok := t.source(st, repo)
		switch {
		case held:
			return nil
		case !ok:
			continue // the first upload failed and was forgotten: try again
		}
		if err := upload(&from); err != nil {
			return err
		}
		t.mu.Lock()
		st.repos[repo.String()] = repo
		t.mu.Unlock()
		return nil
	}
}

func (t *blobTracker) first(d v1.Hash, st *blobState, repo name.Repository, upload func(*name.Repository) error) error {
	err := upload(nil)
	t.mu.Lock()
	if err == nil {
		st.repos[repo.String()] = repo
	} else {
		delete(t.m, d)
	}
	t.mu.Unlock()
	close(st.done)
	return err
}

// source returns a repository holding the blob (ok=false when none), and
// whether repo itself holds it.
func (t *blobTracker) source(st *blobState, repo name.Repository) (from name.Repository, held, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, held := st.repos[repo.String()]; held {
		return repo, true, true
	}
	// The first by name, so that the same push mounts from the same place.
	for _, r := range st.repos {
		if !ok || r.String() < from.String() {
			from, ok = r, true
		}
	}
	return from, false, ok
}
