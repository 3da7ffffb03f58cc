package push

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/factory-appliance/appliance/internal/fetch"
	"github.com/factory-appliance/appliance/internal/harbor"
	imageref "github.com/factory-appliance/appliance/internal/ref"
)

// ErrUnmappableName is wrapped when an image's name cannot be given a place
// in the target registry.
var ErrUnmappableName = errors.New("image name cannot be mapped into the site registry")

// target is where one bundle image goes in the site registry.
type target struct {
	source  string         // the name in the bundle: docker.io/calico/node:v3.26.4
	project string         // the source registry host: docker.io
	ref     name.Reference // HOST/docker.io/calico/node:v3.26.4 (a tag, or a digest when untagged)
}

// mapName places the bundle image named src (a full reference, tag or
// digest) under host: the source registry's host becomes the first path
// component, which is the Harbor project, so docker.io/calico/node:v3.26.4
// becomes HOST/docker.io/calico/node:v3.26.4. digest is the image's
// manifest digest; a reference that pins another digest is refused.
func mapName(host, src, digest string, plainHTTP bool) (target, error) {
	ref, err := name.ParseReference(src)
	if err != nil {
		return target{}, fmt.Errorf("image %q: %w: %v", src, ErrUnmappableName, err)
	}
	// The site registry always calls Docker Hub docker.io.
	reg := imageref.NormalizeRegistry(ref.Context().RegistryStr())
	if _, _, err := net.SplitHostPort(reg); err == nil {
		return target{}, fmt.Errorf("image %s: %w: its registry %s has a port, and a project name cannot; "+
			"name the image by a registry host without a port when building the bundle", src, ErrUnmappableName, reg)
	}
	project := strings.ToLower(reg)
	if err := harbor.CheckProjectName(project); err != nil {
		return target{}, fmt.Errorf("image %s: %w: %w", src, ErrUnmappableName, err)
	}
	var opts []name.Option
	if plainHTTP {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(host+"/"+project+"/"+ref.Context().RepositoryStr(), opts...)
	if err != nil {
		return target{}, fmt.Errorf("image %s: %w: %v", src, ErrUnmappableName, err)
	}
	t := target{source: src, project: project}
	switch r := ref.(type) {
	case name.Tag:
		t.ref = repo.Tag(r.TagStr())
	case name.Digest:
		if r.DigestStr() != digest {
			return target{}, fmt.Errorf("image %s names digest %s but the bundle holds %s under it; the bundle is inconsistent, rebuild it", src, r.DigestStr(), digest)
		}
		t.ref = repo.Digest(digest)
	}
	if tag, ok := tagOf(src); ok && t.ref.Identifier() != tag {
		// "repo:tag@digest": go-containerregistry keeps the digest only;
		// the tag is what the site asks for.
		t.ref = repo.Tag(tag)
	}
	return t, nil
}

// tagOf returns the tag of "repo:tag@digest" or "repo:tag".
func tagOf(ref string) (string, bool) {
	ref, _, _ = strings.Cut(ref, "@")
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || i < strings.LastIndexByte(ref, '/') {
		return "", false
	}
	return ref[i+1:], true
}

// checkTarget refuses a --to that is not HOST[:PORT].
func checkTarget(host string, plainHTTP bool) error {
	if host == "" || strings.ContainsAny(host, "/@?#") || strings.Contains(host, "://") {
		return fmt.Errorf("--to %q: want HOST[:PORT] of the site registry, without scheme or path", host)
	}
	if _, err := name.NewRegistry(host, name.StrictValidation); err != nil {
		return fmt.Errorf("--to %q: %v", host, err)
	}
	if plainHTTP && !fetch.IsLoopback(host) {
		return fmt.Errorf("--plain-http is only allowed for a loopback registry (127.0.0.1, ::1, localhost), not %s: "+
			"give the registry's CA with --ca-file instead", host)
	}
	return nil
}
