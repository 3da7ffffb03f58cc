package push

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// writerToBody is a request body that records how it was read.
type writerToBody struct {
	r      *bytes.Reader
	read   int   // bytes handed out by Read
	writes []int // the sizes WriteTo wrote in
}

func (b *writerToBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}
func (b *writerToBody) Close() error { return nil }

func (b *writerToBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for b.r.Len() > 0 {
		chunk := make([]byte, min(b.r.Len(), 1<<20))
		b.r.Read(chunk)
		n, err := w.Write(chunk)
		total += int64(n)
		b.writes = append(b.writes, n)
		if n < len(chunk) {
			b.r.Seek(int64(n-len(chunk)), io.SeekCurrent)
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// sumServer answers each PUT with the SHA-256 and length of its body.
func sumServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		if _, err := io.Copy(h, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(h.Sum(nil))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPlainUploadBodyWritesItself(t *testing.T) {
	srv := sumServer(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 5<<16) // 5 MiB
	body := &writerToBody{r: bytes.NewReader(data)}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v2/x/blobs/uploads/1", body)
	req.ContentLength = int64(len(data))
	resp, err := (&options{blobJobs: 1, imageJobs: 1}).baseTransport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := sha256.Sum256(data)
	if !bytes.Equal(got, want[:]) {
		t.Fatalf("the server received other bytes than the body's")
	}
	// net/http reads the start of the body into the buffer that holds
	// the request's headers (4 KiB); the rest must go out through WriteTo,
	// in the body's own 1 MiB writes, not through a 32 KiB copy buffer.
	if body.read > 4<<10 {
		t.Fatalf("%d bytes of the body went through Read, want at most 4 KiB: the transport copied it through a buffer", body.read)
	}
	for i, n := range body.writes {
		if n != 1<<20 && i != len(body.writes)-1 {
			t.Fatalf("write %d of %d bytes reached the connection, want whole 1 MiB writes: %v", i, n, body.writes)
		}
	}
}

// A body longer than its Content-Length is cut where a LimitedReader
// would cut it, and what lies past the limit stays in the body for
// net/http to find (it then fails the request: "ContentLength=N with Body
// length M").
func TestWriteToConnStopsAtTheLimit(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	got := make(chan []byte)
	go func() { all, _ := io.ReadAll(b); got <- all }()
	data := bytes.Repeat([]byte("0123456789"), 300<<10) // 3,000 KiB
	body := &writerToBody{r: bytes.NewReader(data)}
	lr := &io.LimitedReader{R: body, N: 2<<20 + 5}
	n, err := writeToConn{a}.ReadFrom(lr)
	if err != nil || n != 2<<20+5 || lr.N != 0 {
		t.Fatalf("ReadFrom = %d, %v (limit left %d); want %d, nil, 0", n, err, lr.N, 2<<20+5)
	}
	if rest := body.r.Len(); rest != len(data)-(2<<20+5) {
		t.Fatalf("%d bytes left in the body, want the %d past the limit", rest, len(data)-(2<<20+5))
	}
	a.Close()
	if sent := <-got; !bytes.Equal(sent, data[:2<<20+5]) {
		t.Fatalf("the connection got %d bytes, not the first %d of the body", len(sent), 2<<20+5)
	}
}

func TestLimitWriterCutsAtTheLimit(t *testing.T) {
	var out bytes.Buffer
	lw := &limitWriter{w: &out, n: 5}
	n, err := lw.Write([]byte("abc"))
	if n != 3 || err != nil {
		t.Fatalf("first write: %d, %v", n, err)
	}
	n, err = lw.Write([]byte("defg"))
	if n != 2 || err != errLimit {
		t.Fatalf("write across the limit: %d, %v; want 2, errLimit", n, err)
	}
	if n, err = lw.Write([]byte("h")); n != 0 || err != errLimit {
		t.Fatalf("write past the limit: %d, %v", n, err)
	}
	if out.String() != "abcde" {
		t.Fatalf("wrote %q, want %q", out.String(), "abcde")
	}
}
