package push

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/factory-appliance/appliance/internal/progress"
)

// Report is what a push did. Blob and manifest counts are observed on the
// wire (see countingTransport), not inferred.
type Report struct {
	Target string `json:"target"`
	// Images is the number of images (including signatures, referrers and
	// OCI charts) the bundle holds for the registry.
	Images int `json:"images"`
	// ImagesPushed had at least one manifest written; ImagesPresent were
	// already complete under their name and were not touched.
	ImagesPushed  int `json:"imagesPushed"`
	ImagesPresent int `json:"imagesPresent"`
	ImagesFailed  int `json:"imagesFailed"`
	// Manifests counts manifests and indexes written (PUT accepted).
	Manifests int64 `json:"manifests"`
	// ManifestsPresent counts manifests found already present by digest.
	ManifestsPresent int64 `json:"manifestsPresent"`
	// BlobsUploaded counts uploads the registry completed (PUT 201), and
	// BytesUploaded the bytes of the upload requests it accepted.
	BlobsUploaded int64 `json:"blobsUploaded"`
	BytesUploaded int64 `json:"bytesUploaded"`
	// BlobsSkipped were already in the target repository (HEAD 200).
	BlobsSkipped int64 `json:"blobsSkipped"`
	// BlobsMounted were mounted from another repository (POST mount= 201).
	BlobsMounted int64 `json:"blobsMounted"`
	// ProjectsCreated lists the Harbor projects this push created.
	ProjectsCreated []string `json:"projectsCreated"`
	Harbor          bool     `json:"harbor"`
	DurationSeconds float64  `json:"durationSeconds"`
	// Warnings are things done differently than asked, such as an index
	// the registry refused because the bundle carries one platform only.
	Warnings []string `json:"warnings"`
	// Errors names every image that failed and why.
	Errors []string `json:"errors"`
}

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	var err error
	p := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	p("pushed to %s in %.1fs\n", r.Target, r.DurationSeconds)
	p("  images:    %d (%d pushed, %d already present, %d failed)\n", r.Images, r.ImagesPushed, r.ImagesPresent, r.ImagesFailed)
	p("  manifests: %d written, %d already present\n", r.Manifests, r.ManifestsPresent)
	p("  blobs:     %d uploaded (%s), %d mounted from another repository, %d already present\n",
		r.BlobsUploaded, progress.HumanBytes(r.BytesUploaded), r.BlobsMounted, r.BlobsSkipped)
	if r.Harbor {
		p("  harbor:    %d projects created %v\n", len(r.ProjectsCreated), r.ProjectsCreated)
	}
	for _, x := range r.Warnings {
		p("warning: %s\n", x)
	}
	for _, x := range r.Errors {
		p("error: %s\n", x)
	}
	return err
}
