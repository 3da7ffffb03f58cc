package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/fetch"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
	"github.com/factory-appliance/appliance/rpms"
	"github.com/factory-appliance/appliance/rpms/repodata"
	"github.com/factory-appliance/appliance/rpms/rpm"
	"github.com/factory-appliance/appliance/rpms/rpmfile"
)

// rpmSet is what the RPM step leaves for the writer: the bundle's yum
// repository, its packages, its repodata and the keys that signed them.
type rpmSet struct {
	id       string
	entries  []entry
	resolved []rpms.Fetched
	names    map[string]string // a requested spec or rpmFiles path → package name
}

// RepoID is the id of the one yum repository a bundle carries for its
// platform: repos/<id>/ in the bundle and on the site server.
func RepoID(s *manifest.Stack) string {
	arch := s.Spec.Platform.Architecture
	if arch == "amd64" {
		arch = "x86_64"
	}
	return s.Metadata.Name + "-" + arch
}

// rpmPlan is the resolved closure, before anything is downloaded.
type rpmPlan struct {
	fetcher  *rpms.Fetcher
	repos    []*rpms.RepoData
	keyFiles func(id string) []entry
	resolved []rpms.Resolved
}

// resolveRPMs reads the manifest's repositories and resolves the dependency
// closure of the requested packages. It downloads only metadata and keys.
// It returns nil when the stack asks for no RPM.
func (b *builder) resolveRPMs(ctx context.Context) (*rpmPlan, error) {
	s := b.o.Stack
	if len(s.RPMs()) == 0 && !hasRPMFiles(s) {
		return nil, nil
	}
	p := &rpmPlan{fetcher: &rpms.Fetcher{Client: &http.Client{Transport: b.transport()}, Insecure: fetch.NewInsecureHosts(b.insecureHosts()...)}}
	var err error
	if p.repos, p.keyFiles, err = b.loadRPMRepos(ctx, p.fetcher); err != nil {
		return nil, err
	}
	base, err := s.ReadRPMBase()
	if err != nil {
		return nil, err
	}
	var requests []string
	for _, r := range s.RPMs() {
		requests = append(requests, r.Spec)
	}
	if len(requests) > 0 {
		if p.resolved, err = rpms.Resolve(ctx, p.repos, requests, rpms.ResolveOptions{Base: rpms.NewBaseSet(base...)}); err != nil {
			return nil, err
		}
	}
	b.prog.Logf("rpm closure: %d packages requested, %d in the closure", len(requests), len(p.resolved))
	return p, nil
}

// fetchRPMs downloads the closure through the cache (checksums and
// signatures checked), adds the local rpmFiles, and generates the repodata
// of the bundle's one repository.
func (b *builder) fetchRPMs(ctx context.Context) error {
	p, err := b.resolveRPMs(ctx)
	if err != nil || p == nil {
		return err
	}
	if err := b.checkRPMLock(p.resolved); err != nil {
		return err
	}
	fetched, err := rpms.Download(ctx, p.fetcher, b.cache, p.repos, p.resolved, rpms.DownloadOptions{Parallel: b.concurrency()})
	if err != nil {
		return err
	}
	pkgs, err := rpms.RepoPackages(b.cache, fetched)
	if err != nil {
		return err
	}
	set := &rpmSet{id: RepoID(b.o.Stack), resolved: fetched, names: specNames(b.o.Stack.RPMs(), fetched)}
	for i, f := range fetched {
		set.entries = append(set.entries, b.rpmEntry(set.id, pkgs[i], f.Digest, rpmAnnotations(f.Resolved)))
	}
	locals, err := b.localRPMs(set.id, allKeys(p.repos))
	if err != nil {
		return err
	}
	set.entries = append(set.entries, locals.entries...)
	maps.Copy(set.names, locals.names)
	pkgs = append(pkgs, locals.pkgs...)
	if err := set.addRepodata(pkgs); err != nil {
		return err
	}
	set.entries = append(set.entries, p.keyFiles(set.id)...)
	b.rpms = set
	return nil
}

func hasRPMFiles(s *manifest.Stack) bool {
	for _, c := range s.Spec.Components {
		if len(c.RPMFiles) > 0 {
			return true
		}
	}
	return false
}

// loadRPMRepos reads each upstream repository's metadata and keys. It
// returns, for the bundle, a function giving the key files under an id.
func (b *builder) loadRPMRepos(ctx context.Context, f *rpms.Fetcher) ([]*rpms.RepoData, func(id string) []entry, error) {
	var repos []*rpms.RepoData
	var keys []entry
	for _, r := range b.o.Stack.Spec.RPMRepos {
		list, raw, err := b.loadRepoKeys(ctx, f, r)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, raw...)
		rd, err := rpms.LoadRepo(ctx, f, rpms.Repo{ID: r.ID, BaseURL: r.BaseURL, Keys: list, InsecureSkipGPGCheck: !r.GPGCheck})
		if err != nil {
			return nil, nil, fmt.Errorf("%s: rpm repo %s: %w", r.Pos, r.ID, err)
		}
		repos = append(repos, rd)
	}
	keyFiles := func(id string) []entry {
		out := make([]entry, len(keys))
		for i, k := range keys {
			k.path = path.Join("repos", id, k.path)
			out[i] = k
		}
		return out
	}
	return repos, keyFiles, nil
}

// loadRepoKeys reads a repository's GPG keys (manifest paths or URLs) and
// keeps their bytes, so the bundle can carry them as keys/RPM-GPG-KEY-<id>-N.
func (b *builder) loadRepoKeys(ctx context.Context, f *rpms.Fetcher, r manifest.RPMRepo) (openpgp.EntityList, []entry, error) {
	var list openpgp.EntityList
	var es []entry
	for i, ref := range r.GPGKeys {
		data, err := b.readKeyRef(ctx, f, ref)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: rpm repo %s: gpg key %s: %w", r.Pos, r.ID, ref, err)
		}
		ents, err := rpmfile.ReadKeys(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: rpm repo %s: gpg key %s: %w", r.Pos, r.ID, ref, err)
		}
		list = append(list, ents...)
		name := fmt.Sprintf("keys/RPM-GPG-KEY-%s-%d", r.ID, i+1)
		es = append(es, memEntry(name, bundle.KindKey, "gpg key of rpm repo "+r.ID, data))
	}
	return list, es, nil
}

func (b *builder) readKeyRef(ctx context.Context, f *rpms.Fetcher, ref string) ([]byte, error) {
	var rc io.ReadCloser
	var err error
	if strings.Contains(ref, "://") {
		rc, err = f.Open(ctx, ref)
	} else {
		rc, err = b.o.Stack.Open(ref)
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 1<<20))
}

func allKeys(repos []*rpms.RepoData) openpgp.EntityList {
	var all openpgp.EntityList
	for _, r := range repos {
		all = append(all, r.Repo.Keys...)
	}
	return all
}

// checkRPMLock, for a locked build, refuses a closure that differs from the
// lock's: another package chosen, or the same one with other bytes.
func (b *builder) checkRPMLock(resolved []rpms.Resolved) error {
	if !b.o.Locked {
		return nil
	}
	var drifts []lock.Drift
	for _, r := range resolved {
		want, ok := b.o.Lock.RPMs[r.Name]
		got := r.NEVRA() + " " + r.Checksum.Type + ":" + r.Checksum.Value
		if !ok || want.NEVRA+" "+want.Checksum != got {
			drifts = append(drifts, lock.Drift{Kind: lock.KindRPM, Name: r.Name, Locked: want.NEVRA + " " + want.Checksum, Upstream: got})
		}
	}
	if len(drifts) > 0 {
		return &lock.DriftError{Drifts: drifts}
	}
	return nil
}

func rpmAnnotations(r rpms.Resolved) map[string]string {
	a := map[string]string{bundle.AnnotationRPMNEVRA: r.NEVRA(), bundle.AnnotationRPMRepo: r.Repo}
	if r.Requested {
		a[bundle.AnnotationRPMRequested] = "true"
	} else {
		a[bundle.AnnotationRPMBy] = r.By
		a[bundle.AnnotationRPMNeed] = r.Need
	}
	return a
}

func (b *builder) rpmEntry(id string, p *rpm.Package, digest string, ann map[string]string) entry {
	loc := p.Location
	if loc == "" {
		loc = "Packages/" + p.FileName()
	}
	return entry{
		path: path.Join("repos", id, loc), kind: bundle.KindRPM, name: p.NEVRA(),
		size: p.PackageSize, annotations: ann, digest: digest, open: b.cachedOpener(digest),
	}
}

// localSet is the rpmFiles of every component.
type localSet struct {
	entries []entry
	pkgs    []*rpm.Package
	names   map[string]string // rpmFiles path → package name
}

// localRPMs checks each component's rpmFiles against the repositories'
// keys and stores them in the cache.
func (b *builder) localRPMs(id string, keys openpgp.EntityList) (*localSet, error) {
	out := &localSet{names: map[string]string{}}
	var errs []error
	for _, c := range b.o.Stack.Spec.Components {
		for _, ref := range c.RPMFiles {
			p, digest, err := b.addLocalRPM(ref, keys)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: rpmFiles %s: %w", ref.Pos, ref.Path, err))
				continue
			}
			p.Location = "Packages/" + p.FileName()
			ann := map[string]string{bundle.AnnotationRPMNEVRA: p.NEVRA(), bundle.AnnotationRPMRequested: "true", bundle.AnnotationRPMFile: ref.Path}
			e := b.rpmEntry(id, p, digest, ann)
			e.component = c.Name
			out.names[ref.Path] = p.Name
			out.entries = append(out.entries, e)
			out.pkgs = append(out.pkgs, p)
		}
	}
	return out, errors.Join(errs...)
}

// addLocalRPM copies a manifest-relative RPM (which may live in the
// binary's embedded stacks) to a temporary file for rpms.AddLocal.
func (b *builder) addLocalRPM(ref manifest.PathRef, keys openpgp.EntityList) (*rpm.Package, string, error) {
	src, err := b.o.Stack.Open(ref.Path)
	if err != nil {
		return nil, "", err
	}
	defer src.Close()
	tmp, err := os.CreateTemp("", "rpmfile-*.rpm")
	if err != nil {
		return nil, "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, src); err != nil {
		return nil, "", err
	}
	return rpms.AddLocal(b.cache, rpms.LocalFile{Path: tmp.Name(), Keys: keys})
}

// addRepodata generates the repository's metadata (a few MiB at most,
// kept in memory) and adds it as entries.
func (s *rpmSet) addRepodata(pkgs []*rpm.Package) error {
	return repodata.Generate(pkgs, func(name string, size int64, r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		s.entries = append(s.entries, memEntry(path.Join("repos", s.id, name), bundle.KindRepodata, name, data))
		return nil
	}, repodata.Options{})
}

// specNames maps each requested spec ("haproxy", "haproxy-1.5.18") to the
// name of the package the closure chose for it.
func specNames(specs []manifest.RPM, fetched []rpms.Fetched) map[string]string {
	out := map[string]string{}
	for _, s := range specs {
		for _, f := range fetched {
			if f.Requested && (s.Spec == f.Name || strings.HasPrefix(s.Spec, f.Name+"-")) && len(f.Name) > len(out[s.Spec]) {
				out[s.Spec] = f.Name
			}
		}
	}
	return out
}

// recordRolePackages writes, for each host role, the packages deploy
// installs on it: the rpms and rpmFiles of every component that names the
// role.
func (b *builder) recordRolePackages(idx *bundle.Index) {
	if b.rpms == nil {
		return
	}
	byRole := map[string][]string{}
	for _, c := range b.o.Stack.Spec.Components {
		var names []string
		for _, r := range c.RPMs {
			names = append(names, b.rpms.names[r.Spec])
		}
		for _, f := range c.RPMFiles {
			names = append(names, b.rpms.names[f.Path])
		}
		for _, role := range c.Roles {
			byRole[role] = append(byRole[role], names...)
		}
	}
	for role, names := range byRole {
		slices.Sort(names)
		names = slices.Compact(names)
		if idx.Annotations == nil {
			idx.Annotations = map[string]string{}
		}
		idx.Annotations[bundle.AnnotationPackagesPrefix+role] = strings.Join(names, " ")
	}
}

// lockRPMs records the closure in the lock file.
func lockRPMs(l *lock.Lock, p *rpmPlan) {
	if p == nil {
		return
	}
	for _, r := range p.resolved {
		l.RPMs[r.Name] = lock.RPM{NEVRA: r.NEVRA(), Checksum: r.Checksum.Type + ":" + r.Checksum.Value, Repo: r.Repo}
	}
}
