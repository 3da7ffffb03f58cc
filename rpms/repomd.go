package rpms

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash"
	"io"
)

// repomd is repodata/repomd.xml.
type repomd struct {
	Revision string       `xml:"revision"`
	Data     []repomdData `xml:"data"`
}

type repomdData struct {
	Type     string `xml:"type,attr"`
	Checksum struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"checksum"`
	Location struct {
		Href string `xml:"href,attr"`
		Base string `xml:"http://www.w3.org/XML/1998/namespace base,attr"`
	} `xml:"location"`
	Size int64 `xml:"size"`
}

const maxRepomd = 8 << 20

func (m *repomd) find(kind string) *repomdData {
	for i := range m.Data {
		if m.Data[i].Type == kind {
			return &m.Data[i]
		}
	}
	return nil
}

func readRepomd(ctx context.Context, f *Fetcher, baseURL string) (*repomd, error) {
	u, err := resolveURL(baseURL, "repodata/repomd.xml")
	if err != nil {
		return nil, err
	}
	rc, err := f.Open(ctx, u)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var m repomd
	if err := xml.NewDecoder(io.LimitReader(rc, maxRepomd)).Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return &m, nil
}

// newChecksumHash returns the hash for a repodata checksum type.
func newChecksumHash(kind string) (hash.Hash, error) {
	switch kind {
	case "sha256":
		return sha256.New(), nil
	case "sha", "sha1":
		return sha1.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unsupported checksum type %q (want sha1, sha256, sha384 or sha512)", kind)
}

// openMetadata streams one metadata file decompressed to fn, and fails when
// the compressed bytes do not match repomd.xml's checksum. fn's results
// must not be trusted unless openMetadata returns nil.
func openMetadata(ctx context.Context, f *Fetcher, baseURL string, d *repomdData, fn func(io.Reader) error) error {
	base := baseURL
	if d.Location.Base != "" {
		base = d.Location.Base
	}
	u, err := resolveURL(base, d.Location.Href)
	if err != nil {
		return err
	}
	h, err := newChecksumHash(d.Checksum.Type)
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	rc, err := f.Open(ctx, u)
	if err != nil {
		return err
	}
	defer rc.Close()
	tee := io.TeeReader(rc, h)
	r, done, err := decompress(d.Location.Href, tee)
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
