package siteserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/factory-appliance/appliance/internal/iox"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// bufferSize is the copy buffer per streaming response, taken from a pool;
// it bounds the server's memory per connection. (Content that writes
// itself, content.VerifiedWriterTo, uses its own buffers of this size.)
const bufferSize = 256 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// entry is one piece of content to send.
type entry struct {
	path        string // bundle path
	size        int64
	digest      string
	contentType string
}

// errRangeNotSatisfiable reports a Range header the server cannot serve.
var errRangeNotSatisfiable = errors.New("range not satisfiable")

// parseRange parses a Range header against an entry of size bytes. It returns
// ok=false when the whole entry is to be sent: no header, another unit, or
// several ranges (which the server may ignore). A single range that is
// malformed or starts beyond the end is errRangeNotSatisfiable.
func parseRange(header string, size int64) (off, n int64, ok bool, err error) {
	spec, found := strings.CutPrefix(header, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, errRangeNotSatisfiable
	}
	if first == "" { // suffix: the last N bytes
		suffix, err := strconv.ParseInt(last, 10, 64)
		if err != nil || suffix <= 0 || size == 0 {
			return 0, 0, false, errRangeNotSatisfiable
		}
		suffix = min(suffix, size)
		return size - suffix, suffix, true, nil
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false, errRangeNotSatisfiable
	}
	end := size - 1
	if last != "" {
		end, err = strconv.ParseInt(last, 10, 64)
		if err != nil || end < start {
			return 0, 0, false, errRangeNotSatisfiable
		}
		end = min(end, size-1)
	}
	return start, end - start + 1, true, nil
}

// sendEntry answers a GET or HEAD for e, with Range (one range, 206 and
// Content-Range; 416 for a range it cannot serve), ETag (the digest) and
// If-None-Match. The body streams through Content's verification; see
// copyHeldBack for what a client sees when it fails.
func (s *Server) sendEntry(w http.ResponseWriter, r *http.Request, e entry) {
	h := w.Header()
	etag := `"` + e.digest + `"`
	h.Set("ETag", etag)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", e.contentType)
	if inm := r.Header.Get("If-None-Match"); inm != "" && (inm == etag || inm == "*") {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	off, n, status := int64(0), e.size, http.StatusOK
	if ir := r.Header.Get("If-Range"); ir == "" || ir == etag {
		o, l, partial, err := parseRange(r.Header.Get("Range"), e.size)
		if err != nil {
			h.Set("Content-Range", "bytes */"+itoa(e.size))
			writeError(w, r, http.StatusRequestedRangeNotSatisfiable, codeUnsupported,
				fmt.Sprintf("range %q is not within the %d bytes of %s", r.Header.Get("Range"), e.size, e.digest))
			return
		}
		if partial {
			off, n, status = o, l, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", o, o+l-1, e.size))
		}
	}
	h.Set("Content-Length", itoa(n))
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	s.stream(w, r, e, off, n, status)
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, e entry, off, n int64, status int) {
	rc, err := s.content.Open(r.Context(), e.path, off, n)
	if err != nil {
		s.failBeforeHeaders(w, r, e, err)
		return
	}
	defer rc.Close()
	started, err := copyHeldBack(clientWriter{w}, rc, func() { w.WriteHeader(status) })
	if err == nil {
		return
	}
	if !started {
		s.failBeforeHeaders(w, r, e, err)
		return
	}
	s.logReadFailure(r, e, err)
	// The status line is out: cut the connection, so the client sees a
	// short body or a reset stream, never a complete one.
	panic(http.ErrAbortHandler)
}

func (s *Server) failBeforeHeaders(w http.ResponseWriter, r *http.Request, e entry, err error) {
	for _, k := range []string{"Content-Length", "Content-Range", "ETag", "Accept-Ranges", "Docker-Content-Digest"} {
		w.Header().Del(k)
	}
	if errors.Is(err, content.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, codeBlobUnknown, e.path+" is not in the bundle")
		return
	}
	s.logReadFailure(r, e, err)
	writeError(w, r, http.StatusInternalServerError, codeUnknown, "reading "+e.path+" from the bundle failed; see the server log")
}

func (s *Server) logReadFailure(r *http.Request, e entry, err error) {
	var cw *clientWriteError
	if errors.As(err, &cw) || errors.Is(err, context.Canceled) || errors.Is(r.Context().Err(), context.Canceled) {
		s.log.Debug("client went away or was too slow", "path", e.path, "remote", r.RemoteAddr, "err", err)
		return
	}
	s.log.Error("serving bundle content failed; nothing was sent as good", "path", e.path,
		"digest", e.digest, "url", r.URL.Path, "remote", r.RemoteAddr, "err", err)
}

// clientWriter marks the errors of writing to the client, so that they are
// not taken for failures to read the bundle.
type clientWriter struct{ w io.Writer }

func (c clientWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		err = &clientWriteError{err}
	}
	return n, err
}

// clientWriteError is an error writing a response to its client: it went
// away, or was dropped for reading too slowly.
type clientWriteError struct{ err error }

func (e *clientWriteError) Error() string { return "writing to the client: " + e.err.Error() }
func (e *clientWriteError) Unwrap() error { return e.err }

// copyHeldBack copies src to w through a pooled buffer, holding back the
// last chunk read until the next read has succeeded. A verifying reader
// reports a mismatch at the latest on the read after its last bytes, so the
// bytes it cannot vouch for are never written. start is called once, just
// before the first byte is written; when an error comes before that (always
// so for content smaller than half the buffer) started is false and nothing
// has been sent, so the caller can still answer with an error status.
func copyHeldBack(w io.Writer, src io.Reader, start func()) (started bool, err error) {
	if v, ok := src.(content.VerifiedWriterTo); ok {
		sw := &startWriter{w: w, start: start}
		if _, ok, err := v.WriteVerifiedTo(sw); ok {
			if err == nil && !sw.started {
				start() // empty content
				sw.started = true
			}
			return sw.started, err
		}
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	half := len(*bp) / 2
	held, next := (*bp)[:half], (*bp)[half:]
	nHeld, err := iox.Fill(src, held)
	for {
		if err != nil && err != io.EOF {
			return started, err
		}
		var nNext int
		if err == nil {
			nNext, err = iox.Fill(src, next)
			if err != nil && err != io.EOF {
				return started, err
			}
		}
		// Everything in held is now vouched for.
		if !started {
			start()
			started = true
		}
		if _, werr := w.Write(held[:nHeld]); werr != nil {
			return started, werr
		}
		if err == io.EOF && nNext == 0 {
			return started, nil
		}
		held, next, nHeld = next, held, nNext
	}
}

// startWriter calls start before its first write.
type startWriter struct {
	w       io.Writer
	start   func()
	started bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	if !s.started {
		s.start()
		s.started = true
	}
	return s.w.Write(p)
}
