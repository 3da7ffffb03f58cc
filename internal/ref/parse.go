package ref

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Ref is a parsed, pinned image reference.
type Ref struct {
	Registry   string // DockerHub for Docker Hub
	Repository string // path inside the registry, e.g. "library/busybox"
	Tag        string // "" when pinned by digest only
	Digest     string // "sha256:<hex>" or ""
}

// String is the canonical form: registry, full repository path (Docker
// Hub's implicit "library/" added), then the tag and/or the digest, e.g.
// "docker.io/calico/node:v3.26.4".
func (r Ref) String() string {
	s := r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Error explains why a reference is refused, and how to fix it.
type Error struct {
	Ref    string
	Reason string
	Fix    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("image reference %q: %s; %s", e.Ref, e.Reason, e.Fix)
}

// Parse parses a reference as a stack manifest writes it. It must be
// pinned: a tag, a digest or both ("repo:tag@sha256:…"); an implicit
// ":latest" is refused because it cannot be reproduced. The registry may
// be left out, meaning Docker Hub. Digests must be sha256. Errors are
// *Error.
func Parse(s string) (Ref, error) {
	bad := func(reason, fix string) (Ref, error) {
		return Ref{}, &Error{Ref: s, Reason: reason, Fix: fix}
	}
	if msg, fix := shapeProblem(s); msg != "" {
		return bad(msg, fix)
	}
	p := cut(s)
	if p.hasDigest && !sha256RE.MatchString(p.digest) {
		return bad(fmt.Sprintf("digest %q is not sha256:<64 lowercase hex digits>", p.digest), "copy the digest exactly, e.g. from `crane digest`")
	}
	if msg, fix := hostProblem(s, p); msg != "" {
		return bad(msg, fix)
	}
	if p.hasTag && !tagRE.MatchString(p.tag) {
		return bad(fmt.Sprintf("tag %q is invalid", p.tag), "a tag is 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")
	}
	if msg, fix := RepositoryProblem(p.path); msg != "" {
		return bad(msg, fix)
	}
	if p.tag == "" && p.digest == "" {
		return bad("it has no tag or digest", "pin it with a tag (:1.0) or a digest (@sha256:...); an implicit :latest cannot be reproduced")
	}
	r := Ref{Registry: DockerHub, Repository: p.path, Tag: p.tag, Digest: p.digest}
	if p.hasHost {
		r.Registry = NormalizeRegistry(p.host)
	}
	if r.Registry == DockerHub && !strings.Contains(r.Repository, "/") {
		r.Repository = "library/" + r.Repository
	}
	if _, err := name.ParseReference(r.String(), name.StrictValidation); err != nil {
		return bad(err.Error(), "write it as registry/repository:tag or registry/repository@sha256:digest")
	}
	return r, nil
}

// Canonical returns the canonical form of any reference a container
// runtime would accept, applying Docker's defaults: Docker Hub for a
// missing registry, "library/" for a single-element Docker Hub path, and
// ":latest" when there is neither a tag nor a digest.
func Canonical(s string) (string, error) {
	r, err := Parse(s)
	if err == nil {
		return r.String(), nil
	}
	if p := cut(s); !p.hasDigest && !p.hasTag {
		if r, err2 := Parse(s + ":latest"); err2 == nil {
			return r.String(), nil
		}
	}
	return "", err
}

// shapeProblem catches mistakes that would give confusing parser errors.
func shapeProblem(s string) (msg, fix string) {
	switch {
	case s == "":
		return "it is empty", "write registry/repository:tag"
	case len(s) > MaxLength:
		return fmt.Sprintf("it is longer than %d characters", MaxLength), "shorten it"
	case strings.Contains(s, "://"):
		return "it contains a URL scheme", "remove the scheme (e.g. http://); plain-HTTP registries are named in spec.insecureRegistries"
	case strings.ContainsAny(s, " \t\r\n"):
		return "it contains whitespace", "remove the spaces; write one reference per entry"
	case strings.Count(s, "@") > 1:
		return "it contains more than one '@'", "keep one @sha256:<digest> at the end"
	}
	return "", ""
}

// hostProblem checks the registry of s, if it names one. A first element
// such as "app:1.0" in "app:1.0/extra" is a tag with a '/', not a registry.
func hostProblem(s string, p pieces) (msg, fix string) {
	if !p.hasHost || ValidRegistry(p.host) {
		return "", ""
	}
	if h, port, ok := strings.Cut(p.host, ":"); ok && !portRE.MatchString(port) && !strings.Contains(h, ".") && h != "localhost" {
		return fmt.Sprintf("tag %q contains '/'", s[len(h)+1:]), "a tag may only contain letters, digits, '_', '.' and '-'; move the '/' into the repository path"
	}
	return fmt.Sprintf("registry %q is not a valid host[:port]", p.host), "write the registry as host or host:port"
}

// RepositoryProblem checks a repository path: lower-case elements of
// letters and digits joined by separators. It returns what is wrong and
// the fix, or "" when the path is valid.
func RepositoryProblem(path string) (msg, fix string) {
	if path == "" {
		return "the repository is empty", "write registry/repository:tag"
	}
	if strings.ToLower(path) != path {
		return fmt.Sprintf("repository %q has upper-case letters", path), "repositories are lower-case; write " + strings.ToLower(path)
	}
	for _, part := range strings.Split(path, "/") {
		if !repoPartRE.MatchString(part) {
			return fmt.Sprintf("repository %q has an invalid component %q", path, part), "components are lower-case letters and digits separated by '.', '_', '__' or '-'"
		}
	}
	return "", ""
}
