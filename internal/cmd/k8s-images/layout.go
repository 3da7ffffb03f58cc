package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/factory-appliance/appliance/images"
)

// BuildOptions configures Build.
type BuildOptions struct {
	// Images are the names to write (a stack's, see StackImages), in
	// order; CheckImages must pass for them and the kubeadm of BinDir.
	Images  []string
	BinDir  string    // kubeadm, kube-*, etcd, coredns, pause, hello
	Out     string    // OCI layout to create
	Xtables string    // xtables-nft-multi for kube-proxy
	Log     io.Writer // progress, may be nil
}

// Build writes o.Images, after checking them against what the kubeadm of
// o.BinDir lists (CheckImages), plus HelloImage, into a new OCI layout and
// returns their names in the order written.
func Build(ctx context.Context, o BuildOptions) ([]string, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Xtables == "" {
		o.Xtables = DefaultXtables
	}
	if _, err := os.Stat(o.Out); err == nil {
		return nil, fmt.Errorf("%s exists; remove it first", o.Out)
	}
	if len(o.Images) == 0 {
		return nil, errors.New("no images to build")
	}
	version, listed, err := KubeadmImages(ctx, filepath.Join(o.BinDir, "kubeadm"))
	if err != nil {
		return nil, err
	}
	if err := CheckImages(o.Images, listed); err != nil {
		return nil, fmt.Errorf("kubeadm %s: %w", version, err)
	}
	names := append(slices.Clone(o.Images), HelloImage)
	tmp := o.Out + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		spec, err := specFor(n, o.BinDir, o.Xtables)
		if err != nil {
			return nil, err
		}
		img, layerFile, err := buildImage(spec, tmp)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", n, err)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
			images.AnnotationRefName: n, images.AnnotationImageName: n,
		})); err != nil {
			return nil, fmt.Errorf("image %s: %w", n, err)
		}
		if err := os.Remove(layerFile); err != nil {
			return nil, err
		}
		d, _ := img.Digest()
		fmt.Fprintf(o.Log, "k8s-images: %s %s\n", n, d)
	}
	if err := os.RemoveAll(filepath.Join(tmp, "layers.tmp")); err != nil {
		return nil, err
	}
	return names, os.Rename(tmp, o.Out)
}

// buildImage writes the spec's layer to a file under work and returns a
// one-layer OCI image of it, and the file, which the image reads until it
// is written out.
func buildImage(s imageSpec, work string) (v1.Image, string, error) {
	dir := filepath.Join(work, "layers.tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	f, err := os.CreateTemp(dir, "layer-*.tar.gz")
	if err != nil {
		return nil, "", err
	}
	werr := writeLayer(f, s.Files)
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return nil, "", werr
	}
	layer, err := tarball.LayerFromFile(f.Name(), tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, "", err
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
		mutate.Addendum{Layer: layer, MediaType: types.OCILayer})
	if err != nil {
		return nil, "", err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Env = []string{"PATH=" + defaultPath}
	cf.Config.User = s.User
	cf.Config.WorkingDir = "/"
	if len(s.Ports) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range s.Ports {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	cf.History = []v1.History{{Created: v1.Time{Time: epoch}, CreatedBy: "k8s-images (scripts/k8s/build.sh)", Comment: s.Name}}
	img, err = mutate.ConfigFile(img, cf)
	return img, f.Name(), err
}

// LayoutImage is one image of a layout.
type LayoutImage struct {
	Name  string // io.containerd.image.name (or ref.name)
	Image v1.Image
	Desc  v1.Descriptor
}

// ReadLayout returns the layout's images sorted by name.
func ReadLayout(dir string) ([]LayoutImage, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []LayoutImage
	for _, d := range im.Manifests {
		n := d.Annotations[images.AnnotationImageName]
		if n == "" {
			n = d.Annotations[images.AnnotationRefName]
		}
		if n == "" {
			return nil, fmt.Errorf("%s: manifest %s has no name annotation", dir, d.Digest)
		}
		if !d.MediaType.IsImage() {
			return nil, fmt.Errorf("%s: %s is a %s, want an image manifest", dir, n, d.MediaType)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, n, err)
		}
		out = append(out, LayoutImage{Name: n, Image: img, Desc: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Pushed is one image written to a registry.
type Pushed struct {
	Name   string // name in the layout
	Ref    string // where it went: ADDR/REPO:TAG
	Digest string
}

// MirrorRef is where Push writes name: addr, then the repository path and
// tag with the registry host dropped.
func MirrorRef(addr, ref string) (name.Tag, error) {
	r, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return name.Tag{}, fmt.Errorf("image name %q: %w", ref, err)
	}
	return name.NewTag(addr+"/"+r.RepositoryStr()+":"+r.TagStr(), name.Insecure)
}

// Push writes every image of the layout to the plain-HTTP registry at addr,
// which must be on loopback.
func Push(ctx context.Context, dir, addr string) ([]Pushed, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("registry address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("registry %s is not on loopback; k8s-images pushes only to loopback", addr)
	}
	imgs, err := ReadLayout(dir)
	if err != nil {
		return nil, err
	}
	var out []Pushed
	for _, im := range imgs {
		tag, err := MirrorRef(addr, im.Name)
		if err != nil {
			return out, err
		}
		if err := remote.Write(tag, im.Image, remote.WithContext(ctx)); err != nil {
			if errors.Is(err, context.Canceled) {
				return out, errors.New("interrupted while pushing")
			}
			return out, fmt.Errorf("push %s: %w", tag, err)
		}
		out = append(out, Pushed{Name: im.Name, Ref: tag.String(), Digest: im.Desc.Digest.String()})
	}
	return out, nil
}
