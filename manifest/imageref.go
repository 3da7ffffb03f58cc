package manifest

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// DockerHub is the canonical name of Docker Hub's registry. References
// without a registry ("calico/node:v3.26.4") and references to
// "index.docker.io" are recorded under it.
const DockerHub = "docker.io"

// ImageRef is one image of a stack after expansion of image lists.
//
// Ref is the reference exactly as written; it is the name the bundle gives
// the image (org.opencontainers.image.ref.name) and the key in the lock file.
// Canonical is the fully qualified form: registry, full repository path
// (docker.io's implicit "library/" added), then the tag and/or digest, e.g.
// "calico/node:v3.26.4" → "docker.io/calico/node:v3.26.4".
type ImageRef struct {
	Ref        string
	Canonical  string
	Registry   string // "docker.io" for Docker Hub
	Repository string // path inside the registry, e.g. "library/busybox"
	Tag        string // "" when pinned by digest only
	Digest     string // "sha256:<hex>" or ""

	Component string // the component that lists the image
	Source    Pos    // where the reference is written: the manifest, or a list file
	List      string // the list file (manifest-relative) it came from, or ""
	Section   string // the list file's ##section, or ""
	VerifyKey string // public key (path inside Stack.FS) its signature must verify with, or ""
}

// RefError explains why an image reference is refused, and how to fix it.
type RefError struct {
	Ref    string
	Reason string
	Fix    string
}

func (e *RefError) Error() string {
	return fmt.Sprintf("image reference %q: %s; %s", e.Ref, e.Reason, e.Fix)
}

var (
	tagRE        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	sha256RE     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	repoPartRE   = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)
	hostPortRE   = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$`)
	sha256HexRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	maxRefLength = 1024
)

// ParseImageRef parses an image reference as written in a manifest or an
// image list. It must be pinned: a tag, a digest or both ("repo:tag@sha256:…");
// an implicit ":latest" is refused because it cannot be reproduced. The
// registry may be left out, meaning Docker Hub, because KubeSphere's image
// lists are written that way; the canonical form always names it. Digests
// must be sha256. The result's Component, Source, List, Section and
// VerifyKey are empty. Errors are *RefError.
func ParseImageRef(ref string) (ImageRef, error) {
	bad := func(reason, fix string) (ImageRef, error) {
		return ImageRef{}, &RefError{Ref: ref, Reason: reason, Fix: fix}
	}
	if msg, fix := refShapeProblem(ref); msg != "" {
		return bad(msg, fix)
	}
	rest, digest, _ := strings.Cut(ref, "@")
	if digest != "" && !sha256RE.MatchString(digest) {
		return bad(fmt.Sprintf("digest %q is not sha256:<64 lowercase hex digits>", digest), "copy the digest exactly, e.g. from `crane digest`")
	}
	host, path, tag, msg, fix := splitRepoTag(rest)
	if msg != "" {
		return bad(msg, fix)
	}
	if tag == "" && digest == "" {
		return bad("it has no tag or digest", "pin it with a tag (:1.0) or a digest (@sha256:...); an implicit :latest cannot be reproduced")
	}
	r := ImageRef{Ref: ref, Registry: host, Repository: path, Tag: tag, Digest: digest}
	r.Canonical = r.canonical()
	if _, err := name.ParseReference(r.Canonical, name.StrictValidation); err != nil {
		return bad(err.Error(), "write it as registry/repository:tag or registry/repository@sha256:digest")
	}
	return r, nil
}

// refShapeProblem catches mistakes that would give confusing parser errors.
func refShapeProblem(ref string) (msg, fix string) {
	switch {
	case ref == "":
		return "it is empty", "write registry/repository:tag"
	case len(ref) > maxRefLength:
		return fmt.Sprintf("it is longer than %d characters", maxRefLength), "shorten it"
	case strings.Contains(ref, "://"):
		return "it contains a URL scheme", "remove the scheme (e.g. http://); plain-HTTP registries are named in spec.insecureRegistries"
	case strings.ContainsAny(ref, " \t\r\n"):
		return "it contains whitespace", "remove the spaces; write one reference per entry"
	case strings.Count(ref, "@") > 1:
		return "it contains more than one '@'", "keep one @sha256:<digest> at the end"
	}
	return "", ""
}

// splitRepoTag splits "host/path:tag" (host optional) following Docker's
// rule: the first component is a registry host when it contains '.' or ':'
// or is "localhost".
func splitRepoTag(s string) (host, path, tag, msg, fix string) {
	first, remainder, hasSlash := strings.Cut(s, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost") {
		host, path = first, remainder
		if !hostPortRE.MatchString(host) {
			if h, port, ok := strings.Cut(host, ":"); ok && !isDigits(port) && !strings.Contains(h, ".") && h != "localhost" {
				return "", "", "", fmt.Sprintf("tag %q contains '/'", s[len(h)+1:]), "a tag may only contain letters, digits, '_', '.' and '-'; move the '/' into the repository path"
			}
			return "", "", "", fmt.Sprintf("registry %q is not a valid host[:port]", host), "write the registry as host or host:port"
		}
	} else {
		host, path = DockerHub, s
	}
	host = normalizeRegistry(host)
	if i := strings.LastIndex(path, ":"); i >= 0 {
		path, tag = path[:i], path[i+1:]
		if !tagRE.MatchString(tag) {
			return "", "", "", fmt.Sprintf("tag %q is invalid", tag), "a tag is 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
		}
	}
	if msg, fix := repoPathProblem(path); msg != "" {
		return "", "", "", msg, fix
	}
	if host == DockerHub && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return host, path, tag, "", ""
}

func repoPathProblem(path string) (msg, fix string) {
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

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (r ImageRef) canonical() string {
	s := r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// CanonicalName returns the canonical form of any reference a container
// runtime would accept, applying Docker's defaults: Docker Hub for a missing
// registry, "library/" for a single-component Docker Hub path, and ":latest"
// when there is neither a tag nor a digest. The completeness gate uses it to
// compare what charts and manifests reference with what the bundle holds.
func CanonicalName(ref string) (string, error) {
	r, err := ParseImageRef(ref)
	if err == nil {
		return r.Canonical, nil
	}
	if !strings.Contains(ref, "@") && refHasNoTag(ref) {
		if r, err2 := ParseImageRef(ref + ":latest"); err2 == nil {
			return r.Canonical, nil
		}
	}
	return "", err
}

func refHasNoTag(s string) bool {
	i := strings.LastIndex(s, ":")
	return i < 0 || strings.Contains(s[i+1:], "/")
}

// normalizeRegistry maps Docker Hub's aliases to DockerHub.
func normalizeRegistry(host string) string {
	if host == name.DefaultRegistry || host == "registry-1.docker.io" {
		return DockerHub
	}
	return host
}
