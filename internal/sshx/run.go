package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// killGrace is how long a command killed on timeout may take to end before
// its connection is dropped.
const killGrace = 2 * time.Second

// MaxCapture bounds the stdout and stderr Run keeps in memory; use Stream
// for commands with more output.
const MaxCapture = 16 << 20

// ErrOutputTooLarge is returned by Run when a command prints more than
// MaxCapture bytes to stdout or stderr.
var ErrOutputTooLarge = errors.New("command output too large to capture; use Stream")

// ExitError reports a command that ran and exited non-zero (or was killed by
// a signal). Command and Output are redacted.
type ExitError struct {
	Host    string
	Command string
	Code    int    // -1 when killed by a signal
	Signal  string // the signal, when killed by one
	Output  string // the tail of stderr (Run) or of the output (Stream)
}

func (e *ExitError) Error() string {
	how := fmt.Sprintf("exited with %d", e.Code)
	if e.Signal != "" {
		how = "was killed by SIG" + e.Signal
	}
	msg := fmt.Sprintf("on %s: command %q %s", e.Host, e.Command, how)
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += ": " + out
	}
	if strings.Contains(e.Output, "sudo: a password is required") {
		msg += " (give the sudo password, or allow the user to run sudo without one)"
	}
	return msg
}

// Quote returns s quoted for a POSIX shell.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sudoSentinel ends the sudo password on stdin. With NOPASSWD sudo never
// reads the password, so the wrapper script reads and discards lines up to
// the sentinel: the command's own stdin starts cleanly either way.
const sudoSentinel = "--appliance-sudo-stdin-begins--"

// wrap returns the remote command line and the stdin prefix for cmd: as is
// for root or when asRoot is false, else through sudo. The sudo password is
// only ever sent on stdin, never on a command line.
func (c *Client) wrap(cmd string, asRoot bool) (string, []byte) {
	if !asRoot || !c.cfg.Sudo || c.cfg.rooted() {
		return cmd, nil
	}
	if c.cfg.SudoPassword == "" {
		return "sudo -n -- sh -c " + Quote(cmd), nil
	}
	script := `while IFS= read -r l; do [ "$l" = ` + Quote(sudoSentinel) + ` ] && break; done; ` + cmd
	return "sudo -S -p '' -- sh -c " + Quote(script), []byte(c.cfg.SudoPassword + "\n" + sudoSentinel + "\n")
}

// SudoCommand returns the command line that would run cmd on the host (with
// the sudo wrapper for non-root users), for dry runs and tests. It never
// contains the sudo password.
func (c *Client) SudoCommand(cmd string) string {
	remote, _ := c.wrap(cmd, true)
	return remote
}

// Run runs cmd (through sudo for non-root users) and returns its stdout,
// stderr and exit code. A non-zero exit also returns an *ExitError. When the
// connection drops while the command runs, the error wraps ErrConnectionLost
// and the command is not re-run; the next call reconnects. ctx (and
// Config.CommandTimeout) bound the command: on expiry it is killed.
func (c *Client) Run(ctx context.Context, cmd string) (stdout, stderr []byte, exit int, err error) {
	var out, errb cappedBuffer
	exit, err = c.exec(ctx, cmd, true, nil, &out, &errb)
	var ee *ExitError
	if errors.As(err, &ee) {
		ee.Output = tail([]byte(c.cfg.Redactor.Redact(errb.String())), 2048)
	}
	if err == nil && (out.over || errb.over) {
		err = fmt.Errorf("%s: %q: %w", c.cfg.Name, c.cfg.Redactor.Redact(cmd), ErrOutputTooLarge)
	}
	return out.Bytes(), errb.Bytes(), exit, err
}

// Stream runs cmd like Run, but writes its stdout and stderr, redacted, to w
// as they arrive (the client's log when w is nil). An *ExitError carries the
// tail of the output.
func (c *Client) Stream(ctx context.Context, cmd string, w io.Writer) (int, error) {
	if w == nil {
		w = c.log
	}
	last := &tailBuffer{max: 2048}
	out := c.cfg.Redactor.Writer(io.MultiWriter(w, last))
	exit, err := c.exec(ctx, cmd, true, nil, out, out)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%s: writing the log: %w", c.cfg.Name, cerr)
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		ee.Output = string(last.buf)
	}
	return exit, err
}

// exec runs one command in a new session. Opening the session is retried
// once on a fresh connection (the command has not started then); a drop
// after the start is ErrConnectionLost.
func (c *Client) exec(ctx context.Context, cmd string, asRoot bool, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	shown := c.cfg.Redactor.Redact(cmd)
	remote, prefix := c.wrap(cmd, asRoot)
	s, l, err := c.session(ctx)
	if err != nil {
		return -1, err
	}
	defer s.Close()
	if c.cfg.CommandTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.CommandTimeout)
		defer cancel()
	}
	switch {
	case prefix != nil && stdin != nil:
		s.Stdin = io.MultiReader(bytes.NewReader(prefix), stdin)
	case prefix != nil:
		s.Stdin = bytes.NewReader(prefix)
	case stdin != nil:
		s.Stdin = stdin
	}
	s.Stdout, s.Stderr = stdout, stderr
	c.logf("$ %s", shown)
	if err := s.Start(remote); err != nil {
		c.drop(l)
		return -1, fmt.Errorf("%w: %s: starting %q: %v", ErrConnectionLost, c.cfg.Name, shown, err)
	}
	return c.wait(ctx, s, l, shown)
}

func (c *Client) session(ctx context.Context) (*ssh.Session, *link, error) {
	var err error
	for range 2 {
		var l *link
		if l, err = c.connection(ctx); err != nil {
			return nil, nil, err
		}
		var s *ssh.Session
		if s, err = l.client.NewSession(); err == nil {
			return s, l, nil
		}
		c.drop(l)
	}
	return nil, nil, fmt.Errorf("%w: %s: opening a session: %v", ErrConnectionLost, c.cfg.Name, err)
}

func (c *Client) wait(ctx context.Context, s *ssh.Session, l *link, shown string) (int, error) {
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		// Ask sshd to kill the command; if the session does not end soon
		// (sshd may ignore signal requests), drop the connection, which
		// makes sshd hang up on the command.
		_ = s.Signal(ssh.SIGKILL)
		s.Close()
		select {
		case <-done:
		case <-time.After(killGrace):
			c.drop(l)
			<-done
		}
		c.logf("killed %q: %v", shown, ctx.Err())
		return -1, fmt.Errorf("%s: command %q stopped: %w", c.cfg.Name, shown, ctx.Err())
	}
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		xe := &ExitError{Host: c.cfg.Name, Command: shown, Code: ee.ExitStatus(), Signal: ee.Signal()}
		if xe.Signal != "" {
			xe.Code = -1
		}
		c.logf("%s", strings.TrimPrefix(xe.Error(), "on "+xe.Host+": "))
		return xe.Code, xe
	default:
		c.drop(l)
		c.logf("connection lost while running %q: %v", shown, err)
		return -1, fmt.Errorf("%w: %s: while running %q (it may or may not have completed; "+
			"the phase can be retried): %v", ErrConnectionLost, c.cfg.Name, shown, err)
	}
}

// cappedBuffer keeps at most MaxCapture bytes and notes the overflow.
type cappedBuffer struct {
	bytes.Buffer
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := MaxCapture - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
