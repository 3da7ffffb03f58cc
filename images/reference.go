package images

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	imageref "github.com/factory-appliance/appliance/internal/ref"
)

// target is a parsed reference: its canonical name and where to fetch it.
type target struct {
	written   string          // as given
	canonRepo string          // docker.io/library/x
	tag       string          // "" when pulled by digest only
	digest    string          // from the reference or the pin
	fetch     name.Repository // the repository to fetch from (mirror applied)
}

// name is the canonical name: repo:tag, or repo@digest without a tag.
func (t target) name() string {
	if t.tag != "" {
		return t.canonRepo + ":" + t.tag
	}
	return t.canonRepo + "@" + t.digest
}

// identifier is what to ask the registry for: the digest when known.
func (t target) identifier() string {
	if t.digest != "" {
		return t.digest
	}
	return t.tag
}

// parse reads ref (repo[:tag][@digest]) and the optional pin.
func (o *options) parse(ref, pin string) (target, error) {
	base, refDigest, _ := strings.Cut(ref, "@")
	t := target{written: ref, digest: refDigest}
	if pin != "" {
		if err := checkDigest(pin); err != nil {
			return t, fmt.Errorf("image %s: pin: %w", ref, err)
		}
		if refDigest != "" && refDigest != pin {
			return t, fmt.Errorf("image %s: reference digest %s differs from the pinned %s: %w", ref, refDigest, pin, ErrDigestMismatch)
		}
		t.digest = pin
	}
	if t.digest != "" {
		if err := checkDigest(t.digest); err != nil {
			return t, fmt.Errorf("image %s: %w", ref, err)
		}
	}
	r, err := name.ParseReference(base)
	if err != nil {
		return t, fmt.Errorf("image reference %q: %w", ref, err)
	}
	if tag, ok := r.(name.Tag); ok && (refDigest == "" || strings.Contains(lastPathElem(base), ":")) {
		t.tag = tag.TagStr()
	}
	registry := imageref.NormalizeRegistry(r.Context().RegistryStr())
	repo := r.Context().RepositoryStr()
	t.canonRepo = registry + "/" + repo
	host := registry
	if m, ok := o.mirrors[registry]; ok {
		host = m
	}
	t.fetch, err = o.repository(host, repo)
	if err != nil {
		return t, fmt.Errorf("image %s: %w", ref, err)
	}
	return t, nil
}

// repository names repo on host, marked insecure when plain HTTP is
// allowed there (loopback, or named with --insecure-registry).
func (o *options) repository(host, repo string) (name.Repository, error) {
	if host == imageref.DockerHub {
		host = dockerHubAPIHost
	}
	var opts []name.Option
	if o.insecure.PlainHTTPAllowed(host) {
		opts = append(opts, name.Insecure)
	}
	return name.NewRepository(host+"/"+repo, opts...)
}

func lastPathElem(s string) string {
	return s[strings.LastIndex(s, "/")+1:]
}

func checkDigest(d string) error {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return fmt.Errorf("%q is not a sha256 digest", d)
	}
	return nil
}
