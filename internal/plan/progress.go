package plan

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/factory-appliance/appliance/internal/termtext"
)

// Redactor wraps a log writer so that registered secrets never reach it.
// *sshx.Redactor satisfies it.
type Redactor interface {
	Writer(w io.Writer) io.WriteCloser
}

// LogsDir is the directory inside the state directory that holds one log
// file per host, named <host>.log; the deploy node's is deploy-node.log.
const LogsDir = "logs"

const deployNodeLog = "deploy-node"

// progress writes one line per event to the console and to the host's log
// file, both through the redactor. It is safe for concurrent use.
type progress struct {
	mu      sync.Mutex
	console io.WriteCloser // redactor, then terminal escapes (escape)
	escape  io.WriteCloser
	dir     string
	redact  Redactor
	logs    map[string]io.WriteCloser
	files   []*os.File
	now     func() time.Time
}

func newProgress(console io.Writer, stateDir string, r Redactor, now func() time.Time) *progress {
	if console == nil {
		console = io.Discard
	}
	// Secrets are masked first, on the text as it is; then whatever a
	// terminal would act on (a host's escape sequences) is escaped. The
	// host logs keep the text exactly.
	esc := termtext.NewWriter(console)
	return &progress{console: wrap(r, esc), escape: esc, dir: filepath.Join(stateDir, LogsDir),
		redact: r, logs: map[string]io.WriteCloser{}, now: now}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func wrap(r Redactor, w io.Writer) io.WriteCloser {
	if r == nil {
		return nopCloser{w}
	}
	return r.Writer(w)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// hostLog returns the host's log writer, opening <host>.log on first use.
// The caller holds p.mu.
func (p *progress) hostLog(host string) io.Writer {
	if w, ok := p.logs[host]; ok {
		return w
	}
	name := deployNodeLog
	if host != "" {
		name = unsafeName.ReplaceAllString(host, "_")
	}
	var w io.WriteCloser = nopCloser{io.Discard}
	if err := os.MkdirAll(p.dir, 0o700); err == nil {
		f, err := os.OpenFile(filepath.Join(p.dir, name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err == nil {
			p.files = append(p.files, f)
			w = wrap(p.redact, f)
		} else {
			fmt.Fprintf(p.console, "warning: cannot open the log of host %s: %v\n", host, err)
		}
	}
	p.logs[host] = w
	return w
}

// line writes "[host] id: msg" to the console and the host log (with a time
// stamp in the log).
func (p *progress) line(ph *Phase, msg string) {
	host := ph.Host
	if host == "" {
		host = deployNodeLog
	}
	msg = strings.TrimRight(msg, "\n")
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.console, "[%s] %s: %s\n", host, ph.ID, msg)
	fmt.Fprintf(p.hostLog(ph.Host), "%s %s: %s\n", p.now().UTC().Format(time.RFC3339), ph.ID, msg)
}

// output is the raw output sink of a phase: the host log only.
func (p *progress) output(ph *Phase) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.hostLog(ph.Host).Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (p *progress) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first error
	for _, w := range p.logs {
		if err := w.Close(); err != nil && first == nil {
			first = err
		}
	}
	for _, f := range p.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	if err := p.console.Close(); err != nil && first == nil {
		first = err
	}
	if err := p.escape.Close(); err != nil && first == nil {
		first = err
	}
	p.logs = map[string]io.WriteCloser{}
	return first
}

type phaseKey struct{}

type phaseCtx struct {
	phase *Phase
	prog  *progress
}

func withPhase(ctx context.Context, ph *Phase, p *progress) context.Context {
	return context.WithValue(ctx, phaseKey{}, phaseCtx{ph, p})
}

// Logf reports progress of the running phase: a line
// "[host] /phase/id: message" on the console and in the host's log file,
// through the redactor. Outside a phase it does nothing.
func Logf(ctx context.Context, format string, args ...any) {
	if pc, ok := ctx.Value(phaseKey{}).(phaseCtx); ok {
		pc.prog.line(pc.phase, fmt.Sprintf(format, args...))
	}
}

// LogWriter returns the running phase's host log (through the redactor), for
// streaming command output into it. Outside a phase it returns io.Discard.
func LogWriter(ctx context.Context) io.Writer {
	if pc, ok := ctx.Value(phaseKey{}).(phaseCtx); ok {
		return pc.prog.output(pc.phase)
	}
	return io.Discard
}

// PhaseFrom returns the phase running in ctx, or nil.
func PhaseFrom(ctx context.Context) *Phase {
	if pc, ok := ctx.Value(phaseKey{}).(phaseCtx); ok {
		return pc.phase
	}
	return nil
}
