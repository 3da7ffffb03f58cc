// Package inspect summarizes a bundle for `bundle inspect`: its name,
// version and platform, whether it is signed, its components and their
// install plan, what each kind of artifact weighs, what dedup saved across
// the images, and the packages of its yum repository. It reads through a
// *bundle.Reader: bundle.json, the seek table and the (verified) image
// manifests.
package inspect

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/progress"
)

// Summary describes a bundle for `bundle inspect`.
type Summary struct {
	Name       string             `json:"name"`
	Version    string             `json:"version"`
	Platform   string             `json:"platform"`
	Signed     bool               `json:"signed"`
	Base       *bundle.BaseRef    `json:"base,omitempty"`
	Components []ComponentSummary `json:"components"`
	Kinds      []KindSummary      `json:"kinds"`
	Images     int                `json:"images"`
	Artifacts  int                `json:"artifacts"`
	// ContentBytes is the sum of the artifact sizes.
	ContentBytes int64 `json:"contentBytes"`
	// UncompressedBytes is the size of the tar stream.
	UncompressedBytes int64 `json:"uncompressedBytes"`
	// CompressedBytes is the size of the bundle file (of all its parts).
	CompressedBytes int64 `json:"compressedBytes"`
	// Parts lists the files of a split bundle, in order.
	Parts []string `json:"parts,omitempty"`
	// Ratio is UncompressedBytes / CompressedBytes.
	Ratio float64 `json:"ratio"`
	// ImageBytes is the sum over images of the sizes of the manifest, config
	// and layers each references, as if every image were stored alone.
	ImageBytes int64 `json:"imageBytes"`
	// UniqueImageBytes counts each of those blobs once, as the bundle stores
	// them.
	UniqueImageBytes int64 `json:"uniqueImageBytes"`
	// DedupSavedBytes is ImageBytes - UniqueImageBytes.
	DedupSavedBytes int64 `json:"dedupSavedBytes"`
	// RPMs lists the packages of the bundle's yum repository.
	RPMs []RPMSummary `json:"rpms,omitempty"`
}

// ComponentSummary counts what one component brought in, and lists how
// deploy installs it: its releases, then its manifests, in order.
type ComponentSummary struct {
	Name      string           `json:"name"`
	Images    int              `json:"images"`
	Files     int              `json:"files"`
	Charts    int              `json:"charts"`
	RPMs      int              `json:"rpms"`
	Releases  []bundle.Release `json:"releases,omitempty"`
	Manifests []string         `json:"manifests,omitempty"`
	// PodNetwork: deploy installs it as the cluster's CNI, in /kubernetes.
	PodNetwork bool `json:"podNetwork,omitempty"`
}

// KindSummary counts the artifacts of one kind.
type KindSummary struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
	Bytes int64  `json:"bytes"`
}

// maxManifestSize bounds the manifests Inspect reads to compute dedup.
const maxManifestSize = 4 << 20

// Inspect summarizes the bundle. It reads the image manifests (verified,
// small) to compute what dedup saved; everything else comes from
// bundle.json and the seek table. A manifest that cannot be read is an
// error: Inspect is no substitute for Verify, but it does not report
// numbers it could not check.
func Inspect(r *bundle.Reader) (*Summary, error) {
	x := r.Index()
	s := &Summary{
		Name: x.Name, Version: x.Version, Platform: x.Platform, Base: x.Base,
		Signed: r.Signature() != nil, Images: len(x.Images), Artifacts: len(x.Artifacts),
		UncompressedBytes: r.UncompressedSize(), CompressedBytes: r.Size(),
	}
	if parts := r.Parts(); len(parts) > 1 {
		s.Parts = parts
	}
	for _, c := range x.Components {
		s.Components = append(s.Components, ComponentSummary{Name: c.Name, Images: len(c.Images), Files: len(c.Files), Charts: len(c.Charts), RPMs: len(c.RPMs),
			Releases: c.Releases, Manifests: c.Manifests, PodNetwork: c.PodNetwork})
	}
	s.Kinds = kindSummaries(x.Artifacts)
	for _, k := range s.Kinds {
		s.ContentBytes += k.Bytes
	}
	if s.CompressedBytes > 0 {
		s.Ratio = float64(s.UncompressedBytes) / float64(s.CompressedBytes)
	}
	s.RPMs = rpmSummaries(x.Artifacts)
	// A delta opened without its base lacks the base's manifests: its
	// dedup numbers would be wrong, so they stay 0.
	if delta, hasBase := r.IsDelta(); !delta || hasBase {
		if err := s.dedup(r); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// RPMSummary is one package of the bundle's yum repository.
type RPMSummary struct {
	NEVRA     string `json:"nevra"`
	Size      int64  `json:"size"`
	Requested bool   `json:"requested"`
	By        string `json:"by,omitempty"`   // the package that pulled it in
	Need      string `json:"need,omitempty"` // the requirement it satisfies
	Path      string `json:"path"`
}

func rpmSummaries(arts []bundle.Artifact) []RPMSummary {
	var out []RPMSummary
	for _, a := range arts {
		if a.Kind != bundle.KindRPM {
			continue
		}
		out = append(out, RPMSummary{
			NEVRA: a.Annotations[bundle.AnnotationRPMNEVRA], Size: a.Size, Path: a.Path,
			Requested: a.Annotations[bundle.AnnotationRPMRequested] == "true",
			By:        a.Annotations[bundle.AnnotationRPMBy], Need: a.Annotations[bundle.AnnotationRPMNeed],
		})
	}
	return out
}

func kindSummaries(arts []bundle.Artifact) []KindSummary {
	by := map[string]*KindSummary{}
	for _, a := range arts {
		k := by[a.Kind]
		if k == nil {
			k = &KindSummary{Kind: a.Kind}
			by[a.Kind] = k
		}
		k.Count++
		k.Bytes += a.Size
	}
	out := make([]KindSummary, 0, len(by))
	for _, k := range by {
		out = append(out, *k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// manifestRefs is the part of an OCI/Docker manifest or index Inspect reads.
type manifestRefs struct {
	Config    *descriptor  `json:"config"`
	Layers    []descriptor `json:"layers"`
	Manifests []descriptor `json:"manifests"`
}

type descriptor struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// dedup fills the image byte counts from the images' manifests.
func (s *Summary) dedup(r *bundle.Reader) error {
	unique := map[string]int64{}
	cache := map[string][]descriptor{}
	for _, im := range r.Index().Images {
		blobs, err := imageBlobs(r, im.Digest, cache, 0)
		if err != nil {
			return fmt.Errorf("image %s: %w", im.Ref, err)
		}
		for _, b := range blobs {
			s.ImageBytes += b.Size
			unique[b.Digest] = b.Size
		}
	}
	for _, n := range unique {
		s.UniqueImageBytes += n
	}
	s.DedupSavedBytes = s.ImageBytes - s.UniqueImageBytes
	return nil
}

// imageBlobs lists the manifest at digest and every blob it references,
// following index entries that the bundle holds.
func imageBlobs(r *bundle.Reader, digest string, cache map[string][]descriptor, depth int) ([]descriptor, error) {
	if b, ok := cache[digest]; ok {
		return b, nil
	}
	if depth > 4 {
		return nil, bundle.Corruptf("manifest %s: index nesting too deep", digest)
	}
	a, ok := r.Lookup("blobs/" + strings.Replace(digest, ":", "/", 1))
	if !ok {
		return nil, nil // not in the bundle (an allowed-missing image or a foreign platform)
	}
	m, err := readManifest(r, a)
	if err != nil {
		return nil, err
	}
	out := []descriptor{{Digest: a.Digest, Size: a.Size}}
	if m.Config != nil {
		out = append(out, *m.Config)
	}
	out = append(out, m.Layers...)
	for _, child := range m.Manifests {
		c, err := imageBlobs(r, child.Digest, cache, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, c...)
	}
	cache[digest] = out
	return out, nil
}

func readManifest(r *bundle.Reader, a bundle.Artifact) (*manifestRefs, error) {
	if a.Size > maxManifestSize {
		return nil, fmt.Errorf("%s: %d bytes is too big for a manifest", a, a.Size)
	}
	rc, err := r.Open(a)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	var m manifestRefs
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a manifest: %w", a, err)
	}
	return &m, nil
}

// WriteJSON writes the summary as indented JSON.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteText writes the summary for a terminal.
func (s *Summary) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	signed := "unsigned"
	if s.Signed {
		signed = "signed"
	}
	fmt.Fprintf(tw, "bundle\t%s %s (%s), %s\n", s.Name, s.Version, s.Platform, signed)
	if s.Base != nil {
		fmt.Fprintf(tw, "base\t%s %s (bundle.json %s): a delta bundle; deploy it with --base\n", s.Base.Name, s.Base.Version, s.Base.Digest)
	}
	fmt.Fprintf(tw, "size\t%s compressed, %s uncompressed, ratio %.2f\n", progress.HumanBytes(s.CompressedBytes), progress.HumanBytes(s.UncompressedBytes), s.Ratio)
	if len(s.Parts) > 0 {
		fmt.Fprintf(tw, "parts\t%d: %s\n", len(s.Parts), strings.Join(s.Parts, " "))
	}
	fmt.Fprintf(tw, "images\t%d, %s as separate images, %s stored, %s saved by dedup\n", s.Images, progress.HumanBytes(s.ImageBytes), progress.HumanBytes(s.UniqueImageBytes), progress.HumanBytes(s.DedupSavedBytes))
	fmt.Fprintf(tw, "artifacts\t%d, %s\n", s.Artifacts, progress.HumanBytes(s.ContentBytes))
	for _, k := range s.Kinds {
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", k.Kind, k.Count, progress.HumanBytes(k.Bytes))
	}
	fmt.Fprintf(tw, "components\t%d\n", len(s.Components))
	for _, c := range s.Components {
		network := ""
		if c.PodNetwork {
			network = "; the pod network (installed in /kubernetes/cni)"
		}
		fmt.Fprintf(tw, "  %s\t%d images, %d files, %d charts, %d rpms%s\n", c.Name, c.Images, c.Files, c.Charts, c.RPMs, network)
		for _, r := range c.Releases {
			values := ""
			if len(r.Values) > 0 {
				values = ", values " + strings.Join(r.Values, " ")
			}
			fmt.Fprintf(tw, "    release %s\t%s in namespace %s%s\n", r.Name, r.Chart, r.Namespace, values)
		}
		for _, m := range c.Manifests {
			fmt.Fprintf(tw, "    manifest\t%s\n", m)
		}
	}
	if len(s.RPMs) > 0 {
		fmt.Fprintf(tw, "rpms\t%d\n", len(s.RPMs))
		for _, p := range s.RPMs {
			why := "requested"
			if !p.Requested {
				why = "needed by " + p.By + " (" + p.Need + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.NEVRA, progress.HumanBytes(p.Size), why)
		}
	}
	return tw.Flush()
}
