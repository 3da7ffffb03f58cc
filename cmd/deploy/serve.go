package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/siteca"
	"github.com/factory-appliance/appliance/internal/siteserver"
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
never sent as good. Stop it with Ctrl-C or SIGTERM.`,
		Example: `  # serve over TLS on the deploy node's site address
  deploy serve --bundle stack.bundle --key cosign.pub --addr 10.0.0.5:5443

  # name the server as hosts will reach it
  deploy serve --bundle stack.bundle --key cosign.pub --addr 0.0.0.0:5443 --san seed.site.local

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
	fl.BoolVar(&f.debug, "debug", false, "log every request, not only failures")
	cmd.MarkFlagRequired("addr")
	cmd.MarkFlagsMutuallyExclusive("bundle", "layout")
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
	if f.plainHTTP {
		if err := siteserver.CheckPlainHTTPAddr(f.addr); err != nil {
			return err
		}
		log.Warn("SERVING PLAIN HTTP: no TLS, content travels unencrypted and unauthenticated; use only for loopback tests", "addr", f.addr)
	}
	siteserver.SetMemoryLimit()
	content, closeContent, err := openContent(f, log, stderr)
	if err != nil {
		return err
	}
	defer closeContent()
	return serveContent(ctx, f, content, log, stdout)
}

// openContent opens what --bundle or --layout names. A bundle is served
// straight from the file, and only once its signature checked out against
// --key (or, with --insecure-skip-verify, after a loud warning); every entry
// is still verified against bundle.json as it is read.
func openContent(f *serveFlags, log *slog.Logger, stderr io.Writer) (siteserver.Content, func() error, error) {
	if f.layout != "" {
		log.Warn("serving an extracted directory: its files are trusted as they are, no bundle signature is checked", "dir", f.layout)
		d, err := siteserver.NewDirContent(f.layout)
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	}
	r, err := trust.OpenWithBase(f.bundle, f.base, f.key, f.insecureSkipVerify, stderr, bundle.WithChunkCache(siteserver.ChunkCacheSize))
	if err != nil {
		return nil, nil, err
	}
	return siteserver.NewBundleContent(r), r.Close, nil
}

func serveContent(ctx context.Context, f *serveFlags, content siteserver.Content, log *slog.Logger, stdout io.Writer) error {
	opts := []siteserver.Option{siteserver.WithLogger(log)}
	var tlsConf *tls.Config
	if !f.plainHTTP {
		ca, err := siteca.Open(f.stateDir)
		if err != nil {
			return err
		}
		if tlsConf, err = ca.TLSConfig(serverNames(f.addr, f.sans)); err != nil {
			return err
		}
		opts = append(opts, siteserver.WithCACert(ca.CACertPEM()))
	}
	srv, err := siteserver.New(ctx, content, opts...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	if f.plainHTTP {
		fmt.Fprintf(stdout, "serving on http://%s (%d repositories, plain HTTP)\n", ln.Addr(), len(srv.Repositories()))
	} else {
		fmt.Fprintf(stdout, "serving on https://%s (CA: %s)\n", ln.Addr(), filepath.Join(f.stateDir, siteca.CACertFile))
	}
	return srv.Serve(ctx, ln, tlsConf)
}

// serverNames lists the names the server certificate covers: --san, the
// listen IP (or every local address when listening on all of them), the
// host name, and localhost.
func serverNames(addr string, sans []string) []string {
	names := append([]string{"localhost", "127.0.0.1", "::1"}, sans...)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return names
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil && host != "":
		names = append(names, host)
	case ip != nil && !ip.IsUnspecified():
		names = append(names, ip.String())
	default:
		names = append(names, localAddrs()...)
		if hn, err := os.Hostname(); err == nil {
			names = append(names, hn)
		}
	}
	return names
}

func localAddrs() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() {
			out = append(out, n.IP.String())
		}
	}
	return out
}
