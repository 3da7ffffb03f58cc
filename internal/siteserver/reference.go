package siteserver

import (
	"regexp"
	"strings"
)

// Repository names follow the distribution spec, except that the first
// component may be a registry host with dots, upper-case letters and a port,
// because repositories are served under their original references
// ("docker.io/calico/node", "127.0.0.1:5000/app").
var (
	pathComponent = `[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*`
	hostComponent = `(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?`
	repoNameRE    = regexp.MustCompile(`^(?:` + hostComponent + `|` + pathComponent + `)(?:/` + pathComponent + `)*$`)
	tagRE         = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	digestRE      = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	anyDigestRE   = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)
)

func validRepoName(name string) bool { return len(name) <= 255 && repoNameRE.MatchString(name) }

func validTag(tag string) bool { return tagRE.MatchString(tag) }

// isDigest reports whether s is a sha256 digest, the only algorithm the
// bundle uses.
func isDigest(s string) bool { return digestRE.MatchString(s) }

// looksLikeDigest reports whether s has the general digest form
// "algorithm:encoded", whatever the algorithm.
func looksLikeDigest(s string) bool { return anyDigestRE.MatchString(s) }

// imageRef is a parsed reference: repository, and a tag or a digest or both.
type imageRef struct {
	repo   string
	tag    string
	digest string
}

// parseRef parses "repo[:tag][@digest]". It returns ok=false for anything
// that is not a full reference: a bare tag such as "1.0" (how OCI layouts
// often name images) has no repository.
func parseRef(s string) (imageRef, bool) {
	var r imageRef
	if before, after, found := strings.Cut(s, "@"); found {
		if !isDigest(after) {
			return r, false
		}
		s, r.digest = before, after
	}
	if i := strings.LastIndexByte(s, ':'); i > strings.LastIndexByte(s, '/') {
		s, r.tag = s[:i], s[i+1:]
		if !validTag(r.tag) {
			return r, false
		}
	}
	if !strings.Contains(s, "/") || !validRepoName(s) {
		return r, false
	}
	r.repo = s
	return r, r.tag != "" || r.digest != ""
}

// mirrorCandidates lists the repository names a request for name may mean.
// containerd asks a mirror for the path without its registry host and names
// the host in the "ns" query parameter: "calico/node?ns=docker.io" means
// "docker.io/calico/node", and "nginx?ns=docker.io" means
// "docker.io/library/nginx". The name as asked comes last.
func mirrorCandidates(name, ns string) []string {
	if ns == "" || strings.HasPrefix(name, ns+"/") {
		return []string{name}
	}
	c := []string{ns + "/" + name}
	if ns == "docker.io" && !strings.Contains(name, "/") {
		c = append(c, "docker.io/library/"+name)
	}
	return append(c, name)
}
