package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/factory-appliance/appliance/internal/bundle/chunkcache"
	"github.com/factory-appliance/appliance/internal/bundle/parts"
	"github.com/factory-appliance/appliance/internal/seekable"
)

// maxFrameSize is the largest decompressed frame a bundle holds: a header,
// one chunk and the tar padding.
const maxFrameSize = ChunkSize + maxHeaderLen + tarBlock

// OpenOption configures a Reader.
type OpenOption func(*openOptions) error

type openOptions struct {
	indexCheck func(index, sig []byte) error
	seekable   []seekable.ReaderOption
	chunkCache int64
	base       *Reader
}

// WithIndexCheck makes the Reader call check with the raw bytes of
// bundle.json and bundle.json.sig (nil when unsigned) before it parses or
// trusts the index; an error from check fails the open. This is where the
// caller verifies the signature. Without it, the index is NOT authenticated:
// the Reader only checks that the file is intact and consistent, which a
// forger can arrange too.
func WithIndexCheck(check func(index, sig []byte) error) OpenOption {
	return func(o *openOptions) error {
		o.indexCheck = check
		return nil
	}
}

// WithDecoderConcurrency bounds how many frames are decompressed at the same
// time across all readers of the bundle (default GOMAXPROCS).
func WithDecoderConcurrency(n int) OpenOption {
	return func(o *openOptions) error {
		o.seekable = append(o.seekable, seekable.WithDecoderConcurrency(n))
		return nil
	}
}

// Reader reads a bundle file. Opening it reads only the seek table, the
// pointer, bundle.json and its signature, and checks that the entries listed
// tile the tar stream exactly; the cost does not depend on the size of the
// bundle. Every read of an entry is verified against its digests.
//
// A Reader is safe for concurrent use by many goroutines: it keeps no
// position and reads the file with ReadAt.
type Reader struct {
	sr      *seekable.Reader
	closer  io.Closer
	ptr     pointer
	index   *Index
	raw     []byte // bundle.json
	sig     []byte
	byPath  map[string]int
	entries []placed // every entry, index included, in file order
	bufs    sync.Pool
	cache   *chunkcache.Cache[chunkKey] // nil unless WithChunkCache
	parts   []string                    // the files Open opened
	base    *Reader                     // a delta's base, WithBase
	// headersOK holds the data offsets of the entries whose tar header
	// checkHeaderOf checked.
	headersOK sync.Map
}

// placed is an entry's extent in the uncompressed stream.
type placed struct {
	start int64 // where its header frame starts
	data  int64 // where its data starts
	size  int64
	path  string
}

func (p placed) end() int64 { return p.data + padded(p.size) }

// Open opens the bundle file at path, or the parts of a split bundle (see
// parts.Files) as one file. Close the Reader to close the files.
func Open(path string, opts ...OpenOption) (*Reader, error) {
	files, err := parts.Files(path)
	if err != nil {
		return nil, err
	}
	var ra interface {
		io.ReaderAt
		io.Closer
	}
	var size int64
	if len(files) == 1 {
		f, err := os.Open(files[0])
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		ra, size = f, st.Size()
	} else if ra, size, err = parts.Open(files); err != nil {
		return nil, err
	}
	split := files[0] != path || parts.IsPart(path)
	if split {
		if err := parts.CheckLast(strings.TrimSuffix(files[0], ".001"), files); err != nil {
			ra.Close()
			return nil, err
		}
	}
	r, err := NewReader(ra, size, opts...)
	if err != nil {
		ra.Close()
		if split {
			if errors.Is(err, ErrCorrupt) {
				err = fmt.Errorf("%w; if the parts were copied, check that each was copied whole (compare their sizes with the originals')", err)
			}
			return nil, fmt.Errorf("split bundle %s (%d parts): %w", path, len(files), err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.closer, r.parts = ra, files
	return r, nil
}

// NewReader opens a bundle held by ra, of size bytes. See Reader and
// WithIndexCheck for what is checked.
func NewReader(ra io.ReaderAt, size int64, opts ...OpenOption) (*Reader, error) {
	var o openOptions
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	sopts := append([]seekable.ReaderOption{seekable.WithReaderMaxFrameSize(maxFrameSize)}, o.seekable...)
	sr, err := seekable.NewReader(ra, size, sopts...)
	if err != nil {
		return nil, err
	}
	r := &Reader{sr: sr}
	r.bufs.New = func() any { return new([]byte) }
	if o.chunkCache > 0 {
		r.cache = chunkcache.New[chunkKey](o.chunkCache, chunkBufSize)
	}
	if err := r.open(o); err != nil {
		sr.Close()
		return nil, err
	}
	if o.base != nil {
		err := r.attachBase(o.base)
		if err == nil {
			err = r.checkNesting() // the delta's paths and its base's together
		}
		if err != nil {
			r.base = nil // the caller still owns base
			sr.Close()
			return nil, err
		}
	}
	return r, nil
}

func (r *Reader) open(o openOptions) error {
	var err error
	if r.ptr, err = r.readPointer(); err != nil {
		return err
	}
	if err := r.checkEnd(); err != nil {
		return err
	}
	if r.raw, err = r.readIndexEntry(IndexName, r.ptr.Index); err != nil {
		return err
	}
	if r.ptr.Signature.present() {
		if r.sig, err = r.readIndexEntry(SignatureName, r.ptr.Signature); err != nil {
			return err
		}
	}
	if o.indexCheck != nil {
		if err := o.indexCheck(r.raw, r.sig); err != nil {
			return fmt.Errorf("%s rejected: %w", IndexName, err)
		}
	}
	if r.index, err = ParseIndex(r.raw); err != nil {
		return err
	}
	r.byPath = make(map[string]int, len(r.index.Artifacts))
	for i, a := range r.index.Artifacts {
		r.byPath[a.Path] = i
	}
	if err := r.checkNesting(); err != nil {
		return err
	}
	return r.checkLayout()
}

// checkNesting refuses an index that lists a path both as a file and as
// the parent directory of another entry ("files/x" and "files/x/y"), or
// puts an entry under bundle.json or its signature: extracting it, or
// `tar -x`, would write one of the two and fail on the other half-way.
// The Writer never writes such an index. For a delta with its base
// attached it checks the paths of both.
func (r *Reader) checkNesting() error {
	check := func(p string) error {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, file := r.owner(d); file || d == IndexName || d == SignatureName {
				return Corruptf("%s lists %q as a file and also %q inside it, as if it were a directory; "+
					"no bundle written by this tool does that, and extracting it would stop half-way: rebuild the bundle", IndexName, d, p)
			}
		}
		return nil
	}
	for _, a := range r.index.Artifacts {
		if err := check(a.Path); err != nil {
			return err
		}
	}
	if r.base == nil {
		return nil
	}
	for _, a := range r.base.Artifacts() {
		if _, own := r.byPath[a.Path]; !own {
			if err := check(a.Path); err != nil {
				return err
			}
		}
	}
	return nil
}

// readPointer reads and checks the pointer frame, the last before the seek
// table.
func (r *Reader) readPointer() (pointer, error) {
	n := r.sr.NumFrames()
	if n < 2 {
		return pointer{}, Corruptf("%d frames: not a bundle file", n)
	}
	for i := range n - 1 {
		if r.sr.Frame(i).UncompressedSize == 0 {
			return pointer{}, Corruptf("frame %d is empty or skippable; a bundle's data frames never are", i)
		}
	}
	f := r.sr.Frame(n - 1)
	if f.UncompressedSize != 0 || f.CompressedSize != 8+PointerPayloadSize {
		return pointer{}, Corruptf("no bundle pointer before the seek table (not a bundle file?)")
	}
	raw, err := r.sr.ReadRawFrame(n - 1)
	if err != nil {
		return pointer{}, err
	}
	if binary.LittleEndian.Uint32(raw) != PointerMagic || binary.LittleEndian.Uint32(raw[4:]) != PointerPayloadSize {
		return pointer{}, Corruptf("no bundle pointer before the seek table (not a bundle file?)")
	}
	p, err := parsePointer(raw[8:])
	if err != nil {
		return p, err
	}
	return p, r.checkPointer(p)
}

// checkPointer bounds the pointer's offsets by the stream.
func (r *Reader) checkPointer(p pointer) error {
	if p.TarEnd > r.sr.Size() || r.sr.Size()-p.TarEnd != tarEndSize {
		return Corruptf("the tar stream should end %d bytes before the end of the %d-byte stream, the pointer says at %d", tarEndSize, r.sr.Size(), p.TarEnd)
	}
	check := func(name string, s span, limit int64) error {
		if s.Size > limit || s.Offset < tarBlock || s.Offset > p.TarEnd || s.Size > p.TarEnd-s.Offset {
			return Corruptf("%s at offset %d, %d bytes: outside the tar stream or over %d bytes", name, s.Offset, s.Size, limit)
		}
		return nil
	}
	if err := check(IndexName, p.Index, MaxIndexSize); err != nil {
		return err
	}
	if !p.Signature.present() {
		if p.Signature != (span{}) {
			return Corruptf("unsigned bundle with signature fields set in the pointer")
		}
		return nil
	}
	return check(SignatureName, p.Signature, MaxSignatureSize)
}

// checkEnd checks the end-of-archive blocks, a frame of their own.
func (r *Reader) checkEnd() error {
	i, _ := r.sr.FrameAt(r.ptr.TarEnd)
	if f := r.sr.Frame(i); f.UncompressedOffset != r.ptr.TarEnd || f.UncompressedSize != tarEndSize {
		return Corruptf("the tar end-of-archive blocks are not a frame of their own")
	}
	var end [tarEndSize]byte
	if _, err := r.sr.ReadAt(end[:], r.ptr.TarEnd); err != nil {
		return err
	}
	if end != [tarEndSize]byte{} {
		return Corruptf("the tar end-of-archive blocks are not zero")
	}
	return nil
}

// readIndexEntry reads bundle.json or its signature, checking its tar header
// and its sha256 from the pointer.
func (r *Reader) readIndexEntry(name string, s span) ([]byte, error) {
	start, err := r.headerStart(s.Offset)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b := make([]byte, s.Offset+s.Size-start)
	if _, err := r.sr.ReadAt(b, start); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := checkEntryHeader(b[:s.Offset-start], name, s.Size); err != nil {
		return nil, err
	}
	b = b[s.Offset-start:]
	if sha256.Sum256(b) != s.Digest {
		return nil, Corruptf("%s does not match the sha256 in the bundle pointer", name)
	}
	return b, nil
}

// headerStart returns where the header of the entry whose data starts at
// off begins: the start of the frame holding the byte before the data.
func (r *Reader) headerStart(off int64) (int64, error) {
	i, ok := r.sr.FrameAt(off - 1)
	if !ok {
		return 0, Corruptf("data offset %d is outside the stream", off)
	}
	start := r.sr.Frame(i).UncompressedOffset
	if n := off - start; n < tarBlock || n > maxHeaderLen {
		return 0, Corruptf("data offset %d is not right after a tar header at a frame start (%d bytes after it)", off, n)
	}
	return start, nil
}

// checkEntryHeader parses the tar header blocks in b, which must be exactly
// one regular-file entry header for path and size as this package writes it.
func checkEntryHeader(b []byte, path string, size int64) error {
	br := bytes.NewReader(b)
	hdr, err := tar.NewReader(br).Next()
	if err != nil {
		return Corruptf("tar header of %s: %v", path, err)
	}
	if err := checkHeader(hdr); err != nil {
		return err
	}
	if hdr.Name != path || hdr.Size != size {
		return Corruptf("the tar header at the offset listed for %s names %q with %d bytes, not %d", path, hdr.Name, hdr.Size, size)
	}
	if br.Len() != 0 {
		return Corruptf("the tar header of %s does not end where its data is listed to start", path)
	}
	return nil
}

// checkHeader refuses every tar header this package would not write:
// anything but a regular file of mode 0644, unsafe names, GNU extensions,
// and PAX records other than path and size.
func checkHeader(h *tar.Header) error {
	if h.Typeflag != tar.TypeReg {
		return Corruptf("%q: %s entries are refused; a bundle holds regular files only", h.Name, typeName(h.Typeflag))
	}
	if err := CheckPath(h.Name); err != nil {
		return Corruptf("%w", err)
	}
	if h.Mode != 0o644 || h.Linkname != "" {
		return Corruptf("%s: mode %#o and link name %q; a bundle writes mode 0644 and no link", h.Name, h.Mode, h.Linkname)
	}
	if h.Format&tar.FormatGNU != 0 {
		return Corruptf("%s: GNU tar extensions are refused", h.Name)
	}
	for k := range h.PAXRecords {
		if k != "path" && k != "size" {
			return Corruptf("%s: PAX record %q is refused", h.Name, k)
		}
	}
	return nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hardlink"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeDir:
		return "directory"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("type %q", t)
}

// checkLayout checks that the listed entries, bundle.json and its signature
// tile the tar stream from offset 0 to the end-of-archive blocks: no gaps
// (where unlisted entries could hide), no overlaps, each header at a frame
// start, and bundle.json then its signature last.
func (r *Reader) checkLayout() error {
	all := make([]placed, 0, len(r.index.Artifacts)+2)
	for _, a := range r.index.Artifacts {
		p, err := r.place(a.Path, a.Offset, a.Size)
		if err != nil {
			return &ArtifactError{Artifact: a, Err: err}
		}
		all = append(all, p)
	}
	tail := []span{r.ptr.Index}
	names := []string{IndexName}
	if r.ptr.Signature.present() {
		tail, names = append(tail, r.ptr.Signature), append(names, SignatureName)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].data < all[j].data })
	for i, s := range tail {
		p, err := r.place(names[i], s.Offset, s.Size)
		if err != nil {
			return err
		}
		all = append(all, p)
	}
	var at int64
	for _, p := range all {
		if p.start != at {
			return Corruptf("%s is listed at offset %d, but the previous entry ends at %d (unlisted data, overlap, or %s/%s not last)", p.path, p.start, at, IndexName, SignatureName)
		}
		at = p.end()
	}
	if at != r.ptr.TarEnd {
		return Corruptf("the last entry ends at %d but the tar stream ends at %d", at, r.ptr.TarEnd)
	}
	r.entries = all
	return nil
}

// place locates an entry and bounds it by the tar stream.
func (r *Reader) place(path string, off, size int64) (placed, error) {
	if off < tarBlock || off > r.ptr.TarEnd || size > r.ptr.TarEnd-off {
		return placed{}, Corruptf("offset %d and size %d lie outside the %d-byte tar stream", off, size, r.ptr.TarEnd)
	}
	start, err := r.headerStart(off)
	if err != nil {
		return placed{}, err
	}
	return placed{start: start, data: off, size: size, path: path}, nil
}

// Close closes the Reader and, when opened with Open, the file. Call it
// after every reader returned by Open and OpenRange is done.
func (r *Reader) Close() error {
	r.sr.Close()
	var err error
	if r.closer != nil {
		err = r.closer.Close()
	}
	if r.base != nil {
		err = errors.Join(err, r.base.Close())
	}
	return err
}

// Index returns the parsed bundle.json. Callers must not modify it.
func (r *Reader) Index() *Index { return r.index }

// IndexBytes returns the raw bytes of bundle.json, as signed.
func (r *Reader) IndexBytes() []byte { return bytes.Clone(r.raw) }

// Signature returns the raw bytes of bundle.json.sig, or nil when the
// bundle is unsigned.
func (r *Reader) Signature() []byte { return bytes.Clone(r.sig) }

// Size returns the size of the bundle file.
func (r *Reader) Size() int64 { return r.sr.CompressedSize() }

// UncompressedSize returns the size of the tar stream, end blocks included.
func (r *Reader) UncompressedSize() int64 { return r.sr.Size() }

// Parts returns the files Open opened, in order: one for a bundle in one
// file, every part of a split bundle; none for a Reader from NewReader.
func (r *Reader) Parts() []string { return slices.Clone(r.parts) }

// Frames returns the zstd frames of the bundle file in file order, the
// pointer frame last (the seek table follows it): a copy of the file cut
// where a frame ends leaves each piece a valid zstd file (package split).
func (r *Reader) Frames() []seekable.Frame {
	frames := make([]seekable.Frame, r.sr.NumFrames())
	for i := range frames {
		frames[i] = r.sr.Frame(i)
	}
	return frames
}

// Lookup returns the artifact stored at path (in a delta's base when the
// delta does not list it).
func (r *Reader) Lookup(path string) (Artifact, bool) {
	o, ok := r.owner(path)
	if !ok {
		return Artifact{}, false
	}
	return o.index.Artifacts[o.byPath[path]], true
}
