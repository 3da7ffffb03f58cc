package siteserver

import (
	"net/http"
	"time"
)

// Defaults of the minimum write rate (see WithMinWriteRate): a client must
// take each 1 MiB of a response within 20 seconds (about 50 KiB/s). A
// client that stops reading is dropped 20 s after its last progress
// whatever the piece size; the piece is also the size of each write to
// the socket, and 1 MiB writes served make bench's pulls 8 to 12% faster
// than 64 KiB ones (fewer system calls and deadline updates per byte).
const (
	DefaultMinWriteBytes = 1 << 20
	DefaultWriteStall    = 20 * time.Second
)

// WithMinWriteRate sets the slowest client the server keeps sending to: it
// writes every response body in pieces of at most bytes, each with a write
// deadline window from when its write starts, so a client that takes
// longer than window to accept bytes more is disconnected (the response is
// cut; the client sees a short body). Stalled and very slow clients then
// hold no goroutine, buffer or share of the read budgets for long. Zero or
// negative values keep the defaults, DefaultMinWriteBytes and
// DefaultWriteStall.
func WithMinWriteRate(bytes int, window time.Duration) Option {
	return func(s *Server) {
		if bytes > 0 {
			s.minWriteBytes = bytes
		}
		if window > 0 {
			s.writeStall = window
		}
	}
}

// minRateWriter is a ResponseWriter whose body must be taken piece bytes
// at a time, each piece within stall of when its first byte was written:
// the write deadline is set at the start of every piece, however the
// writes are cut (a 4 MiB write goes out in 1 MiB pieces, eight 128 KiB
// writes share one piece's deadline). Time the server spends between two
// writes of a piece (reading and verifying the next chunk, waiting for a
// read budget) is not the client's: a pause of idleGrace or more moves the
// deadline by as much. net/http clears the write deadline when the
// response is done, so it does not outlive the response on a kept-alive
// connection.
type minRateWriter struct {
	http.ResponseWriter
	rc       *http.ResponseController
	piece    int
	stall    time.Duration
	left     int       // bytes left in the current piece
	deadline time.Time // the current piece's
	idle     time.Time // when the last write returned
}

// idleGrace is the pause between two writes of a piece that is not added
// to its deadline.
const idleGrace = 50 * time.Millisecond

func (s *Server) minRate(w http.ResponseWriter) *minRateWriter {
	return &minRateWriter{ResponseWriter: w, rc: http.NewResponseController(w), piece: s.minWriteBytes, stall: s.writeStall}
}

func (m *minRateWriter) Write(p []byte) (int, error) {
	if m.left > 0 {
		if pause := time.Since(m.idle); pause >= idleGrace {
			m.deadline = m.deadline.Add(pause)
			_ = m.rc.SetWriteDeadline(m.deadline)
		}
	}
	defer func() { m.idle = time.Now() }()
	total := 0
	for len(p) > 0 {
		if m.left <= 0 {
			// Not every ResponseWriter supports deadlines; then there is none.
			m.deadline = time.Now().Add(m.stall)
			_ = m.rc.SetWriteDeadline(m.deadline)
			m.left = m.piece
		}
		n := min(len(p), m.left)
		k, err := m.ResponseWriter.Write(p[:n])
		total += k
		m.left -= k
		if err != nil {
			return total, err
		}
		p = p[n:]
	}
	return total, nil
}

// Unwrap lets http.ResponseController reach the connection.
func (m *minRateWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }
