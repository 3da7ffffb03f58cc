package sshx

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/factory-appliance/appliance/internal/countio"
)

// ErrChecksumMismatch is returned when the file on the host does not have
// the sha256 of the bytes sent.
var ErrChecksumMismatch = errors.New("uploaded file checksum mismatch")

// UploadFile uploads a local file; see Upload.
func (c *Client) UploadFile(ctx context.Context, localPath, remotePath string, mode fs.FileMode) error {
	f, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("upload to %s: %w", c.cfg.Name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("upload to %s: %w", c.cfg.Name, err)
	}
	return c.Upload(ctx, f, st.Size(), remotePath, mode)
}

// Upload streams size bytes from r to remotePath on the host (size < 0: until
// EOF) and places the file atomically with the given mode: it is written to a
// temporary file, its sha256 is computed on the host (sha256sum) and compared
// with the sha256 of the bytes read from r, and only a matching file is
// renamed into place. On any failure the temporary files are removed and
// remotePath is untouched. The parent directory is created if needed. For
// non-root users the data is staged in /tmp as the user and copied into place
// through sudo, so sudo never reads file data. Upload is idempotent.
func (c *Client) Upload(ctx context.Context, r io.Reader, size int64, remotePath string, mode fs.FileMode) error {
	if !path.IsAbs(remotePath) {
		return fmt.Errorf("upload to %s: remote path %q is not absolute", c.cfg.Name, remotePath)
	}
	sudo := c.cfg.Sudo && !c.cfg.rooted()
	dir, base := path.Split(remotePath)
	tmp := path.Join(dir, "."+base+".upload-"+randomSuffix())
	stage := tmp
	if sudo {
		stage = "/tmp/.appliance-upload-" + randomSuffix()
	}
	sum, err := c.send(ctx, r, size, stage, !sudo)
	if err == nil && sudo {
		err = c.runQuiet(ctx, fmt.Sprintf("mkdir -p -- %s && cp -- %s %s", Quote(dir), Quote(stage), Quote(tmp)), true)
	}
	if err == nil {
		err = c.verify(ctx, tmp, sum, remotePath)
	}
	if err == nil {
		err = c.runQuiet(ctx, fmt.Sprintf("chmod %o %s && mv -f -- %s %s", mode.Perm(), Quote(tmp), Quote(tmp),
			Quote(remotePath)), true)
	}
	c.cleanup(stage, tmp, sudo)
	if err != nil {
		return fmt.Errorf("upload of %s to %s: %w", remotePath, c.cfg.Name, err)
	}
	c.logf("uploaded %s (sha256 %s)", remotePath, sum)
	return nil
}

// send writes r to stage as the login user, hashing what it sends.
func (c *Client) send(ctx context.Context, r io.Reader, size int64, stage string, mkdir bool) (string, error) {
	if size >= 0 {
		r = io.LimitReader(r, size)
	}
	h := sha256.New()
	counted := &countio.Reader{R: io.TeeReader(r, h)}
	cmd := "umask 077 && cat > " + Quote(stage)
	if mkdir {
		cmd = "mkdir -p -- " + Quote(path.Dir(stage)) + " && " + cmd
	}
	var errb cappedBuffer
	if _, err := c.exec(ctx, cmd, false, counted, io.Discard, &errb); err != nil {
		return "", withStderr(err, c.cfg.Redactor.Redact(errb.String()))
	}
	if size >= 0 && counted.N != size {
		return "", fmt.Errorf("the source gave %d bytes, want %d", counted.N, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verify compares the sha256 of tmp on the host with want.
func (c *Client) verify(ctx context.Context, tmp, want, remotePath string) error {
	out, errb, _, err := c.runAs(ctx, "sha256sum -- "+Quote(tmp), true)
	if err != nil {
		return withStderr(err, c.cfg.Redactor.Redact(string(errb)))
	}
	got, _, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if got != want {
		return fmt.Errorf("%w: %s on %s has sha256 %s, sent %s; the transfer was corrupted, retry the upload",
			ErrChecksumMismatch, remotePath, c.cfg.Name, got, want)
	}
	return nil
}

// cleanup removes temporary files, best effort (with a short, fresh context
// so it also runs after ctx expired).
func (c *Client) cleanup(stage, tmp string, sudo bool) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.DialTimeout)
	defer cancel()
	if sudo {
		_ = c.runQuiet(ctx, "rm -f -- "+Quote(stage), false)
	}
	_ = c.runQuiet(ctx, "rm -f -- "+Quote(tmp), true)
}

func (c *Client) runAs(ctx context.Context, cmd string, asRoot bool) ([]byte, []byte, int, error) {
	var out, errb cappedBuffer
	exit, err := c.exec(ctx, cmd, asRoot, nil, &out, &errb)
	return out.Bytes(), errb.Bytes(), exit, err
}

func (c *Client) runQuiet(ctx context.Context, cmd string, asRoot bool) error {
	_, errb, _, err := c.runAs(ctx, cmd, asRoot)
	return withStderr(err, c.cfg.Redactor.Redact(string(errb)))
}

func withStderr(err error, stderr string) error {
	var ee *ExitError
	if errors.As(err, &ee) && ee.Output == "" {
		ee.Output = tail([]byte(stderr), 2048)
	}
	return err
}

// Download streams remotePath from the host (read through sudo for non-root
// users) into w and returns its sha256.
func (c *Client) Download(ctx context.Context, remotePath string, w io.Writer) (string, error) {
	h := sha256.New()
	var errb cappedBuffer
	_, err := c.exec(ctx, "cat -- "+Quote(remotePath), true, nil, io.MultiWriter(w, h), &errb)
	if err != nil {
		return "", fmt.Errorf("download of %s from %s: %w", remotePath, c.cfg.Name,
			withStderr(err, c.cfg.Redactor.Redact(errb.String())))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
