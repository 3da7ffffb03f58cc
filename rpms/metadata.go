package rpms

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/factory-appliance/appliance/rpms/repodata"
)

// readRepomd reads baseURL's repodata/repomd.xml.
func readRepomd(ctx context.Context, f *Fetcher, baseURL string) (*repodata.Repomd, error) {
	u, err := resolveURL(baseURL, "repodata/repomd.xml")
	if err != nil {
		return nil, err
	}
	rc, err := f.Open(ctx, u)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	m, err := repodata.ParseRepomd(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return m, nil
}

// openMetadata streams one metadata file decompressed to fn, and fails when
// the compressed bytes do not match repomd.xml's checksum. fn's results
// must not be trusted unless openMetadata returns nil.
func openMetadata(ctx context.Context, f *Fetcher, baseURL string, d *repodata.RepomdData, fn func(io.Reader) error) error {
	base := baseURL
	if d.Location.Base != "" {
		base = d.Location.Base
	}
	u, err := resolveURL(base, d.Location.Href)
	if err != nil {
		return err
	}
	h, err := repodata.NewChecksumHash(d.Checksum.Type)
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	rc, err := f.Open(ctx, u)
	if err != nil {
		return err
	}
	defer rc.Close()
	tee := io.TeeReader(rc, h)
	r, done, err := repodata.Decompress(d.Location.Href, tee)
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	defer done()
	if err := fn(r); err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Checksum.Value {
		return fmt.Errorf("%s: %s checksum %s does not match repomd.xml's %s; the mirror is inconsistent or the file was altered", u, d.Checksum.Type, got, d.Checksum.Value)
	}
	return nil
}
