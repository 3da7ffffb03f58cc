package rpms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/factory-appliance/appliance/rpms/rpm"
)

// Resolved is one package of a closure.
type Resolved struct {
	*rpm.Package
	Repo      string // the repository ID it comes from
	Requested bool   // named in the request list
	// By is the name of the package whose requirement pulled this one in
	// ("" when Requested), and Need that requirement.
	By   string
	Need string
}

// Problem is one unsatisfiable requirement or request.
type Problem struct {
	Chain  []string // package names from the requested package down
	Need   string   // the requirement (or the request) that failed
	Reason string
}

func (p Problem) String() string {
	parts := append(append([]string(nil), p.Chain...), p.Need)
	return strings.Join(parts, " → ") + ": " + p.Reason
}

// ClosureError lists every problem found while resolving, one per line,
// sorted.
type ClosureError struct {
	Problems []Problem
}

func (e *ClosureError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// ErrUnsatisfiable is matched by errors.Is on a *ClosureError.
var ErrUnsatisfiable = errors.New("unsatisfiable RPM requirements")

// Is makes errors.Is(err, ErrUnsatisfiable) true.
func (e *ClosureError) Is(target error) bool { return target == ErrUnsatisfiable }

// ResolveOptions tunes Resolve.
type ResolveOptions struct {
	Arches []string // default DefaultArches
	Base   *BaseSet // rpmBase; nil means none
}

// Resolve computes the dependency closure of the requested packages over
// repos (in priority order, see the package doc) and returns it sorted by
// NEVRA. Requests are "name", "name-version" or "name-version-release";
// the newest matching package wins. Every Requires is followed: package
// names, virtual provides, sonames, file paths (primary.xml first, then
// filelists.xml), with rpm's EVR comparison for versioned requirements.
// rpmlib() requirements are skipped. Rich dependencies: "or" and "and" are
// resolved fully; "if"/"unless" are decided against the packages chosen so
// far and rpmBase; "with"/"without" follow their left operand. Conflicts
// and obsoletes are not considered, and weak dependencies are not followed.
//
// Packages in opts.Base are not bundled but satisfy requirements (see
// BaseSet); a package requested by name is bundled even when it is in
// opts.Base. When
// anything cannot be satisfied, Resolve returns a *ClosureError listing
// every problem with its chain, e.g.
//
//	haproxy → libssl.so.10()(64bit): no provider in [base updates], not in rpmBase
func Resolve(ctx context.Context, repos []*RepoData, requests []string, opts ResolveOptions) ([]Resolved, error) {
	arches := opts.Arches
	if len(arches) == 0 {
		arches = DefaultArches
	}
	r := &resolver{ctx: ctx, ix: newIndex(repos, arches), base: opts.Base, chosen: map[string]*choice{}, looked: map[string]bool{}}
	for _, spec := range requests {
		r.request(spec)
	}
	if err := r.drain(); err != nil {
		return nil, err
	}
	if len(r.problems) > 0 {
		sort.SliceStable(r.problems, func(i, j int) bool { return r.problems[i].String() < r.problems[j].String() })
		return nil, &ClosureError{Problems: r.problems}
	}
	return r.result(), nil
}

// choice is a package in the closure.
type choice struct {
	c         candidate
	by        *choice
	need      string
	requested bool
}

type pendingFile struct {
	dep  rpm.Dep
	from *choice
}

type resolver struct {
	ctx      context.Context
	ix       *index
	base     *BaseSet
	chosen   map[string]*choice // by package name
	order    []*choice
	queue    []*choice
	pending  []pendingFile
	looked   map[string]bool // file paths already searched in filelists
	problems []Problem
}

func (r *resolver) request(spec string) {
	cs := r.ix.lookupRequest(spec)
	if len(cs) == 0 {
		r.problems = append(r.problems, Problem{Need: spec, Reason: "no package in " + r.ix.repoIDs()})
		return
	}
	if prev := r.chosen[cs[0].pkg.Name]; prev != nil {
		if prev.c.pkg != cs[0].pkg {
			r.problems = append(r.problems, Problem{Need: spec, Reason: "conflicts with the request for " + prev.c.pkg.NEVRA()})
		}
		prev.requested = true
		return
	}
	r.choose(cs[0], nil, "", true)
}

func (r *resolver) choose(c candidate, by *choice, need string, requested bool) {
	ch := &choice{c: c, by: by, need: need, requested: requested}
	r.chosen[c.pkg.Name] = ch
	r.order = append(r.order, ch)
	r.queue = append(r.queue, ch)
}

// drain processes the queue; when it empties with file requirements
// pending, it searches filelists for them and goes on.
func (r *resolver) drain() error {
	for {
		for len(r.queue) > 0 {
			ch := r.queue[0]
			r.queue = r.queue[1:]
			for _, dep := range ch.c.pkg.Requires {
				r.require(dep, ch)
			}
		}
		if len(r.pending) == 0 {
			return nil
		}
		if err := r.searchFilelists(); err != nil {
			return err
		}
	}
}

// require resolves one requirement of from.
func (r *resolver) require(dep rpm.Dep, from *choice) {
	if dep.IsRPMLib() {
		return
	}
	if dep.IsRich() {
		r.requireRich(dep.Name, from)
		return
	}
	if r.satisfied(dep) {
		return
	}
	cs := r.ix.providers(dep)
	if len(cs) == 0 && dep.IsFile() && !r.looked[dep.Name] {
		r.pending = append(r.pending, pendingFile{dep: dep, from: from})
		return
	}
	if len(cs) == 0 {
		r.fail(from, dep.String(), "no provider in "+r.ix.repoIDs()+", not in rpmBase")
		return
	}
	best := cs[0]
	if prev := r.chosen[best.pkg.Name]; prev != nil {
		r.fail(from, dep.String(), fmt.Sprintf("needs %s, but %s is already chosen (%s)", best.pkg.NEVRA(), prev.c.pkg.NEVRA(), prev.reason()))
		return
	}
	r.choose(best, from, dep.String(), false)
}

// satisfied reports whether a chosen package or rpmBase satisfies dep.
func (r *resolver) satisfied(dep rpm.Dep) bool {
	for _, c := range r.ix.providers(dep) {
		if ch := r.chosen[c.pkg.Name]; ch != nil && ch.c.pkg == c.pkg {
			return true
		}
		if r.base.Has(c.pkg.Name) {
			return true
		}
	}
	if r.base.Has(dep.Name) && len(r.ix.byName[dep.Name]) == 0 {
		return true // a base package the repositories do not carry: any version
	}
	owner := baseCapabilityOwner(dep.Name)
	return owner != "" && r.base.Has(owner) && len(r.ix.byName[owner]) == 0
}

func (r *resolver) fail(from *choice, need, reason string) {
	r.problems = append(r.problems, Problem{Chain: from.chain(), Need: need, Reason: reason})
}

// searchFilelists looks every pending file path up in every repository's
// filelists.xml (one streaming pass per repository), then retries them.
func (r *resolver) searchFilelists() error {
	want := map[string]bool{}
	for _, p := range r.pending {
		want[p.dep.Name] = true
		r.looked[p.dep.Name] = true
	}
	for ri, rd := range r.ix.repos {
		found, err := rd.FindFiles(r.ctx, want)
		if err != nil {
			return err
		}
		for path, pkgs := range found {
			for _, p := range pkgs {
				if r.inIndex(p) {
					r.ix.byFile[path] = append(r.ix.byFile[path], candidate{pkg: p, repo: ri})
				}
			}
		}
	}
	pending := r.pending
	r.pending = nil
	for _, p := range pending {
		r.require(p.dep, p.from)
	}
	slog.Debug("searched filelists", "paths", len(want))
	return nil
}

// inIndex reports whether p survived the arch filter and priority masking.
func (r *resolver) inIndex(p *rpm.Package) bool {
	for _, c := range r.ix.byName[p.Name] {
		if c.pkg == p {
			return true
		}
	}
	return false
}

func (ch *choice) chain() []string {
	var names []string
	for c := ch; c != nil; c = c.by {
		names = append(names, c.c.pkg.Name)
	}
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	return names
}

func (ch *choice) reason() string {
	if ch.requested || ch.by == nil {
		return "requested"
	}
	return "for " + ch.by.c.pkg.Name
}

func (r *resolver) result() []Resolved {
	out := make([]Resolved, 0, len(r.order))
	for _, ch := range r.order {
		res := Resolved{Package: ch.c.pkg, Repo: r.ix.repos[ch.c.repo].Repo.ID, Requested: ch.requested}
		if !ch.requested && ch.by != nil {
			res.By, res.Need = ch.by.c.pkg.Name, ch.need
		}
		out = append(out, res)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NEVRA() < out[j].NEVRA() })
	return out
}
