package deploy

import (
	"context"
	"io"
	"io/fs"
	"strings"

	"github.com/factory-appliance/appliance/internal/sshx"
)

// fakeHost stands in for a host's shell in unit tests of the checks that
// parse command output (preflight): it answers each command with the output
// of the first entry whose key the command contains, and records commands
// and uploads. The real hosts are exercised by the site test (build tag
// site).
type fakeHost struct {
	name     string
	answers  []answer
	commands []string
	uploads  []string
	// contents holds what each upload wrote, in order of the uploads.
	contents []string
}

type answer struct {
	match, stdout string
	exit          int
}

func (f *fakeHost) Name() string { return f.name }

func (f *fakeHost) Run(_ context.Context, cmd string) ([]byte, []byte, int, error) {
	f.commands = append(f.commands, cmd)
	for _, a := range f.answers {
		if strings.Contains(cmd, a.match) {
			if a.exit != 0 {
				return nil, []byte("failed"), a.exit, &sshx.ExitError{Host: f.name, Command: cmd, Code: a.exit}
			}
			return []byte(a.stdout), nil, 0, nil
		}
	}
	return nil, nil, 0, nil
}

func (f *fakeHost) Stream(ctx context.Context, cmd string, w io.Writer) (int, error) {
	out, _, code, err := f.Run(ctx, cmd)
	w.Write(out)
	return code, err
}

func (f *fakeHost) Upload(_ context.Context, r io.Reader, _ int64, remotePath string, _ fs.FileMode) error {
	b, err := io.ReadAll(r)
	f.uploads = append(f.uploads, remotePath)
	f.contents = append(f.contents, string(b))
	return err
}
