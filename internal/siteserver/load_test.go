package siteserver

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

const (
	helperEnv     = "SITESERVER_HELPER"
	loadClients   = 64
	rssLimitBytes = 300 << 20
	loadHugeBlob  = 9<<20 + 4321
)

// serveHelper is the server process of the load test: it serves what
// spec names ("dir:PATH" or "bundle:PATH") over plain HTTP on a loopback
// port, prints the address, and stops on SIGTERM.
func serveHelper(spec string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	SetMemoryLimit() // as deploy serve does
	var src content.Content
	kind, path, _ := strings.Cut(spec, ":")
	if kind == "bundle" {
		r, err := bundle.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer r.Close()
		src = content.NewBundle(r)
	} else {
		dc, err := content.NewDir(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer dc.Close()
		src = dc
	}
	srv, err := New(ctx, src)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr().String())
	if err := srv.Serve(ctx, ln, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startHelper runs the test binary as the server process for spec and
// returns its address and pid.
func startHelper(t *testing.T, spec string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+spec)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the server process printed no address: %v", err)
	}
	return strings.TrimSpace(addr), cmd.Process.Pid
}

// peakRSS reads a process's peak resident set size (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	for _, line := range strings.Split(string(readFile(t, fmt.Sprintf("/proc/%d/status", pid))), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// TestLoad64ClientsEveryBlob has 64 concurrent clients fetch every blob of
// the layout from a server process, checking each digest, and requires zero
// errors and a peak RSS of the server under 300 MiB; once serving the
// extracted directory and once straight from a bundle file.
func TestLoad64ClientsEveryBlob(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: load test")
	}
	l := newLayout(t)
	// A blob of several bundle chunks, so that every client holds chunk
	// buffers at the same time.
	p, err := layout.FromPath(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	huge := make([]byte, loadHugeBlob)
	rand.New(rand.NewSource(7)).Read(huge)
	if _, err := writeBlob(p, huge); err != nil {
		t.Fatal(err)
	}
	specs := map[string]string{"dir": "dir:" + l.dir, "bundle": "bundle:" + writeTestBundle(t, l.dir)}
	for backend, spec := range specs {
		t.Run(backend, func(t *testing.T) { testLoad(t, l, spec) })
	}
}

func testLoad(t *testing.T, l *testLayout, spec string) {
	blobs := l.allBlobs(t)
	addr, pid := startHelper(t, spec)
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: loadClients}}
	var failures atomic.Int64
	var bytes atomic.Int64
	var firstErr sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for c := range loadClients {
		wg.Go(func() {
			for i := range blobs {
				d := blobs[(i+c)%len(blobs)] // spread clients over blobs
				n, err := fetchBlob(client, "http://"+addr+"/v2/docker.io/library/db/blobs/"+d, d)
				bytes.Add(n)
				if err != nil {
					failures.Add(1)
					firstErr.Do(func() { t.Errorf("client %d: %v", c, err) })
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	rss := peakRSS(t, pid)
	t.Logf("%d clients × %d blobs: %d MiB in %v (%.0f MiB/s), %d errors, server peak RSS %d MiB",
		loadClients, len(blobs), bytes.Load()>>20, elapsed.Round(time.Millisecond),
		float64(bytes.Load())/(1<<20)/elapsed.Seconds(), failures.Load(), rss>>20)
	if failures.Load() != 0 {
		t.Errorf("%d fetches failed", failures.Load())
	}
	if rss >= rssLimitBytes && !raceEnabled {
		t.Errorf("server peak RSS %d MiB, limit %d MiB", rss>>20, rssLimitBytes>>20)
	}
}

func fetchBlob(client *http.Client, url, digest string) (int64, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: status %d", digest, resp.StatusCode)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return n, fmt.Errorf("%s: %w", digest, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return n, fmt.Errorf("%s: got %s", digest, got)
	}
	return n, nil
}
