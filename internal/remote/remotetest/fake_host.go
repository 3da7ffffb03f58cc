// Package remotetest holds FakeHost, a host's shell for unit tests of the
// host steps (internal/deploy, internal/preflight, internal/kubeadm/steps,
// internal/harbor/install, internal/hostsetup): it answers canned command
// output and records commands and uploads. The real hosts are exercised
// by the site test (build tag site).
package remotetest

import (
	"context"
	"io"
	"io/fs"
	"strings"

	"github.com/factory-appliance/appliance/internal/sshx"
)

// FakeHost stands in for a host's shell in unit tests of the checks that
// parse command output (preflight): it answers each command with the output
// of the first entry whose key the command contains, and records commands
// and uploads.
type FakeHost struct {
	Host     string
	Answers  []Answer
	Commands []string
	Uploads  []string
	// Contents holds what each upload wrote, in order of the uploads.
	Contents []string
}

// Answer is the output (or exit code) of a command containing Match.
type Answer struct {
	Match, Stdout string
	Exit          int
}

func (f *FakeHost) Name() string { return f.Host }

func (f *FakeHost) Run(_ context.Context, cmd string) ([]byte, []byte, int, error) {
	f.Commands = append(f.Commands, cmd)
	for _, a := range f.Answers {
		if strings.Contains(cmd, a.Match) {
			if a.Exit != 0 {
				return nil, []byte("failed"), a.Exit, &sshx.ExitError{Host: f.Host, Command: cmd, Code: a.Exit}
			}
			return []byte(a.Stdout), nil, 0, nil
		}
	}
	return nil, nil, 0, nil
}

func (f *FakeHost) Stream(ctx context.Context, cmd string, w io.Writer) (int, error) {
	out, _, code, err := f.Run(ctx, cmd)
	w.Write(out)
	return code, err
}

func (f *FakeHost) Upload(_ context.Context, r io.Reader, _ int64, remotePath string, _ fs.FileMode) error {
	b, err := io.ReadAll(r)
	f.Uploads = append(f.Uploads, remotePath)
	f.Contents = append(f.Contents, string(b))
	return err
}
