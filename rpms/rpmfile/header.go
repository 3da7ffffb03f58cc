package rpmfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits that bound what a hostile package can make the reader allocate.
const (
	leadSize        = 96
	maxIndexEntries = 1 << 16  // rpm's own limit on header index entries
	maxHeaderData   = 64 << 20 // no real package header comes near this
	headerIntroSize = 16
	indexEntrySize  = 16
)

var (
	leadMagic   = []byte{0xed, 0xab, 0xee, 0xdb}
	headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01}
)

// ErrNotRPM is returned for input that does not start with an RPM lead.
var ErrNotRPM = errors.New("not an RPM package (bad lead magic)")

// FormatError reports a malformed package header.
type FormatError struct {
	What   string // the package, as a user would name it
	Reason string
}

func (e *FormatError) Error() string { return e.What + ": malformed RPM: " + e.Reason }

// header is one parsed header structure (signature or main). Raw holds the
// header's bytes exactly as they were in the file, from the magic on.
type header struct {
	Raw     []byte
	entries map[uint32]indexEntry
	data    []byte // the data store, a sub-slice of Raw
}

type indexEntry struct {
	Type   uint32
	Offset uint32
	Count  uint32
}

// readHeader reads one header structure from r. Every index entry is checked
// against the bounds of the data store before it is used.
func readHeader(r io.Reader) (*header, error) {
	intro := make([]byte, headerIntroSize)
	if _, err := io.ReadFull(r, intro); err != nil {
		return nil, fmt.Errorf("reading header: %w", noEOF(err))
	}
	if !bytes.Equal(intro[:4], headerMagic) {
		return nil, errors.New("bad header magic")
	}
	n := binary.BigEndian.Uint32(intro[8:12])
	size := binary.BigEndian.Uint32(intro[12:16])
	if n == 0 || n > maxIndexEntries {
		return nil, fmt.Errorf("header has %d index entries", n)
	}
	if size > maxHeaderData {
		return nil, fmt.Errorf("header data of %d bytes exceeds the %d-byte limit", size, maxHeaderData)
	}
	// Grow the buffer as bytes arrive, so a header that claims a size its
	// input does not have costs no more than the input.
	total := int64(headerIntroSize + int(n)*indexEntrySize + int(size))
	var buf bytes.Buffer
	buf.Grow(int(min(total, 1<<20)))
	buf.Write(intro)
	if _, err := io.CopyN(&buf, r, total-headerIntroSize); err != nil {
		return nil, fmt.Errorf("reading header: %w", noEOF(err))
	}
	return parseHeader(buf.Bytes(), n)
}

func parseHeader(raw []byte, n uint32) (*header, error) {
	h := &header{Raw: raw, entries: make(map[uint32]indexEntry, n)}
	index := raw[headerIntroSize : headerIntroSize+int(n)*indexEntrySize]
	h.data = raw[headerIntroSize+len(index):]
	for i := 0; i < len(index); i += indexEntrySize {
		e := index[i : i+indexEntrySize]
		tag := binary.BigEndian.Uint32(e[0:4])
		ie := indexEntry{
			Type:   binary.BigEndian.Uint32(e[4:8]),
			Offset: binary.BigEndian.Uint32(e[8:12]),
			Count:  binary.BigEndian.Uint32(e[12:16]),
		}
		if err := h.checkEntry(tag, ie); err != nil {
			return nil, err
		}
		h.entries[tag] = ie
	}
	return h, nil
}

// checkEntry rejects entries whose data cannot lie inside the data store.
// Strings are checked lazily (they must be NUL-terminated inside the store).
func (h *header) checkEntry(tag uint32, e indexEntry) error {
	if e.Type > typeI18NString {
		return fmt.Errorf("tag %d has unknown type %d", tag, e.Type)
	}
	if e.Count == 0 && e.Type != typeNull {
		return fmt.Errorf("tag %d has count 0", tag)
	}
	if uint64(e.Offset) > uint64(len(h.data)) {
		return fmt.Errorf("tag %d points outside the header", tag)
	}
	width := map[uint32]uint64{typeChar: 1, typeInt8: 1, typeBin: 1, typeInt16: 2, typeInt32: 4, typeInt64: 8}[e.Type]
	if width > 0 && uint64(e.Offset)+width*uint64(e.Count) > uint64(len(h.data)) {
		return fmt.Errorf("tag %d runs past the end of the header", tag)
	}
	return nil
}

// strings returns a string, string-array or i18n-string tag's values. For
// i18n strings every locale is returned, the C locale first.
func (h *header) strings(tag uint32) ([]string, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, nil
	}
	switch e.Type {
	case typeString, typeStringArray, typeI18NString:
	default:
		return nil, fmt.Errorf("tag %d has type %d, not a string", tag, e.Type)
	}
	count := e.Count
	if e.Type == typeString {
		count = 1
	}
	if uint64(count) > uint64(len(h.data)) {
		return nil, fmt.Errorf("tag %d claims %d strings", tag, count)
	}
	out := make([]string, 0, count)
	rest := h.data[e.Offset:]
	for range count {
		end := bytes.IndexByte(rest, 0)
		if end < 0 {
			return nil, fmt.Errorf("tag %d has an unterminated string", tag)
		}
		out = append(out, string(rest[:end]))
		rest = rest[end+1:]
	}
	return out, nil
}

// str returns the first value of a string tag, or "".
func (h *header) str(tag uint32) (string, error) {
	s, err := h.strings(tag)
	if err != nil || len(s) == 0 {
		return "", err
	}
	return s[0], nil
}

// ints returns an integer tag's values widened to int64 (unsigned).
func (h *header) ints(tag uint32) ([]int64, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, nil
	}
	switch e.Type {
	case typeChar, typeInt8, typeInt16, typeInt32, typeInt64:
	default:
		return nil, fmt.Errorf("tag %d has type %d, not an integer", tag, e.Type)
	}
	d := h.data[e.Offset:]
	out := make([]int64, e.Count)
	for i := range out {
		switch e.Type {
		case typeChar, typeInt8:
			out[i] = int64(d[i])
		case typeInt16:
			out[i] = int64(binary.BigEndian.Uint16(d[2*i:]))
		case typeInt32:
			out[i] = int64(binary.BigEndian.Uint32(d[4*i:]))
		case typeInt64:
			out[i] = int64(binary.BigEndian.Uint64(d[8*i:]))
		}
	}
	return out, nil
}

// int returns the first value of an integer tag and whether it was present.
func (h *header) int(tag uint32) (int64, bool, error) {
	v, err := h.ints(tag)
	if err != nil || len(v) == 0 {
		return 0, false, err
	}
	return v[0], true, nil
}

// bin returns a binary tag's bytes.
func (h *header) bin(tag uint32) ([]byte, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, nil
	}
	if e.Type != typeBin {
		return nil, fmt.Errorf("tag %d has type %d, not binary", tag, e.Type)
	}
	return h.data[e.Offset : e.Offset+e.Count], nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
