package siteserver

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

const (
	// stalledBlobSize is several bundle chunks and more than the kernel
	// buffers of a loopback connection take, so a client that does not
	// read leaves its response blocked in a write.
	stalledBlobSize = 16<<20 + 4321
	// hangGuard only keeps a broken server from hanging the test; healthy
	// work takes a small fraction of it even on a loaded machine.
	hangGuard = 3 * time.Minute
	// slowReadStep and slowReadTick make a client that reads about 40 KB/s.
	slowReadStep = 4 << 10
	slowReadTick = 100 * time.Millisecond
)

// stallSetup is a bundle with a large blob, served from a file opened as
// deploy serve opens it.
type stallSetup struct {
	l       *testLayout
	content *content.Bundle
	huge    string // digest of the large blob
	hugeB   []byte
}

func newStallSetup(t *testing.T) *stallSetup {
	t.Helper()
	l := newLayout(t)
	p, err := layout.FromPath(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	huge := make([]byte, stalledBlobSize)
	rand.New(rand.NewSource(11)).Read(huge)
	d, err := writeBlob(p, huge)
	if err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Open(writeTestBundle(t, l.dir), bundle.WithChunkCache(content.ChunkCacheSize()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &stallSetup{l: l, content: content.NewBundle(r), huge: d, hugeB: huge}
}

// rawClient is a connection that asked for a blob and reads it only when
// and as fast as the test says.
type rawClient struct {
	conn   net.Conn
	br     *bufio.Reader
	length int64 // Content-Length of the response
}

// startRawClient sends a GET for the blob and reads the status line and
// headers, so the server is surely writing the body, then stops reading.
// (Its receive buffer is left as it is: one smaller than the loopback
// MSS would never reopen its window.)
func startRawClient(ctx context.Context, addr, digest string) (*rawClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(hangGuard))
	if _, err := fmt.Fprintf(conn, "GET /v2/docker.io/library/db/blobs/%s HTTP/1.1\r\nHost: %s\r\n\r\n", digest, addr); err != nil {
		conn.Close()
		return nil, err
	}
	c := &rawClient{conn: conn, br: bufio.NewReaderSize(conn, 16)}
	status, err := c.br.ReadString('\n')
	if err != nil {
		conn.Close()
		return nil, err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200 ") {
		conn.Close()
		return nil, fmt.Errorf("status %q", status)
	}
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			conn.Close()
			return nil, err
		}
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			c.length, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
		if line == "\r\n" {
			return c, nil
		}
	}
}

// bodyResult is what a raw client got of its body: how many bytes, their
// digest, and the error that ended the read (nil for a complete body).
// Bodies are hashed as they come, not kept, so that a hundred clients of a
// 16 MiB blob cost the test no memory.
type bodyResult struct {
	n      int64
	digest string
	err    error
}

// readSlowly reads about 40 KB/s until stop is closed, then as fast as it
// can.
func (c *rawClient) readSlowly(stop <-chan struct{}) bodyResult {
	h := sha256.New()
	var n int64
	buf := make([]byte, slowReadStep)
	tick := time.NewTicker(slowReadTick)
	defer tick.Stop()
	for n < c.length {
		select {
		case <-stop:
			return c.readRest(h, n)
		case <-tick.C:
		}
		k, err := c.br.Read(buf[:min(int64(len(buf)), c.length-n)])
		h.Write(buf[:k])
		n += int64(k)
		if err != nil {
			return bodyResult{n, "", err}
		}
	}
	return bodyResult{n, "sha256:" + hex.EncodeToString(h.Sum(nil)), nil}
}

// readRest reads what is left of the body at full speed, after n bytes
// hashed into h.
func (c *rawClient) readRest(h hash.Hash, n int64) bodyResult {
	k, err := io.Copy(h, io.LimitReader(c.br, c.length-n))
	n += k
	if err == nil && n < c.length {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return bodyResult{n, "", err}
	}
	return bodyResult{n, "sha256:" + hex.EncodeToString(h.Sum(nil)), nil}
}

// stalledClients is a set of clients of the large blob: never-readers
// (which read only the response headers) and slow readers (about 40 KB/s).
type stalledClients struct {
	never []*rawClient
	slow  []*rawClient

	stopSlow chan struct{}
	wg       sync.WaitGroup
	slowGot  []bodyResult // each written by its own goroutine
}

func startStalled(t *testing.T, ctx context.Context, addr, digest string, n int) *stalledClients {
	t.Helper()
	sc := &stalledClients{stopSlow: make(chan struct{})}
	for range n {
		c, err := startRawClient(ctx, addr, digest)
		if err != nil {
			t.Fatalf("starting a stalled client: %v", err)
		}
		sc.never = append(sc.never, c)
		c, err = startRawClient(ctx, addr, digest)
		if err != nil {
			t.Fatalf("starting a slow client: %v", err)
		}
		sc.slow = append(sc.slow, c)
	}
	sc.slowGot = make([]bodyResult, n)
	for i, c := range sc.slow {
		sc.wg.Go(func() { sc.slowGot[i] = c.readSlowly(sc.stopSlow) })
	}
	t.Cleanup(func() {
		for _, c := range append(sc.never, sc.slow...) {
			c.conn.Close()
		}
	})
	return sc
}

// finish lets every stalled client read the rest at full speed and returns
// what each got, never-readers first.
func (sc *stalledClients) finish() []bodyResult {
	close(sc.stopSlow)
	got := make([]bodyResult, len(sc.never))
	var wg sync.WaitGroup
	for i, c := range sc.never {
		wg.Go(func() { got[i] = c.readRest(sha256.New(), 0) })
	}
	wg.Wait()
	sc.wg.Wait()
	return append(got, sc.slowGot...)
}

// healthyResult is what the healthy clients of pullHealthy achieved.
type healthyResult struct {
	bytes    int64
	elapsed  time.Duration
	requests int64
}

func (h healthyResult) mibps() float64 {
	return float64(h.bytes) / (1 << 20) / h.elapsed.Seconds()
}

// pullHealthy runs 8 pullers, each fetching the large blob and every blob
// of the layout and checking their digests, and beside them manifest GETs
// by tag and 1-byte Range reads of the large blob checked against its
// bytes. Every request must succeed before the hang guard.
func pullHealthy(t *testing.T, rs *running, s *stallSetup) healthyResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	client := &http.Client{Timeout: hangGuard, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	blobs := append(s.l.allBlobs(t), s.huge)
	get := func(path string, hdr map[string]string) (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rs.url+path, nil)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	var bytes, requests atomic.Int64
	var errMu sync.Mutex
	var errs []string
	fail := func(format string, args ...any) {
		errMu.Lock()
		defer errMu.Unlock()
		errs = append(errs, fmt.Sprintf(format, args...))
	}
	start := time.Now()
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := range blobs {
				d := blobs[(i+c)%len(blobs)]
				n, err := fetchBlob(client, rs.url+"/v2/docker.io/library/db/blobs/"+d, d)
				requests.Add(1)
				bytes.Add(n)
				if err != nil {
					fail("puller %d: %v", c, err)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			img := s.l.images[i%len(s.l.images)]
			resp, b, err := get("/v2/"+img.repo+"/manifests/"+img.tag, nil)
			requests.Add(1)
			if err != nil || resp.StatusCode != http.StatusOK {
				fail("manifest %s: %v %v", img.ref(), err, resp)
			} else if sum := sha256.Sum256(b); "sha256:"+hex.EncodeToString(sum[:]) != img.digest {
				fail("manifest %s: wrong bytes", img.ref())
			}
			off := int64(i) * stalledBlobSize / 20
			resp, b, err = get("/v2/docker.io/library/db/blobs/"+s.huge, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", off, off)})
			requests.Add(1)
			if err != nil || resp.StatusCode != http.StatusPartialContent || len(b) != 1 || b[0] != s.hugeB[off] {
				fail("1-byte range at %d: %v %v %q", off, err, resp, b)
			}
		}
	})
	wg.Wait()
	res := healthyResult{bytes: bytes.Load(), elapsed: time.Since(start), requests: requests.Load()}
	for i, e := range errs {
		if i == 5 {
			t.Errorf("... and %d more failures", len(errs)-5)
			break
		}
		t.Error(e)
	}
	if ctx.Err() != nil {
		t.Fatalf("the healthy clients did not finish within the hang guard of %v", hangGuard)
	}
	return res
}

// TestStalledClientsDoNotStopPulls puts 8, then 64, clients that asked for
// a large blob and never read its body, and as many that read it at about
// 40 KB/s, beside 8 healthy pullers, manifest GETs and 1-byte Range reads.
// The minimum write rate is set so low that no stalled client is dropped
// during the test: the healthy work must complete while every stalled
// client still holds its response, and afterwards every stalled client,
// reading at last, still gets its whole, correct blob. It also logs the
// healthy throughput with and without the stalled clients.
func TestStalledClientsDoNotStopPulls(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: load test")
	}
	s := newStallSetup(t)
	for _, n := range []int{8, 64} {
		t.Run(fmt.Sprintf("%d-stalled-%d-slow", n, n), func(t *testing.T) {
			rs := startServerFor(t, s.content, false, WithMinWriteRate(0, 30*time.Minute))
			alone := pullHealthy(t, rs, s)
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			sc := startStalled(t, ctx, rs.addr, s.huge, n)
			beside := pullHealthy(t, rs, s)
			t.Logf("healthy pullers: %.0f MiB/s alone (%d requests, %v), %.0f MiB/s beside %d stalled and %d slow clients (%d requests, %v)",
				alone.mibps(), alone.requests, alone.elapsed.Round(time.Millisecond),
				beside.mibps(), n, n, beside.requests, beside.elapsed.Round(time.Millisecond))
			for i, got := range sc.finish() {
				if got.err != nil {
					t.Errorf("stalled client %d: %v after %d bytes", i, got.err, got.n)
				} else if got.digest != s.huge {
					t.Errorf("stalled client %d got wrong bytes", i)
				}
			}
		})
	}
}

// TestSlowClientsAreDropped checks that clients below the minimum write
// rate are disconnected, never-readers and 40 KB/s readers alike, while
// healthy pullers beside them complete.
func TestSlowClientsAreDropped(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: load test")
	}
	s := newStallSetup(t)
	// 128 KiB per 2 s: 64 KiB/s, above the slow readers' 40 KB/s, and
	// thousands of times below what a healthy client on loopback takes.
	rs := startServerFor(t, s.content, false, WithMinWriteRate(128<<10, 2*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	const n = 8
	sc := startStalled(t, ctx, rs.addr, s.huge, n)
	pullHealthy(t, rs, s)
	// Wait for the server to have cut every stalled and slow response
	// (its request log marks them aborted), then read what they got.
	deadline := time.Now().Add(hangGuard)
	for strings.Count(rs.logs.String(), "aborted=true") < 2*n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d slow clients were dropped within %v", strings.Count(rs.logs.String(), "aborted=true"), 2*n, hangGuard)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, got := range sc.finish() {
		if got.err == nil || got.n >= stalledBlobSize {
			t.Errorf("slow client %d got %d bytes (%v): it was not dropped", i, got.n, got.err)
		}
	}
	if strings.Contains(rs.logs.String(), "level=ERROR") {
		t.Errorf("dropping slow clients was logged as an error:\n%s", rs.logs.String())
	}
}
