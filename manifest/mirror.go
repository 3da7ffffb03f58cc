package manifest

import (
	"fmt"
	"strings"

	"github.com/factory-appliance/appliance/internal/ref"
)

// Mirrors maps a source registry (canonical name, "docker.io" for Docker
// Hub) to the host[:port][/path] that serves its content. An image keeps its
// canonical name in the bundle; only the fetch goes to the mirror.
type Mirrors map[string]string

// MirrorFor returns the mirror for the registry of canonicalRef, if any.
func (m Mirrors) MirrorFor(canonicalRef string) (mirror string, ok bool) {
	host, _, _ := strings.Cut(canonicalRef, "/")
	mirror, ok = m[ref.NormalizeRegistry(host)]
	return mirror, ok
}

// Rewrite returns the reference to fetch canonicalRef from: the mirror
// followed by the repository path and tag/digest, or canonicalRef itself
// when its registry has no mirror. "docker.io/calico/node:v3.26.4" with
// docker.io → 127.0.0.1:5000 is fetched as "127.0.0.1:5000/calico/node:v3.26.4".
func (m Mirrors) Rewrite(canonicalRef string) string {
	mirror, ok := m.MirrorFor(canonicalRef)
	if !ok {
		return canonicalRef
	}
	_, rest, _ := strings.Cut(canonicalRef, "/")
	return strings.TrimSuffix(mirror, "/") + "/" + rest
}

// With returns a copy of m with the entries of over added or replaced, for
// command-line mirrors that override the manifest's.
func (m Mirrors) With(over Mirrors) Mirrors {
	out := make(Mirrors, len(m)+len(over))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// ParseMirror parses a command-line mirror "REGISTRY=HOST[:PORT][/PATH]"
// (e.g. "docker.io=127.0.0.1:5000") and returns the canonical registry and
// the mirror.
func ParseMirror(s string) (registry, mirror string, err error) {
	registry, mirror, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("registry mirror %q: want REGISTRY=HOST[:PORT][/PATH], e.g. docker.io=127.0.0.1:5000", s)
	}
	if msg, fix := registryHostProblem(registry); msg != "" {
		return "", "", fmt.Errorf("registry mirror %q: %s; %s", s, msg, fix)
	}
	if msg, fix := mirrorProblem(mirror); msg != "" {
		return "", "", fmt.Errorf("registry mirror %q: %s; %s", s, msg, fix)
	}
	return ref.NormalizeRegistry(registry), mirror, nil
}

// registryHostProblem checks a registry name: host[:port], no scheme or path.
func registryHostProblem(host string) (msg, fix string) {
	switch {
	case strings.Contains(host, "://"):
		return fmt.Sprintf("registry %q has a URL scheme", host), "write only host[:port]"
	case strings.Contains(host, "/"):
		return fmt.Sprintf("registry %q has a path", host), "write only host[:port]"
	case !ref.ValidRegistry(host):
		return fmt.Sprintf("registry %q is not a valid host[:port]", host), "write e.g. registry.lan:5000"
	}
	return "", ""
}

// mirrorProblem checks a mirror: host[:port] optionally followed by a path
// of repository components.
func mirrorProblem(mirror string) (msg, fix string) {
	if strings.Contains(mirror, "://") {
		return fmt.Sprintf("mirror %q has a URL scheme", mirror), "write host[:port][/path]; loopback mirrors use plain HTTP, others need spec.insecureRegistries"
	}
	host, path, _ := strings.Cut(strings.TrimSuffix(mirror, "/"), "/")
	if msg, fix := registryHostProblem(host); msg != "" {
		return "mirror: " + msg, fix
	}
	if path != "" {
		if msg, _ := ref.RepositoryProblem(path); msg != "" {
			return "mirror path: " + msg, "write host[:port]/lower-case/path"
		}
	}
	return "", ""
}
