package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/siteca"
	"github.com/factory-appliance/appliance/internal/siteserver"
	"github.com/factory-appliance/appliance/internal/siteserver/access"
	"github.com/factory-appliance/appliance/internal/siteserver/content"
)

// seed is the site server running inside the deployer.
type seed struct {
	srv     *siteserver.Running
	content *content.Bundle
	caPEM   []byte
	cancel  context.CancelFunc
	log     *os.File
	warn    io.Writer
}

// seedAllowHint tells the operator how to admit a client the seed refused.
const seedAllowHint = "give every host that reads the seed its inventory address, or add the address it connects from with deploy --seed-allow CIDR"

// SeedAllowList returns the client addresses the site server admits while
// deploy runs: every host of the inventory, the deploy node itself, the API
// server VIP (a master holding it may connect from it), loopback, and
// extra (--seed-allow). Anyone else who reaches the port gets 403.
func SeedAllowList(inv *inventory.Inventory, extra []netip.Prefix) []netip.Prefix {
	out := append([]netip.Prefix(nil), access.LoopbackPrefixes...)
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			a = a.WithZone("").Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	for _, h := range inv.Hosts {
		add(h.Address)
	}
	add(inv.DeployNode.Address)
	add(inv.APIServer.VIP)
	return access.NormalizePrefixes(append(out, extra...))
}

// Start runs the site server on the deploy node's inventory address for as
// long as the deployment is open (until Close), with a TLS certificate from
// the site CA in the state directory (created on first use). It runs on
// every deploy, --resume included; the /seed phase checks that it answers.
func (d *Deployment) Start(ctx context.Context) error {
	if d.seed != nil {
		return nil
	}
	logf, err := d.state.OpenLog(state.SeedLogFile)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(d.red.Writer(logf), nil))
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	bc := content.NewBundle(d.bundle)
	srv, err := siteserver.Start(sctx, siteserver.StartConfig{
		Content:  bc,
		Addr:     d.SeedAddr(),
		StateDir: d.cfg.StateDir,
		Names:    []string{d.inv.DeployNode.Address, hostconf.SeedHostname, "localhost", "127.0.0.1"},
		Access:   access.Policy{Allow: SeedAllowList(d.inv, d.cfg.SeedAllow), AllowHint: seedAllowHint},
		Logger:   log,
	})
	var le *siteserver.ListenError
	if errors.As(err, &le) {
		err = fmt.Errorf("site server: %w; deploy must run on the deploy node (inventory deployNode.address %s) with port %d free (--seed-port)",
			le.Err, d.inv.DeployNode.Address, d.cfg.SeedPort)
	}
	if err != nil {
		cancel()
		bc.Close()
		logf.Close()
		return err
	}
	d.seed = &seed{srv: srv, content: bc, caPEM: srv.CA.CACertPEM(), cancel: cancel, log: logf, warn: d.cfg.Warn}
	log.Info("site server started", "addr", d.SeedAddr(), "clients", srv.AccessSummary())
	fmt.Fprintf(d.cfg.Out, "site server on %s for the inventory's hosts only (CA %s, log %s)\n", d.seedURL(), srv.CA.CACertPath(), logf.Name())
	return nil
}

// stop shuts the server down (requests in flight get a few seconds),
// closes its log, and warns if it refused any client.
func (s *seed) stop() error {
	s.cancel()
	var err error
	select {
	case err = <-s.srv.Done():
	case <-time.After(35 * time.Second):
		err = errors.New("site server did not shut down in time")
	}
	s.content.Close()
	if n := s.srv.Refused().Total(); n > 0 {
		fmt.Fprintf(s.warn, "warning: the site server refused %d requests from addresses outside the inventory (addresses in %s); %s\n", n, s.log.Name(), seedAllowHint)
	}
	return errors.Join(err, s.log.Close())
}

// caCert is the site CA certificate hosts are given. In a dry run, where
// the server is not started and no CA is created, it is the state
// directory's ca.crt if there is one, else nil.
func (d *Deployment) caCert() []byte {
	if d.seed == nil {
		b, _ := os.ReadFile(d.state.Path(siteca.CACertFile))
		return b
	}
	return d.seed.caPEM
}

// seedPhase checks, from the deploy node, that the site server answers over
// TLS with a certificate from the site CA, on the address hosts will use.
// The server itself is started by Start on every run (it lives as long as
// the deployer), so this phase only proves it is up.
func (d *Deployment) seedPhase(id string) *plan.Phase {
	return &plan.Phase{
		ID:       id,
		Title:    "Site server answers on the deploy node",
		Attempts: 3,
		Run:      d.checkSeed,
		DryRun: func() []string {
			return []string{"serve the bundle on " + d.seedURL() + " (registry /v2/, yum /repos/, /files/, /ca.crt), TLS from the site CA in " + d.cfg.StateDir +
				", to the inventory's hosts, the deploy node and loopback only" + seedAllowExtra(d.cfg.SeedAllow),
				"GET " + d.seedURL() + "/v2/ and /ca.crt, trusting only the site CA"}
		},
	}
}

func seedAllowExtra(extra []netip.Prefix) string {
	if len(extra) == 0 {
		return ""
	}
	names := make([]string, len(extra))
	for i, p := range extra {
		names[i] = p.String()
	}
	return " (and --seed-allow " + strings.Join(names, ",") + ")"
}

func (d *Deployment) checkSeed(ctx context.Context) error {
	if d.seed == nil {
		return errors.New("site server is not running (Deployment.Start was not called)")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(d.seed.caPEM) {
		return errors.New("site CA certificate does not parse")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer client.CloseIdleConnections()
	for _, p := range []string{"/v2/", "/ca.crt"} {
		body, err := get(ctx, client, d.seedURL()+p)
		if err != nil {
			return fmt.Errorf("site server: %w", err)
		}
		if p == "/ca.crt" && !bytes.Equal(bytes.TrimSpace(body), bytes.TrimSpace(d.seed.caPEM)) {
			return errors.New("site server serves a ca.crt other than the site CA's")
		}
	}
	plan.Logf(ctx, "site server answers on %s", d.seedURL())
	return nil
}

func get(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}
