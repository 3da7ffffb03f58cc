package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/lockedio"
	"github.com/factory-appliance/appliance/internal/progress"
	"github.com/factory-appliance/appliance/internal/push"
	"github.com/factory-appliance/appliance/internal/trust"
)

// pushFlags are the flags of deploy push.
type pushFlags struct {
	bundle             string
	base               string
	to                 string
	username           string
	passwordStdin      bool
	caFile             string
	plainHTTP          bool
	json               bool
	key                string
	insecureSkipVerify bool
	imageJobs          int
	blobJobs           int
	harbor             bool
	noHarbor           bool
	publicProjects     bool
}

func newPushCmd() *cobra.Command {
	f := &pushFlags{}
	cmd := &cobra.Command{
		Use:   "push --bundle FILE --to HOST[:PORT]",
		Short: "Load every image of a bundle into the site registry (Harbor) under its original name",
		Long: `push loads every image of the bundle into the site registry, with its
signatures, referrers and OCI charts, under its original name: the source
registry's host becomes the first path component (the Harbor project), so
docker.io/calico/node:v3.26.4 is pushed as HOST/docker.io/calico/node:v3.26.4.

The bundle's signature is checked first (--key). Manifests are pushed byte
for byte, so digests and signatures stay valid. What the registry already has
is skipped, a layer shared by several repositories is sent once and mounted
into the others, and a push that was interrupted completes when run again.

When the target is Harbor (found through GET /api/v2.0/health, or forced
with --harbor), the projects the images need are created first (private,
unless --public-projects).

The password is read from standard input (--password-stdin), never from a
flag, and never printed.`,
		Example: `  # push into Harbor, trusting the site CA
  echo "$HARBOR_PASSWORD" | deploy push --bundle stack.bundle --key cosign.pub \
      --to harbor.site.local --username admin --password-stdin --ca-file /etc/appliance/ca.crt

  # machine-readable report
  deploy push --bundle stack.bundle --key cosign.pub --to harbor.site.local --json

  # loopback test registry over plain HTTP
  deploy push --bundle stack.bundle --key cosign.pub --to 127.0.0.1:5000 --plain-http`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runPush(ctx, f, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.bundle, "bundle", "", "the bundle file to push")
	fl.StringVar(&f.base, "base", "", "the full bundle a delta --bundle was built against")
	fl.StringVar(&f.to, "to", "", "the site registry, HOST[:PORT]")
	fl.StringVar(&f.username, "username", "", "registry (and Harbor API) user")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from standard input")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM CA certificate to trust for the registry, in addition to the system's")
	fl.BoolVar(&f.plainHTTP, "plain-http", false, "talk plain HTTP (loopback registries only; for tests)")
	fl.BoolVar(&f.json, "json", false, "print the report as one JSON object on standard output")
	fl.StringVar(&f.key, "key", "", "cosign public key the bundle signature must verify against")
	fl.BoolVar(&f.insecureSkipVerify, "insecure-skip-verify", false, "push a bundle without checking its signature (digests are still checked)")
	fl.IntVar(&f.imageJobs, "concurrency", push.DefaultImageJobs, "images pushed at once")
	fl.IntVar(&f.blobJobs, "blob-concurrency", push.DefaultBlobJobs, "blob uploads at once, across all images")
	fl.BoolVar(&f.harbor, "harbor", false, "treat the target as Harbor and create missing projects, without asking its health API")
	fl.BoolVar(&f.noHarbor, "no-harbor", false, "never call Harbor's API, even if the target is Harbor")
	fl.BoolVar(&f.publicProjects, "public-projects", false, "create Harbor projects public (anyone may pull); default private")
	cmd.MarkFlagRequired("bundle")
	cmd.MarkFlagRequired("to")
	cmd.MarkFlagsMutuallyExclusive("key", "insecure-skip-verify")
	cmd.MarkFlagsMutuallyExclusive("harbor", "no-harbor")
	cmd.MarkFlagsMutuallyExclusive("ca-file", "plain-http")
	cmd.MarkFlagsRequiredTogether("username", "password-stdin")
	return cmd
}

func runPush(ctx context.Context, f *pushFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	// The logger and the progress reporter each lock only themselves.
	stderr = lockedio.Writer(stderr)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	opts, err := pushOptions(f, stdin, log, stderr)
	if err != nil {
		return err
	}
	r, err := trust.OpenWithBase(f.bundle, f.base, f.key, f.insecureSkipVerify, stderr)
	if err != nil {
		return err
	}
	defer r.Close()
	rep, err := push.Push(ctx, r, f.to, opts...)
	if rep != nil {
		if werr := writePushReport(rep, f.json, stdout); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

func pushOptions(f *pushFlags, stdin io.Reader, log *slog.Logger, stderr io.Writer) ([]push.Option, error) {
	opts := []push.Option{
		push.WithConcurrency(f.imageJobs, f.blobJobs),
		push.WithLogger(log),
		push.WithProgress(stderr, progress.Auto),
		push.WithPublicProjects(f.publicProjects),
	}
	switch {
	case f.harbor:
		opts = append(opts, push.WithHarbor(push.HarborOn))
	case f.noHarbor:
		opts = append(opts, push.WithHarbor(push.HarborOff))
	}
	if f.plainHTTP {
		opts = append(opts, push.WithPlainHTTP())
	}
	if f.caFile != "" {
		opts = append(opts, push.WithCAFile(f.caFile))
	}
	if f.passwordStdin {
		pw, err := readPassword(stdin)
		if err != nil {
			return nil, err
		}
		opts = append(opts, push.WithBasicAuth(f.username, pw))
	}
	return opts, nil
}

// readPassword reads the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("--password-stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("--password-stdin: standard input holds no password")
	}
	return pw, nil
}

func writePushReport(rep *push.Report, asJSON bool, w io.Writer) error {
	if asJSON {
		return rep.WriteJSON(w)
	}
	return rep.WriteText(w)
}
