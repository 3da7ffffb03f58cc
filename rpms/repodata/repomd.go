package repodata

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/xml"
	"fmt"
	"hash"
	"io"
)

// Repomd is repodata/repomd.xml as a reader sees it: the revision and one
// RepomdData per metadata file.
type Repomd struct {
	Revision string       `xml:"revision"`
	Data     []RepomdData `xml:"data"`
}

// RepomdData is one <data> element of repomd.xml: a metadata file's kind
// ("primary", "filelists", ...), its checksum and where it is.
type RepomdData struct {
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

// Find returns the metadata file of the given kind, or nil.
func (m *Repomd) Find(kind string) *RepomdData {
	for i := range m.Data {
		if m.Data[i].Type == kind {
			return &m.Data[i]
		}
	}
	return nil
}

// ParseRepomd decodes repomd.xml, reading at most 8 MiB of it.
func ParseRepomd(r io.Reader) (*Repomd, error) {
	var m Repomd
	if err := xml.NewDecoder(io.LimitReader(r, maxRepomd)).Decode(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

// NewChecksumHash returns the hash for a repodata checksum type.
func NewChecksumHash(kind string) (hash.Hash, error) {
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
