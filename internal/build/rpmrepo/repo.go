// Package rpmrepo makes the one yum repository a bundle carries for its
// platform, repos/<id>/: it reads the stack's upstream repositories and
// their GPG keys, resolves the dependency closure of the requested
// packages, downloads it through the content cache (checksums and
// signatures checked), adds the components' local rpmFiles, and generates
// the repodata. It records the closure in the lock file, and each host
// role's packages in bundle.json. It hands the repository's files back as
// Files; package build puts them into the bundle.
package rpmrepo

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
	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/fetch"
	"github.com/factory-appliance/appliance/internal/progress"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
	"github.com/factory-appliance/appliance/rpms"
	"github.com/factory-appliance/appliance/rpms/repodata"
	"github.com/factory-appliance/appliance/rpms/rpm"
	"github.com/factory-appliance/appliance/rpms/rpmfile"
)

// Options are what the repository is made from and with. Stack, Cache and
// Transport are required.
type Options struct {
	Stack     *manifest.Stack
	Cache     *cas.Store
	Transport http.RoundTripper
	// Insecure are the hosts besides loopback that may be reached over
	// plain HTTP.
	Insecure []string
	// Locked, set for a locked build, is the lock the closure must match.
	Locked *lock.Lock
	// Parallel bounds parallel package downloads.
	Parallel int
	Progress *progress.Reporter
}

// File is one file of the repository, as the bundle holds it: a package,
// whose bytes the cache holds under Digest, or a key or repodata file,
// made in memory (Data).
type File struct {
	Path        string
	Kind        string
	Name        string
	Component   string
	Size        int64
	Annotations map[string]string
	Digest      string // a package's: the cache holds its bytes under it
	Data        []byte // a key's or repodata's bytes, when Digest is ""
}

// Repo is what the RPM step leaves for the writer: the bundle's yum
// repository, its packages, its repodata and the keys that signed them.
type Repo struct {
	ID       string
	Files    []File
	resolved []rpms.Fetched
	names    map[string]string // a requested spec or rpmFiles path → package name
}

// ID is the id of the one yum repository a bundle carries for its
// platform: repos/<id>/ in the bundle and on the site server.
func ID(s *manifest.Stack) string {
	arch := s.Spec.Platform.Architecture
	if arch == "amd64" {
		arch = "x86_64"
	}
	return s.Metadata.Name + "-" + arch
}

// Plan is the resolved closure, before anything is downloaded.
type Plan struct {
	fetcher  *rpms.Fetcher
	repos    []*rpms.RepoData
	keyFiles func(id string) []File
	resolved []rpms.Resolved
}

// Resolve reads the manifest's repositories and resolves the dependency
// closure of the requested packages. It downloads only metadata and keys.
// It returns nil when the stack asks for no RPM.
func Resolve(ctx context.Context, o Options) (*Plan, error) {
	s := o.Stack
	if len(s.RPMs()) == 0 && !hasRPMFiles(s) {
		return nil, nil
	}
	p := &Plan{fetcher: &rpms.Fetcher{Client: &http.Client{Transport: o.Transport}, Insecure: fetch.NewInsecureHosts(o.Insecure...)}}
	var err error
	if p.repos, p.keyFiles, err = loadRepos(ctx, o, p.fetcher); err != nil {
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
	o.Progress.Logf("rpm closure: %d packages requested, %d in the closure", len(requests), len(p.resolved))
	return p, nil
}

// Fetch resolves the closure, downloads it through the cache (checksums
// and signatures checked), adds the local rpmFiles, and generates the
// repodata of the bundle's one repository. It returns nil when the stack
// asks for no RPM. A locked build refuses a closure other than the lock's
// (*lock.DriftError).
func Fetch(ctx context.Context, o Options) (*Repo, error) {
	p, err := Resolve(ctx, o)
	if err != nil || p == nil {
		return nil, err
	}
	if err := checkLock(o.Locked, p.resolved); err != nil {
		return nil, err
	}
	fetched, err := rpms.Download(ctx, p.fetcher, o.Cache, p.repos, p.resolved, rpms.DownloadOptions{Parallel: o.Parallel})
	if err != nil {
		return nil, err
	}
	pkgs, err := rpms.RepoPackages(o.Cache, fetched)
	if err != nil {
		return nil, err
	}
	set := &Repo{ID: ID(o.Stack), resolved: fetched, names: specNames(o.Stack.RPMs(), fetched)}
	for i, f := range fetched {
		set.Files = append(set.Files, rpmFile(set.ID, pkgs[i], f.Digest, rpmAnnotations(f.Resolved)))
	}
	locals, err := localRPMs(o, set.ID, allKeys(p.repos))
	if err != nil {
		return nil, err
	}
	set.Files = append(set.Files, locals.files...)
	maps.Copy(set.names, locals.names)
	pkgs = append(pkgs, locals.pkgs...)
	if err := set.addRepodata(pkgs); err != nil {
		return nil, err
	}
	set.Files = append(set.Files, p.keyFiles(set.ID)...)
	return set, nil
}

func hasRPMFiles(s *manifest.Stack) bool {
	for _, c := range s.Spec.Components {
		if len(c.RPMFiles) > 0 {
			return true
		}
	}
	return false
}

// loadRepos reads each upstream repository's metadata and keys. It
// returns, for the bundle, a function giving the key files under an id.
func loadRepos(ctx context.Context, o Options, f *rpms.Fetcher) ([]*rpms.RepoData, func(id string) []File, error) {
	var repos []*rpms.RepoData
	var keys []File
	for _, r := range o.Stack.Spec.RPMRepos {
		list, raw, err := loadRepoKeys(ctx, o.Stack, f, r)
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
	keyFiles := func(id string) []File {
		out := make([]File, len(keys))
		for i, k := range keys {
			k.Path = path.Join("repos", id, k.Path)
			out[i] = k
		}
		return out
	}
	return repos, keyFiles, nil
}

// loadRepoKeys reads a repository's GPG keys (manifest paths or URLs) and
// keeps their bytes, so the bundle can carry them as keys/RPM-GPG-KEY-<id>-N.
func loadRepoKeys(ctx context.Context, s *manifest.Stack, f *rpms.Fetcher, r manifest.RPMRepo) (openpgp.EntityList, []File, error) {
	var list openpgp.EntityList
	var es []File
	for i, ref := range r.GPGKeys {
		data, err := readKeyRef(ctx, s, f, ref)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: rpm repo %s: gpg key %s: %w", r.Pos, r.ID, ref, err)
		}
		ents, err := rpmfile.ReadKeys(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: rpm repo %s: gpg key %s: %w", r.Pos, r.ID, ref, err)
		}
		list = append(list, ents...)
		name := fmt.Sprintf("keys/RPM-GPG-KEY-%s-%d", r.ID, i+1)
		es = append(es, memFile(name, bundle.KindKey, "gpg key of rpm repo "+r.ID, data))
	}
	return list, es, nil
}

func readKeyRef(ctx context.Context, s *manifest.Stack, f *rpms.Fetcher, ref string) ([]byte, error) {
	var rc io.ReadCloser
	var err error
	if strings.Contains(ref, "://") {
		rc, err = f.Open(ctx, ref)
	} else {
		rc, err = s.Open(ref)
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

// checkLock, for a locked build (l not nil), refuses a closure that
// differs from the lock's: another package chosen, or the same one with
// other bytes.
func checkLock(l *lock.Lock, resolved []rpms.Resolved) error {
	if l == nil {
		return nil
	}
	var drifts []lock.Drift
	for _, r := range resolved {
		want, ok := l.RPMs[r.Name]
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

func rpmFile(id string, p *rpm.Package, digest string, ann map[string]string) File {
	loc := p.Location
	if loc == "" {
		loc = "Packages/" + p.FileName()
	}
	return File{
		Path: path.Join("repos", id, loc), Kind: bundle.KindRPM, Name: p.NEVRA(),
		Size: p.PackageSize, Annotations: ann, Digest: digest,
	}
}

// memFile is a file made in memory.
func memFile(path, kind, name string, data []byte) File {
	return File{Path: path, Kind: kind, Name: name, Size: int64(len(data)), Data: data}
}

// localSet is the rpmFiles of every component.
type localSet struct {
	files []File
	pkgs  []*rpm.Package
	names map[string]string // rpmFiles path → package name
}

// localRPMs checks each component's rpmFiles against the repositories'
// keys and stores them in the cache.
func localRPMs(o Options, id string, keys openpgp.EntityList) (*localSet, error) {
	out := &localSet{names: map[string]string{}}
	var errs []error
	for _, c := range o.Stack.Spec.Components {
		for _, ref := range c.RPMFiles {
			p, digest, err := addLocalRPM(o, ref, keys)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: rpmFiles %s: %w", ref.Pos, ref.Path, err))
				continue
			}
			p.Location = "Packages/" + p.FileName()
			ann := map[string]string{bundle.AnnotationRPMNEVRA: p.NEVRA(), bundle.AnnotationRPMRequested: "true", bundle.AnnotationRPMFile: ref.Path}
			e := rpmFile(id, p, digest, ann)
			e.Component = c.Name
			out.names[ref.Path] = p.Name
			out.files = append(out.files, e)
			out.pkgs = append(out.pkgs, p)
		}
	}
	return out, errors.Join(errs...)
}

// addLocalRPM copies a manifest-relative RPM (which may live in the
// binary's embedded stacks) to a temporary file for rpms.AddLocal.
func addLocalRPM(o Options, ref manifest.PathRef, keys openpgp.EntityList) (*rpm.Package, string, error) {
	src, err := o.Stack.Open(ref.Path)
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
	return rpms.AddLocal(o.Cache, rpms.LocalFile{Path: tmp.Name(), Keys: keys})
}

// addRepodata generates the repository's metadata (a few MiB at most,
// kept in memory) and adds it as entries.
func (s *Repo) addRepodata(pkgs []*rpm.Package) error {
	return repodata.Generate(pkgs, func(name string, size int64, r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		s.Files = append(s.Files, memFile(path.Join("repos", s.ID, name), bundle.KindRepodata, name, data))
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

// RecordRolePackages writes, for each host role, the packages deploy
// installs on it: the rpms and rpmFiles of every component of s that names
// the role. A nil Repo (no RPM) records nothing.
func (r *Repo) RecordRolePackages(s *manifest.Stack, idx *bundle.Index) {
	if r == nil {
		return
	}
	byRole := map[string][]string{}
	for _, c := range s.Spec.Components {
		var names []string
		for _, spec := range c.RPMs {
			names = append(names, r.names[spec.Spec])
		}
		for _, f := range c.RPMFiles {
			names = append(names, r.names[f.Path])
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

// Lock records the closure in the lock file. A nil Plan (no RPM) records
// nothing.
func (p *Plan) Lock(l *lock.Lock) {
	if p == nil {
		return
	}
	for _, r := range p.resolved {
		l.RPMs[r.Name] = lock.RPM{NEVRA: r.NEVRA(), Checksum: r.Checksum.Type + ":" + r.Checksum.Value, Repo: r.Repo}
	}
}
