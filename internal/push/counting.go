package push

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// counters are what the registry actually accepted, observed on the wire by
// countingTransport, so the report counts what happened and not what the
// code meant to do.
type counters struct {
	blobsUploaded  atomic.Int64 // PUT completing an upload, answered 201
	bytesUploaded  atomic.Int64 // bytes of PATCH/PUT upload bodies the registry accepted
	blobsSkipped   atomic.Int64 // HEAD of a blob answered 200
	blobsMounted   atomic.Int64 // POST with mount= answered 201
	manifestsPut   atomic.Int64 // PUT of a manifest answered 2xx
	manifestsFound atomic.Int64 // manifests found present by digest (counted by the pusher)
}

// countingTransport counts registry operations by method, path and status.
// It sits under authentication, so it sees each request as sent. Safe for
// concurrent use.
type countingTransport struct {
	next http.RoundTripper
	c    *counters
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body *countingBody
	if req.Body != nil && req.Body != http.NoBody && isUpload(req) {
		body = &countingBody{r: req.Body}
		req = req.Clone(req.Context())
		req.Body = body
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	t.count(req, resp.StatusCode, body)
	return resp, nil
}

func (t *countingTransport) count(req *http.Request, status int, body *countingBody) {
	p := req.URL.Path
	ok := status >= 200 && status < 300
	switch {
	case req.Method == http.MethodHead && strings.Contains(p, "/blobs/sha256:") && status == http.StatusOK:
		t.c.blobsSkipped.Add(1)
	case req.Method == http.MethodPost && isUpload(req) && req.URL.Query().Get("mount") != "" && status == http.StatusCreated:
		t.c.blobsMounted.Add(1)
	case isUpload(req) && (req.Method == http.MethodPatch || req.Method == http.MethodPut) && ok:
		if body != nil {
			t.c.bytesUploaded.Add(body.n.Load())
		}
		if req.Method == http.MethodPut && status == http.StatusCreated {
			t.c.blobsUploaded.Add(1)
		}
	case req.Method == http.MethodPut && strings.Contains(p, "/manifests/") && ok:
		t.c.manifestsPut.Add(1)
	}
}

// isUpload reports whether req is part of a blob upload session.
func isUpload(req *http.Request) bool { return strings.Contains(req.URL.Path, "/blobs/uploads/") }

// countingBody counts the bytes the transport read from a request body.
type countingBody struct {
	r io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// WriteTo passes the body's own WriteTo on (see bodyconn.go).
func (b *countingBody) WriteTo(w io.Writer) (int64, error) {
	n, err := io.Copy(w, b.r)
	b.n.Add(n)
	return n, err
}

func (b *countingBody) Close() error { return b.r.Close() }
