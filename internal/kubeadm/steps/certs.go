package steps

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/factory-appliance/appliance/internal/kubeadm/certs"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
)

// servedTimeout bounds the wait for a restarted master to serve its
// renewed certificates.
const servedTimeout = 3 * time.Minute

// installRenewal puts the renewal script on a master (certs.Script).
func installRenewal(ctx context.Context, h *remote.Host) error {
	if _, err := h.Install(ctx, certs.ScriptPath, []byte(certs.Script()), 0o755, ""); err != nil {
		return fmt.Errorf("installing %s on %s: %w", certs.ScriptPath, h.Host.Name, err)
	}
	return nil
}

// RenewCerts renews a master's kubeadm certificates now (the script with
// --now: kubeadm certs renew all, then each static pod restarted), then
// checks from the deploy node that the apiserver and etcd serve the
// renewed certificates (certs.ServedFiles). A rerun renews again; one cut
// off with a manifest aside puts it back first.
func RenewCerts(ctx context.Context, h *remote.Host) error {
	if err := installRenewal(ctx, h); err != nil {
		return err
	}
	if err := h.Sh(ctx, certs.ScriptPath+" --now"); err != nil {
		return fmt.Errorf("renewing the certificates on %s: %w; the script's output is in the host log", h.Host.Name, err)
	}
	var files []string
	for _, f := range certs.ServedFiles {
		files = append(files, f.Path)
	}
	cmd := certs.ListFilesCommand(files...)
	if h.Dry {
		_, err := h.Out(ctx, cmd)
		for _, f := range certs.ServedFiles {
			// A comment in the dry run's list: the deploy node checks it.
			_, _ = h.Out(ctx, fmt.Sprintf("# from the deploy node: %s serves %s", net.JoinHostPort(h.Host.Address, strconv.Itoa(f.Port)), f.Path))
		}
		return err
	}
	list, err := ListCerts(ctx, h, cmd)
	if err != nil {
		return err
	}
	byPath := map[string]certs.Cert{}
	for _, c := range list {
		byPath[c.Path] = c
	}
	for _, f := range certs.ServedFiles {
		c, ok := byPath[f.Path]
		if !ok {
			return fmt.Errorf("%s is not on %s after the renewal", f.Path, h.Host.Name)
		}
		addr := net.JoinHostPort(h.Host.Address, strconv.Itoa(f.Port))
		if err := certs.WaitServed(ctx, addr, c.Raw, servedTimeout); err != nil {
			return fmt.Errorf("%s on %s: %w", f.Path, h.Host.Name, err)
		}
		plan.Logf(ctx, "%s serves the renewed %s (valid until %s)", addr, f.Path, c.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// ListCerts runs a certificate listing (certs.ListCommand or
// ListFilesCommand) on h and parses it.
func ListCerts(ctx context.Context, h *remote.Host, cmd string) ([]certs.Cert, error) {
	remote.LogCommand(plan.LogWriter(ctx), cmd)
	out, _, _, err := h.Run(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("listing the certificates on %s: %w", h.Host.Name, err)
	}
	return certs.ParseList(h.Host.Name, out)
}
