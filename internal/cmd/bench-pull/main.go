// Command bench-pull measures how fast a registry serves images to many
// clients at once, for `make bench`:
//
//	bench-pull --registry http://127.0.0.1:5000 [--clients 8] [--verify] REPO:TAG...
//	bench-pull --registry http://127.0.0.1:5000 --first --since-unix-nano N [--timeout 60s] REPO:TAG
//
// The first form fetches every image's manifest (the linux/amd64 one from
// an index), then every blob of every image (config and layers; a layer
// shared by several images is fetched once per image, as separate clients
// pulling those images would), with --clients goroutines, and prints
//
//	images=N blobs=N bytes=N seconds=S mbps=X
//
// where mbps is MB/s (10^6 bytes) over the whole run. Blob bodies are
// counted and checked against the manifest's size, and with --verify
// hashed and checked against their digest too; without it the client costs
// almost no CPU, so the number measures the server.
//
// The second form waits for the registry to answer /v2/, then pulls the
// one image fully and prints "first_pull_seconds=S", the time since the
// Unix time --since-unix-nano (the moment the server was started).
//
// It talks plain HTTP to the address it is given, so point it only at
// loopback test servers. Any failed request makes it exit non-zero.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type config struct {
	registry string
	clients  int
	verify   bool
	first    bool
	since    int64
	timeout  time.Duration
	refs     []imageRef
}

// imageRef is one REPO:TAG argument.
type imageRef struct{ repo, tag string }

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-pull:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench-pull:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench-pull", flag.ContinueOnError)
	fs.StringVar(&c.registry, "registry", "", "registry base URL, http://127.0.0.1:PORT (required)")
	fs.IntVar(&c.clients, "clients", 8, "concurrent clients")
	fs.BoolVar(&c.verify, "verify", false, "hash every blob and check its digest")
	fs.BoolVar(&c.first, "first", false, "wait for the registry, pull one image, print the time since --since-unix-nano")
	fs.Int64Var(&c.since, "since-unix-nano", 0, "with --first: when the server was started (date +%s%N)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if !strings.HasPrefix(c.registry, "http://") {
		return c, errors.New("--registry must be an http:// URL of a loopback test registry")
	}
	c.registry = strings.TrimSuffix(c.registry, "/")
	if c.clients < 1 {
		return c, errors.New("--clients must be at least 1")
	}
	if c.first && (c.since == 0 || fs.NArg() != 1) {
		return c, errors.New("--first needs --since-unix-nano and exactly one REPO:TAG")
	}
	for _, a := range fs.Args() {
		i := strings.LastIndex(a, ":")
		if i <= 0 || strings.Contains(a[i:], "/") {
			return c, fmt.Errorf("%q: want REPO:TAG", a)
		}
		c.refs = append(c.refs, imageRef{repo: a[:i], tag: a[i+1:]})
	}
	if len(c.refs) == 0 {
		return c, errors.New("no images given: pass REPO:TAG arguments")
	}
	return c, nil
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	c := newClient(cfg.registry, cfg.clients, cfg.verify)
	if cfg.first {
		return firstPull(ctx, c, cfg, out)
	}
	start := time.Now()
	st, err := c.pullAll(ctx, cfg.refs, cfg.clients)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(out, "images=%d blobs=%d bytes=%d seconds=%.3f mbps=%.1f\n",
		len(cfg.refs), st.blobs, st.bytes, secs, float64(st.bytes)/secs/1e6)
	return nil
}

// firstPull polls /v2/ until the server answers, then pulls one image.
func firstPull(ctx context.Context, c *client, cfg config, out io.Writer) error {
	for !c.ping(ctx) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never answered /v2/: %w", cfg.registry, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if _, err := c.pullAll(ctx, cfg.refs, cfg.clients); err != nil {
		return err
	}
	since := time.Since(time.Unix(0, cfg.since))
	fmt.Fprintf(out, "first_pull_seconds=%.3f\n", since.Seconds())
	return nil
}
