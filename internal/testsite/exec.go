package testsite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// ExecTimeout bounds Exec, ExecInput and DeployExec; use ExecContext for
// another bound.
const ExecTimeout = 5 * time.Minute

// ExecError is a command that ran in a host and failed. Callers that must
// branch on the exit status use errors.As.
type ExecError struct {
	Host     string
	Cmd      []string
	ExitCode int    // the command's exit status; -1 if it did not run to an exit
	Stderr   string // the command's standard error, trimmed
	Err      error  // what docker exec reported
}

func (e *ExecError) Error() string {
	msg := fmt.Sprintf("on test host %s: %s: exit status %d", e.Host, strings.Join(e.Cmd, " "), e.ExitCode)
	if e.ExitCode < 0 {
		msg = fmt.Sprintf("on test host %s: %s: %v", e.Host, strings.Join(e.Cmd, " "), e.Err)
	}
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *ExecError) Unwrap() error { return e.Err }

// Exec runs cmd as root in host (docker exec, not SSH) and returns its
// standard output. A command that fails returns an *ExecError.
func (s *Site) Exec(host string, cmd ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ExecTimeout)
	defer cancel()
	return s.ExecContext(ctx, host, nil, cmd...)
}

// ExecInput is Exec with stdin as the command's standard input.
func (s *Site) ExecInput(host string, stdin io.Reader, cmd ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ExecTimeout)
	defer cancel()
	return s.ExecContext(ctx, host, stdin, cmd...)
}

// DeployExec runs cmd in the deploy node, where the deployer runs.
func (s *Site) DeployExec(cmd ...string) (string, error) {
	return s.Exec(DeployHost, cmd...)
}

// ExecContext runs cmd in host with stdin (may be nil) until ctx ends.
func (s *Site) ExecContext(ctx context.Context, host string, stdin io.Reader, cmd ...string) (string, error) {
	h, err := s.Host(host)
	if err != nil {
		return "", err
	}
	if len(cmd) == 0 {
		return "", fmt.Errorf("exec on test host %s: no command", host)
	}
	args := []string{"exec"}
	if stdin != nil {
		args = append(args, "--interactive")
	}
	args = append(append(args, h.Container), cmd...)
	c := exec.CommandContext(ctx, "docker", args...)
	var stdout, stderr bytes.Buffer
	c.Stdin, c.Stdout, c.Stderr = stdin, &stdout, &stderr
	c.WaitDelay = 10 * time.Second
	if err := c.Run(); err != nil {
		return stdout.String(), execError(ctx, host, cmd, stderr.String(), err)
	}
	return stdout.String(), nil
}

func execError(ctx context.Context, host string, cmd []string, stderr string, err error) *ExecError {
	e := &ExecError{Host: host, Cmd: cmd, ExitCode: -1, Stderr: strings.TrimSpace(stderr), Err: err}
	var exit *exec.ExitError
	if errors.As(err, &exit) && ctx.Err() == nil {
		e.ExitCode = exit.ExitCode()
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		e.Err = errors.Join(err, ctxErr)
	}
	return e
}
