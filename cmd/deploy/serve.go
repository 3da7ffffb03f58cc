package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/siteca"
	"github.com/factory-appliance/appliance/internal/siteserver"
	"github.com/factory-appliance/appliance/internal/siteserver/access"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
	"github.com/factory-appliance/appliance/internal/trust"
)

// serveFlags are the flags of deploy serve.
type serveFlags struct {
	bundle             string
	base               string
	layout             string
	addr               string
	stateDir           string
	plainHTTP          bool
	sans               []string
	key                string
	insecureSkipVerify bool
	debug              bool
	allow              []string
	allowAny           bool
	clientCerts        bool
}

func newServeCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve --bundle FILE --addr IP:PORT",
		Short: "Serve a bundle's images, yum repos, files and charts to the site's hosts",
		Long: `serve runs the site's seed server on the deploy node, straight from the bundle:

  /v2/        a read-only OCI registry; images keep their original names
              (docker.io/calico/node is /v2/docker.io/calico/node/...), and
              containerd mirror requests (?ns=docker.io) resolve too
  /repos/     the bundle's yum repositories
  /files/     files
  /charts/    Helm charts
  /ca.crt     the site CA certificate, the only key material ever served

It serves TLS with a certificate from the site CA, which it creates on first
use in --state-dir (ca.key never leaves that directory). Give hosts ca.crt.
Every byte is checked against its digest while it streams; corrupt content is
never sent as good. Stop it with Ctrl-C or SIGTERM.

Who may read it: by default only clients on this machine's loopback
(127.0.0.0/8, ::1). Name the site's hosts with --allow (addresses or CIDR
prefixes, repeatable or comma-separated); --allow-any admits every address
and warns. --client-certs also requires every client to present a client
certificate from the site CA ("deploy client-cert NAME" issues one). A
refused client gets 403 with the reason; refusals are counted, not logged one
by one: the first is logged, then one summary line a minute at most, naming
the addresses refused.`,
		Example: `  # serve over TLS on the deploy node's site address to the site's hosts
  deploy serve --bundle stack.bundle --key cosign.pub --addr 10.0.0.5:5443 --allow 10.0.0.0/24

  # name the server as hosts will reach it; admit two hosts and a subnet
  deploy serve --bundle stack.bundle --key cosign.pub --addr 0.0.0.0:5443 --san seed.site.local \
    --allow 10.0.0.11,10.0.0.12 --allow 10.0.1.0/24

  # any address, but only clients holding a site-CA client certificate
  deploy client-cert worker-1 --out ./worker-1-cert
  deploy serve --bundle stack.bundle --key cosign.pub --addr 10.0.0.5:5443 --allow-any --client-certs

  # loopback test with plain HTTP, from an extracted bundle directory (not signature-checked)
  deploy serve --layout ./extracted --addr 127.0.0.1:5000 --plain-http`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.bundle, "bundle", "", "the bundle file to serve")
	fl.StringVar(&f.base, "base", "", "the full bundle a delta --bundle was built against")
	fl.StringVar(&f.layout, "layout", "", "serve an extracted bundle directory instead of a bundle file (development; not signature-checked)")
	fl.StringVar(&f.addr, "addr", "", "address to listen on, IP:PORT")
	fl.StringVar(&f.stateDir, "state-dir", defaultStateDir(), "directory of the site CA and other deploy state")
	fl.BoolVar(&f.plainHTTP, "plain-http", false, "serve plain HTTP instead of TLS (loopback addresses only)")
	fl.StringSliceVar(&f.sans, "san", nil, "DNS name or IP address hosts use to reach the server (repeatable); the listen IP and localhost are always included")
	fl.StringVar(&f.key, "key", "", "cosign public key the bundle signature must verify against")
	fl.BoolVar(&f.insecureSkipVerify, "insecure-skip-verify", false, "serve a bundle without checking its signature (digests are still checked)")
	fl.BoolVar(&f.debug, "debug", false, "log every admitted request, not only failures")
	fl.StringSliceVar(&f.allow, "allow", nil, "client addresses or CIDR prefixes that may read (repeatable, comma-separated; default: loopback only)")
	fl.BoolVar(&f.allowAny, "allow-any", false, "let every address read (insecure without --client-certs; warns)")
	fl.BoolVar(&f.clientCerts, "client-certs", false, "require a client certificate from the site CA (issue one with deploy client-cert NAME)")
	cmd.MarkFlagRequired("addr")
	cmd.MarkFlagsMutuallyExclusive("bundle", "layout")
	cmd.MarkFlagsMutuallyExclusive("allow", "allow-any")
	cmd.MarkFlagsMutuallyExclusive("client-certs", "plain-http")
	cmd.MarkFlagsOneRequired("bundle", "layout")
	return cmd
}

func defaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/appliance"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "appliance")
	}
	return ".appliance-state"
}

func runServe(ctx context.Context, f *serveFlags, stdout, stderr io.Writer) error {
	level := slog.LevelInfo
	if f.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	policy, err := f.accessPolicy()
	if err != nil {
		return err
	}
	if f.allowAny && !f.clientCerts {
		log.Warn("SERVING TO ANY ADDRESS (--allow-any): whoever reaches the port reads every image, RPM and file; name the site's hosts with --allow, or add --client-certs")
	}
	if f.plainHTTP {
		if err := siteserver.CheckPlainHTTPAddr(f.addr); err != nil {
			return err
		}
		log.Warn("SERVING PLAIN HTTP: no TLS, content travels unencrypted and unauthenticated; use only for loopback tests", "addr", f.addr)
	}
	siteserver.SetMemoryLimit()
	src, closeContent, err := openContent(f, log, stderr)
	if err != nil {
		return err
	}
	defer closeContent()
	return serveContent(ctx, f, policy, src, log, stdout)
}

// accessPolicy is who may read, from --allow, --allow-any and
// --client-certs (siteserver.Start adds the site CA pool).
func (f *serveFlags) accessPolicy() (access.Policy, error) {
	allow, err := access.ParseAllow(f.allow)
	if err != nil {
		return access.Policy{}, fmt.Errorf("--allow: %w", err)
	}
	return access.Policy{
		Allow:     allow,
		AllowAny:  f.allowAny,
		AllowHint: "restart deploy serve with --allow ADDRESS|CIDR for this client",
		CertHint:  "issue a client certificate with deploy client-cert NAME and give the client NAME.crt and NAME.key",
	}, nil
}

// openContent opens what --bundle or --layout names. A bundle is served
// straight from the file, and only once its signature checked out against
// --key (or, with --insecure-skip-verify, after a loud warning); every entry
// is still verified against bundle.json as it is read.
func openContent(f *serveFlags, log *slog.Logger, stderr io.Writer) (content.Content, func() error, error) {
	if f.layout != "" {
		log.Warn("serving an extracted directory: its files are trusted as they are, no bundle signature is checked", "dir", f.layout)
		d, err := content.NewDir(f.layout)
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	}
	r, err := trust.OpenWithBase(f.bundle, f.base, f.key, f.insecureSkipVerify, stderr, bundle.WithChunkCache(content.ChunkCacheSize()))
	if err != nil {
		return nil, nil, err
	}
	bc := content.NewBundle(r)
	return bc, func() error { return errors.Join(bc.Close(), r.Close()) }, nil
}

// serveContent runs the site server (siteserver.Start) until ctx is done.
func serveContent(ctx context.Context, f *serveFlags, policy access.Policy, src content.Content, log *slog.Logger, stdout io.Writer) error {
	srv, err := siteserver.Start(ctx, siteserver.StartConfig{Content: src, Addr: f.addr, StateDir: f.stateDir,
		Names: siteserver.ServerNames(f.addr, f.sans), PlainHTTP: f.plainHTTP, Access: policy, ClientCerts: f.clientCerts, Logger: log})
	if err != nil {
		return err
	}
	if f.plainHTTP {
		fmt.Fprintf(stdout, "serving on http://%s (%d repositories, plain HTTP)\n", srv.Addr(), len(srv.Repositories()))
	} else {
		fmt.Fprintf(stdout, "serving on https://%s (CA: %s)\n", srv.Addr(), filepath.Join(f.stateDir, siteca.CACertFile))
	}
	fmt.Fprintf(stdout, "clients allowed: %s\n", srv.AccessSummary())
	if len(f.allow) == 0 && !f.allowAny && siteserver.CheckPlainHTTPAddr(f.addr) != nil {
		log.Warn("only clients on this machine may read (loopback): the site's hosts get 403 until they are named with --allow", "addr", f.addr)
	}
	return <-srv.Done()
}
