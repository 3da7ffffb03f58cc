package images

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
)

// Annotations on index.json descriptors.
const (
	// AnnotationRefName carries the reference as written in the manifest.
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationImageName carries the canonical name; `ctr image import`
	// names the image after it.
	AnnotationImageName = "io.containerd.image.name"
)

const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

type layoutDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

type layoutIndex struct {
	SchemaVersion int                `json:"schemaVersion"`
	MediaType     string             `json:"mediaType"`
	Manifests     []layoutDescriptor `json:"manifests"`
}

// Layout returns the `oci-layout` file and `index.json` of one OCI image
// layout holding every image, and the sorted, deduplicated list of blobs
// (manifests, configs, layers) the layout's blobs/ directory must hold.
//
// Each image gets one descriptor: its top-level manifest or index, digest
// unchanged, annotated with AnnotationRefName (the reference as written)
// and AnnotationImageName (the canonical name). For an index only the
// selected platform's manifest and blobs are listed; readers that walk an
// index skip the platforms they do not want (containerd's import does, with
// its default platform, or with --platform matching the one selected).
// The output depends only on the set of images, not their order.
func Layout(imgs []*Image) (ociLayout, indexJSON []byte, blobs []Blob, err error) {
	descs := make([]layoutDescriptor, 0, len(imgs))
	seen := map[string]Blob{}
	for _, img := range imgs {
		if err := checkDigest(img.Digest); err != nil {
			return nil, nil, nil, fmt.Errorf("layout: image %s: %w", img.Name, err)
		}
		descs = append(descs, layoutDescriptor{
			MediaType: img.MediaType, Digest: img.Digest, Size: img.Size,
			Annotations: map[string]string{AnnotationRefName: img.Ref, AnnotationImageName: img.Name},
		})
		for _, b := range img.Blobs() {
			if prev, ok := seen[b.Digest]; ok && prev.Size != b.Size {
				return nil, nil, nil, fmt.Errorf("layout: blob %s is listed with sizes %d and %d", b.Digest, prev.Size, b.Size)
			}
			if prev, ok := seen[b.Digest]; ok && prev.MediaType < b.MediaType {
				continue // a blob shared under two media types: keep one, whatever the order
			}
			seen[b.Digest] = b
		}
	}
	descs = sortDescriptors(descs)
	indexJSON, err = json.Marshal(layoutIndex{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: descs})
	if err != nil {
		return nil, nil, nil, err
	}
	for _, b := range seen {
		blobs = append(blobs, b)
	}
	slices.SortFunc(blobs, func(a, b Blob) int { return cmp.Compare(a.Digest, b.Digest) })
	return []byte(ociLayoutFile), indexJSON, blobs, nil
}

// sortDescriptors orders by reference, then canonical name, then digest,
// and drops exact duplicates.
func sortDescriptors(d []layoutDescriptor) []layoutDescriptor {
	key := func(x layoutDescriptor) [3]string {
		return [3]string{x.Annotations[AnnotationRefName], x.Annotations[AnnotationImageName], x.Digest}
	}
	slices.SortFunc(d, func(a, b layoutDescriptor) int {
		ka, kb := key(a), key(b)
		return cmp.Or(cmp.Compare(ka[0], kb[0]), cmp.Compare(ka[1], kb[1]), cmp.Compare(ka[2], kb[2]))
	})
	return slices.CompactFunc(d, func(a, b layoutDescriptor) bool { return key(a) == key(b) })
}
