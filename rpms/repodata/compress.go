package repodata

import (
	"compress/bzip2"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Decompress wraps r according to the metadata file name's extension: .gz,
// .bz2, .xz, .zst, or none for plain .xml. The returned close function
// releases decoder resources (not r).
func Decompress(name string, r io.Reader) (io.Reader, func(), error) {
	switch {
	case strings.HasSuffix(name, ".gz"):
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return z, func() { z.Close() }, nil
	case strings.HasSuffix(name, ".bz2"):
		return bzip2.NewReader(r), func() {}, nil
	case strings.HasSuffix(name, ".xz"):
		z, err := xz.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return z, func() {}, nil
	case strings.HasSuffix(name, ".zst"), strings.HasSuffix(name, ".zstd"):
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, nil, err
		}
		return z, z.Close, nil
	case strings.HasSuffix(name, ".xml"):
		return r, func() {}, nil
	}
	return nil, nil, fmt.Errorf("%s: unknown metadata compression (want .gz, .bz2, .xz, .zst or .xml)", name)
}
