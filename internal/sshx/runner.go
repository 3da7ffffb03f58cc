package sshx

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"sync"
)

// Runner is what a phase needs from a host. *Client runs for real; a
// *Recorder only writes down what would run, so one phase function serves
// both a deploy and --dry-run.
type Runner interface {
	Name() string
	Run(ctx context.Context, cmd string) (stdout, stderr []byte, exit int, err error)
	Stream(ctx context.Context, cmd string, w io.Writer) (int, error)
	Upload(ctx context.Context, r io.Reader, size int64, remotePath string, mode fs.FileMode) error
}

var (
	_ Runner = (*Client)(nil)
	_ Runner = (*Recorder)(nil)
)

// Recorder is a Runner for dry runs: it records each command and upload,
// touches nothing, and reports success with empty output. Phases whose
// later commands depend on earlier output see empty output. It is safe for
// concurrent use.
type Recorder struct {
	host     string
	redactor *Redactor
	mu       sync.Mutex
	cmds     []string
}

// NewRecorder returns a Recorder for the host; recorded commands are
// redacted with r (which may be nil).
func NewRecorder(host string, r *Redactor) *Recorder {
	return &Recorder{host: host, redactor: r}
}

// Name is the host's name.
func (r *Recorder) Name() string { return r.host }

func (r *Recorder) record(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = append(r.cmds, r.redactor.Redact(s))
}

// Run records cmd.
func (r *Recorder) Run(_ context.Context, cmd string) ([]byte, []byte, int, error) {
	r.record(cmd)
	return nil, nil, 0, nil
}

// Stream records cmd.
func (r *Recorder) Stream(_ context.Context, cmd string, _ io.Writer) (int, error) {
	r.record(cmd)
	return 0, nil
}

// Upload records the upload without reading r.
func (r *Recorder) Upload(_ context.Context, _ io.Reader, size int64, remotePath string, mode fs.FileMode) error {
	what := fmt.Sprintf("%d bytes", size)
	if size < 0 {
		what = "a file"
	}
	r.record(fmt.Sprintf("upload %s to %s (mode %04o, sha256-checked)", what, remotePath, mode.Perm()))
	return nil
}

// Commands returns what was recorded, in order.
func (r *Recorder) Commands() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.cmds...)
}
