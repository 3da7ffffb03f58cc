package testsite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// KeepEnv names the environment variable that keeps a site up after the
// test that started it (KEEP_SITE=1), for debugging. The site's state then
// lives in out/site/NAME, and scripts/site/down.sh NAME removes it.
const KeepEnv = "KEEP_SITE"

// UpTimeout bounds Up: a first run bootstraps the host image (about two
// and a half minutes on two cores); later runs take about twenty seconds.
const UpTimeout = 10 * time.Minute

// Option configures Start and Up.
type Option func(*options)

type options struct {
	stateDir string
	binDir   string
	mounts   []string
	masters  int
}

// WithMasters gives the site n masters (master-1 ... master-n, 1 to 9)
// instead of two.
func WithMasters(n int) Option { return func(o *options) { o.masters = n } }

// WithStateDir keeps the site's state (SSH key, inventory, known_hosts) in
// dir. Default for Start: out/site/NAME; for Up: a test temp dir, or
// out/site/NAME under KEEP_SITE=1.
func WithStateDir(dir string) Option { return func(o *options) { o.stateDir = dir } }

// WithBinDir mounts dir read-only at DeployBinDir in the deploy node.
// Default: the repository's bin/.
func WithBinDir(dir string) Option { return func(o *options) { o.binDir = dir } }

// WithMount mounts src read-only in the deploy node, at dst, or at src when
// dst is empty. Use it for the bundle the deployer is to deploy.
func WithMount(src, dst string) Option {
	return func(o *options) {
		spec := src
		if dst != "" {
			spec += ":" + dst
		}
		o.mounts = append(o.mounts, spec)
	}
}

// Start brings up the site name with scripts/site/up.sh (building the host
// image first when needed) and returns it. Idempotent: a site already up
// with the same image and mounts is reused. The air gap is checked before
// Start returns.
func Start(ctx context.Context, name string, opts ...Option) (*Site, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	scripts, err := scriptsDir()
	if err != nil {
		return nil, err
	}
	if err := needTools(); err != nil {
		return nil, err
	}
	args := []string{name}
	if o.stateDir != "" {
		args = append(args, "--state", o.stateDir)
	}
	if o.binDir != "" {
		args = append(args, "--bin", o.binDir)
	}
	for _, m := range o.mounts {
		args = append(args, "--mount", m)
	}
	if o.masters != 0 {
		args = append(args, "--masters", strconv.Itoa(o.masters))
	}
	out, err := runScript(ctx, filepath.Join(scripts, "up.sh"), args...)
	if err != nil {
		return nil, fmt.Errorf("start test site %s: %w", name, err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return loadSite(lines[len(lines)-1], scripts)
}

// Down removes the site's containers, their volumes and its network with
// scripts/site/down.sh, keeping the state directory. Idempotent.
func (s *Site) Down(ctx context.Context) error {
	if _, err := runScript(ctx, filepath.Join(s.scripts, "down.sh"), s.Name); err != nil {
		return fmt.Errorf("remove test site %s: %w", s.Name, err)
	}
	return nil
}

// Up starts the site name for t, failing t if it cannot, and removes it when
// t ends unless KEEP_SITE=1. Tests that share a machine must use distinct
// names.
func Up(t testing.TB, name string, opts ...Option) *Site {
	t.Helper()
	keep := os.Getenv(KeepEnv) == "1"
	if !keep {
		opts = append([]Option{WithStateDir(t.TempDir())}, opts...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), UpTimeout)
	defer cancel()
	site, err := Start(ctx, name, opts...)
	if err != nil {
		if !keep {
			removeHalfStarted(name)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if keep {
			t.Logf("%s=1: test site %s left up (state %s); remove it with scripts/site/down.sh %s",
				KeepEnv, site.Name, site.StateDir, site.Name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := site.Down(ctx); err != nil {
			t.Errorf("%v", err)
		}
	})
	return site
}

// removeHalfStarted removes whatever a failed Start left of site name;
// down.sh finds it by its label and needs no state.
func removeHalfStarted(name string) {
	scripts, err := scriptsDir()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, _ = runScript(ctx, filepath.Join(scripts, "down.sh"), name)
}

// needTools fails naming the Debian package of a missing program.
func needTools() error {
	for _, tool := range []struct{ cmd, pkg string }{
		{"docker", "docker.io"},
		{"debootstrap", "debootstrap"},
		{"zstd", "zstd"},
		{"ssh-keygen", "openssh-client"},
		{"iptables", "iptables"},
	} {
		if _, err := exec.LookPath(tool.cmd); err != nil {
			return fmt.Errorf("the test site needs %s: install the Debian package %s", tool.cmd, tool.pkg)
		}
	}
	return nil
}

// runScript runs a site script and returns its stdout; a failure carries
// the script's stderr.
func runScript(ctx context.Context, script string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = errors.Join(err, ctxErr)
		}
		return "", fmt.Errorf("%s %s: %w\n%s", filepath.Base(script), strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
