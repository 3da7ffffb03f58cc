// Package ref owns the image-reference grammar: how a reference splits
// into registry, repository, tag and digest, which names are valid, the
// canonical form, and Docker Hub's normalisation. It is a leaf: it imports
// no package of this project, so the manifest, the bundle format, the
// puller and the pusher all read references the same way.
//
// The grammar is the OCI distribution one, [host[:port]/]path[:tag][@digest]:
// the first path element is a registry when it contains '.' or ':' or is
// "localhost" (Docker's rule); otherwise the registry is Docker Hub.
package ref

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// DockerHub is the canonical name of Docker Hub's registry. References
// without a registry ("calico/node:v3.26.4") and references to its other
// host names are recorded under it.
const DockerHub = "docker.io"

// MaxLength bounds a reference.
const MaxLength = 1024

var (
	hostPortRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$`)
	repoPartRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)
	tagRE      = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE   = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[A-Za-z0-9=_-]{32,}$`)
	sha256RE   = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	portRE     = regexp.MustCompile(`^[0-9]+$`)
)

// NormalizeRegistry maps Docker Hub's other host names (index.docker.io,
// registry-1.docker.io) to DockerHub and returns any other host as it is.
func NormalizeRegistry(host string) string {
	if host == name.DefaultRegistry || host == "registry-1.docker.io" {
		return DockerHub
	}
	return host
}

// ValidRegistry reports whether host is a registry host[:port] (an IPv6
// address in brackets), without scheme or path.
func ValidRegistry(host string) bool { return hostPortRE.MatchString(host) }

// isRegistry reports whether the first path element of a reference names
// a registry rather than a repository.
func isRegistry(first string) bool {
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

// pieces is a reference cut at its separators, not yet checked.
type pieces struct {
	host, path, tag, digest string
	hasHost, hasTag         bool
	hasDigest               bool
}

func cut(s string) pieces {
	var p pieces
	s, p.digest, p.hasDigest = strings.Cut(s, "@")
	if first, after, ok := strings.Cut(s, "/"); ok && isRegistry(first) {
		p.host, p.hasHost, s = first, true, after
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s, p.tag, p.hasTag = s[:i], s[i+1:], true
	}
	p.path = s
	return p
}

// Check checks ref against the grammar alone: an optional registry, a path
// of lower-case elements, an optional tag and an optional digest of any
// algorithm. It does not require a tag or digest. The error says which
// rule is broken ("the digest is algorithm:hex").
func Check(ref string) error {
	if ref == "" || len(ref) > MaxLength {
		return fmt.Errorf("1 to %d characters", MaxLength)
	}
	p := cut(ref)
	switch {
	case p.hasDigest && !digestRE.MatchString(p.digest):
		return fmt.Errorf("the digest is algorithm:hex")
	case p.hasHost && !ValidRegistry(p.host):
		return fmt.Errorf("the registry is host or host:port")
	case p.hasTag && !tagRE.MatchString(p.tag):
		return fmt.Errorf("a tag is letters, digits, '_', '.' and '-'")
	}
	for _, part := range strings.Split(p.path, "/") {
		if !repoPartRE.MatchString(part) {
			return fmt.Errorf("each path element is lower-case letters and digits joined by '.', '_' or '-'")
		}
	}
	return nil
}
