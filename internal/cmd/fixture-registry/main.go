// Command fixture-registry starts Debian's docker-registry on a loopback
// address and pushes a fixture image set into it, for `make demo` and
// `make bench`:
//
//	go run ./internal/cmd/fixture-registry --addr 127.0.0.1:5000 --dir DIR --set demo|bench \
//	    [--bench-images 24 --bench-bytes 2GiB] [--push-only]
//
// Once the set is in place it prints one line, "ready ADDR", on stdout and
// serves until SIGINT or SIGTERM, then stops the registry. With --push-only
// it pushes into a registry already listening on --addr and exits. Images
// already present (same tag) are not generated again, so a second run
// against the same --dir is quick. Progress goes to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/factory-appliance/appliance/internal/fixture"
	"github.com/factory-appliance/appliance/internal/progress"
)

type config struct {
	addr, dir string
	set       fixture.Set
	size      fixture.BenchSize
	pushOnly  bool
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fixture-registry:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fixture-registry:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("fixture-registry", flag.ContinueOnError)
	cfg := config{size: fixture.DefaultBenchSize}
	var set, bytes string
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:5000", "loopback address to listen on (or push to, with --push-only)")
	fs.StringVar(&cfg.dir, "dir", "", "registry storage directory, kept between runs (default: a temporary one)")
	fs.StringVar(&set, "set", "demo", "image set: demo or bench")
	fs.IntVar(&cfg.size.Images, "bench-images", cfg.size.Images, "bench set: number of images")
	fs.StringVar(&bytes, "bench-bytes", "2GiB", "bench set: total layer bytes (e.g. 512MiB, 2GiB)")
	fs.BoolVar(&cfg.pushOnly, "push-only", false, "push into a registry already running on --addr, then exit")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() != 0 {
		return cfg, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	cfg.set = fixture.Set(set)
	if cfg.set != fixture.SetDemo && cfg.set != fixture.SetBench {
		return cfg, fmt.Errorf("--set %q: want demo or bench", set)
	}
	n, err := progress.ParseBytes(bytes)
	if err != nil {
		return cfg, fmt.Errorf("--bench-bytes: %w", err)
	}
	cfg.size.TotalBytes = n
	return cfg, nil
}

func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	if cfg.pushOnly {
		return push(ctx, cfg, stderr)
	}
	opts := []fixture.RegOption{fixture.WithAddr(cfg.addr)}
	if cfg.dir != "" {
		abs, err := filepath.Abs(cfg.dir)
		if err != nil {
			return err
		}
		opts = append(opts, fixture.WithDir(filepath.Join(abs, "storage")), fixture.WithLogFile(filepath.Join(abs, "registry.log")))
	}
	reg, err := fixture.StartRegistry(ctx, opts...)
	if err != nil {
		return err
	}
	defer reg.Close()
	fmt.Fprintf(stderr, "registry on %s (storage %s, log %s)\n", reg.Addr(), reg.Dir(), reg.LogPath())
	if err := push(ctx, cfg, stderr); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready", reg.Addr())
	<-ctx.Done()
	fmt.Fprintln(stderr, "stopping the registry")
	return nil
}

func push(ctx context.Context, cfg config, stderr io.Writer) error {
	pushed, err := fixture.PushSet(ctx, cfg.addr, cfg.set, cfg.size)
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted while pushing")
	}
	if err != nil {
		return err
	}
	for _, p := range pushed {
		fmt.Fprintf(stderr, "pushed %s/%s:%s %s\n", cfg.addr, p.Repo, p.Tag, p.Digest)
	}
	return nil
}
