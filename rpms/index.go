package rpms

import (
	"sort"
	"strings"

	"github.com/factory-appliance/appliance/rpms/rpm"
)

// DefaultArches are the architectures the closure considers.
var DefaultArches = []string{"x86_64", "noarch"}

// candidate is a package of one repository.
type candidate struct {
	pkg  *rpm.Package
	repo int // index into the resolver's repositories
}

// index answers "who provides X" over several repositories, after the
// architecture filter and priority masking.
type index struct {
	repos     []*RepoData
	byName    map[string][]candidate
	byProvide map[string][]candidate
	byFile    map[string][]candidate // primary's files plus filelists lookups
}

func newIndex(repos []*RepoData, arches []string) *index {
	ok := map[string]bool{}
	for _, a := range arches {
		ok[a] = true
	}
	ix := &index{repos: repos, byName: map[string][]candidate{}, byProvide: map[string][]candidate{}, byFile: map[string][]candidate{}}
	best := map[string]int{} // name → best priority offering it
	for _, rd := range repos {
		for _, p := range rd.Packages {
			if !ok[p.Arch] {
				continue
			}
			if b, seen := best[p.Name]; !seen || rd.Repo.priority() < b {
				best[p.Name] = rd.Repo.priority()
			}
		}
	}
	for ri, rd := range repos {
		for _, p := range rd.Packages {
			if ok[p.Arch] && rd.Repo.priority() == best[p.Name] {
				ix.add(candidate{pkg: p, repo: ri})
			}
		}
	}
	return ix
}

func (ix *index) add(c candidate) {
	ix.byName[c.pkg.Name] = append(ix.byName[c.pkg.Name], c)
	self := false
	for _, d := range c.pkg.Provides {
		ix.byProvide[d.Name] = append(ix.byProvide[d.Name], c)
		self = self || d.Name == c.pkg.Name
	}
	if !self { // old packages may lack the implicit "name = EVR" provide
		ix.byProvide[c.pkg.Name] = append(ix.byProvide[c.pkg.Name], c)
	}
	for _, f := range c.pkg.Files {
		ix.byFile[f.Path] = append(ix.byFile[f.Path], c)
	}
}

// providers returns the candidates that satisfy dep, best first.
func (ix *index) providers(dep rpm.Dep) []candidate {
	var out []candidate
	if dep.IsFile() {
		out = append(out, ix.byFile[dep.Name]...)
	}
	for _, c := range ix.byProvide[dep.Name] {
		if provides(c.pkg, dep) {
			out = append(out, c)
		}
	}
	ix.sortCandidates(out, dep.Name)
	return dedupe(out)
}

// sortCandidates orders candidates best first: a package named like the
// requirement, then shorter names (yum's tie-break), then the newest EVR,
// then x86_64 before noarch, then the earlier repository.
func (ix *index) sortCandidates(cs []candidate, want string) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if (a.pkg.Name == want) != (b.pkg.Name == want) {
			return a.pkg.Name == want
		}
		if a.pkg.Name != b.pkg.Name {
			if len(a.pkg.Name) != len(b.pkg.Name) {
				return len(a.pkg.Name) < len(b.pkg.Name)
			}
			return a.pkg.Name < b.pkg.Name
		}
		if c := rpm.CompareEVR(a.pkg.EVR, b.pkg.EVR); c != 0 {
			return c > 0
		}
		if a.pkg.Arch != b.pkg.Arch {
			return a.pkg.Arch != "noarch"
		}
		return a.repo < b.repo
	})
}

func dedupe(cs []candidate) []candidate {
	out := cs[:0]
	seen := map[*rpm.Package]bool{}
	for _, c := range cs {
		if !seen[c.pkg] {
			seen[c.pkg] = true
			out = append(out, c)
		}
	}
	return out
}

// lookupRequest finds the packages a request names: "name",
// "name-version" or "name-version-release", best first.
func (ix *index) lookupRequest(spec string) []candidate {
	if cs := ix.byName[spec]; len(cs) > 0 {
		return ix.sorted(cs, spec)
	}
	if i := strings.LastIndexByte(spec, '-'); i > 0 {
		name, ver := spec[:i], spec[i+1:]
		if cs := ix.filter(name, func(p *rpm.Package) bool { return p.Version == ver }); len(cs) > 0 {
			return cs
		}
		if j := strings.LastIndexByte(name, '-'); j > 0 {
			n, v := name[:j], name[j+1:]
			return ix.filter(n, func(p *rpm.Package) bool { return p.Version == v && p.Release == ver })
		}
	}
	return nil
}

func (ix *index) filter(name string, keep func(*rpm.Package) bool) []candidate {
	var out []candidate
	for _, c := range ix.byName[name] {
		if keep(c.pkg) {
			out = append(out, c)
		}
	}
	return ix.sorted(out, name)
}

func (ix *index) sorted(cs []candidate, name string) []candidate {
	out := append([]candidate(nil), cs...)
	ix.sortCandidates(out, name)
	return out
}

// repoIDs lists the repository IDs in order, for messages.
func (ix *index) repoIDs() string {
	ids := make([]string, len(ix.repos))
	for i, r := range ix.repos {
		ids[i] = r.Repo.ID
	}
	return "[" + strings.Join(ids, " ") + "]"
}

// provides reports whether p's provides (including the implicit
// "name = EVR") satisfy dep. File requirements are not considered.
func provides(p *rpm.Package, dep rpm.Dep) bool {
	if p.Name == dep.Name && (rpm.Dep{Name: p.Name, Flags: rpm.SenseEqual, EVR: p.EVR}).Satisfies(dep) {
		return true
	}
	for _, d := range p.Provides {
		if d.Satisfies(dep) {
			return true
		}
	}
	return false
}
