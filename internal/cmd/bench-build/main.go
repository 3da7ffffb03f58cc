// Command bench-build runs one bundle build (internal/build.Build, the same
// call `bundle build` makes) under the profilers, for finding where a cold
// build spends its wall time. It is a measuring tool for `make bench`
// investigations, not part of the product:
//
//	go run ./internal/cmd/bench-build -f out/bench/bench.yaml -o out/bench/prof.bundle \
//	    --cache-dir out/bench/prof-cache --cpuprofile cpu.pprof --trace trace.out
//
// It prints a phase summary on stderr: the time until the bundle writer
// starts (resolve, pull into the cache, files) and the time the writer takes
// (read the cache, frame, compress, hash, write, fsync, rename). Progress
// lines go to stderr with their offset from the start, so a slow item shows.
// --cpuprofile writes a pprof CPU profile (on-CPU time only); --trace writes
// a runtime/trace execution trace, whose "Syscall blocking" and
// "Network blocking" profiles (go tool trace -pprof=syscall|net) show the
// off-CPU time a CPU profile cannot see. The output bundle is unsigned.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/factory-appliance/appliance/internal/build"
	"github.com/factory-appliance/appliance/internal/progress"
	"github.com/factory-appliance/appliance/manifest"
)

type config struct {
	manifest, output, cacheDir string
	cpuProfile, traceFile      string
	mirrors                    multiFlag
	workers, concurrency       int
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-build:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench-build:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench-build", flag.ContinueOnError)
	fs.StringVar(&c.manifest, "f", "", "stack manifest `FILE` (required)")
	fs.StringVar(&c.output, "o", "", "bundle `FILE` to write (required)")
	fs.StringVar(&c.cacheDir, "cache-dir", "", "content cache `DIR` (required; empty it first for a cold build)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile to `FILE`")
	fs.StringVar(&c.traceFile, "trace", "", "write a runtime execution trace to `FILE`")
	fs.Var(&c.mirrors, "registry-mirror", "`REGISTRY=HOST[:PORT]` (repeatable), as for bundle build")
	fs.IntVar(&c.workers, "compress-workers", 0, "frames compressed at once (0: GOMAXPROCS)")
	fs.IntVar(&c.concurrency, "concurrency", 0, "images pulled at once (0: the build's default)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.manifest == "" || c.output == "" || c.cacheDir == "" {
		return c, errors.New("-f, -o and --cache-dir are required")
	}
	return c, nil
}

func run(ctx context.Context, cfg config, stderr io.Writer) error {
	st, err := manifest.Load(cfg.manifest)
	if err != nil {
		return err
	}
	mirrors := manifest.Mirrors{}
	for _, m := range cfg.mirrors {
		reg, host, err := manifest.ParseMirror(m)
		if err != nil {
			return fmt.Errorf("--registry-mirror %q: %w", m, err)
		}
		mirrors[reg] = host
	}
	stopProfiles, err := startProfiles(cfg)
	if err != nil {
		return err
	}
	phases := newPhaseLog(stderr)
	res, err := build.Build(ctx, build.Options{
		Stack: st, Output: cfg.output, CacheDir: cfg.cacheDir, Mirrors: mirrors,
		Workers: cfg.workers, Concurrency: cfg.concurrency,
		Progress: progress.New(phases, progress.Plain, len(st.Images())),
	})
	if perr := stopProfiles(); err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	phases.summary(stderr, res)
	return nil
}

// startProfiles starts the CPU profile and the execution trace asked for and
// returns the function that stops them and closes their files.
func startProfiles(cfg config) (func() error, error) {
	var closers []func() error
	stop := func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		closers = append(closers, func() error { pprof.StopCPUProfile(); return f.Close() })
	}
	if cfg.traceFile != "" {
		f, err := os.Create(cfg.traceFile)
		if err != nil {
			return nil, errors.Join(err, stop())
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			return nil, errors.Join(err, stop())
		}
		closers = append(closers, func() error { trace.Stop(); return f.Close() })
	}
	return stop, nil
}

// phaseLog is the progress output: each line is copied to the terminal with
// its offset from the start, and the first line about writing the bundle
// marks the end of the fetch phase. It is safe for concurrent use.
type phaseLog struct {
	mu         sync.Mutex
	out        io.Writer
	start      time.Time
	writeStart time.Duration
	partial    []byte
}

func newPhaseLog(out io.Writer) *phaseLog { return &phaseLog{out: out, start: time.Now()} }

func (p *phaseLog) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(p.partial[:i])
		p.partial = p.partial[i+1:]
		at := time.Since(p.start)
		if p.writeStart == 0 && strings.Contains(line, "write bundle") {
			p.writeStart = at
		}
		fmt.Fprintf(p.out, "[%7.2fs] %s\n", at.Seconds(), line)
	}
}

func (p *phaseLog) summary(w io.Writer, res *build.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	total := res.Duration
	fmt.Fprintf(w, "phases: fetch %.2fs, write %.2fs, total %.2fs (%d blobs fetched, %d from cache, %d bytes written)\n",
		p.writeStart.Seconds(), (total - p.writeStart).Seconds(), total.Seconds(), res.Fetched, res.Cached, res.Size)
}
