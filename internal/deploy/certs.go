package deploy

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/harbor/install"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm/certs"
	"github.com/factory-appliance/appliance/internal/kubeadm/steps"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/siteca"
)

// renewOp is deploy certs renew: each master in turn renews its kubeadm
// certificates and restarts its static pods, and the apiserver and etcd
// are checked to serve the new ones (steps.RenewCerts); then the state
// directory's admin kubeconfig, whose client certificate was renewed too,
// is copied again.
func (o *Ops) renewOp() op {
	d := o.d
	masters := d.eachHost("/certs-renew/masters", "Each master renews its certificates, one at a time", d.masters,
		"kubeadm certs renew all, the static pods restarted, what they serve checked", steps.RenewCerts)
	masters.Sequential = true
	k := d.kubeadmSite()
	return op{name: "certs-renew", title: "certificate renewal", phases: []*plan.Phase{plan.Steps("/certs-renew", "Renew the kubeadm certificates of every master",
		masters,
		d.oneHost("/certs-renew/kubeconfig", "The state directory's admin kubeconfig", d.masters[0], "Copy the renewed admin.conf", k.FetchKubeconfig),
	)}}
}

// RenewCerts runs deploy certs renew (renewOp), then reads every
// certificate again into CertsFile.
func (o *Ops) RenewCerts(ctx context.Context, ro RunOptions) error {
	if err := o.run(ctx, o.renewOp(), ro); err != nil {
		return err
	}
	rec := o.Certs(ctx)
	return o.WriteCertsRecord(rec)
}

// DryRunRenewCerts prints what deploy certs renew would run.
func (o *Ops) DryRunRenewCerts(w io.Writer) error { return o.dryRun(w, o.renewOp()) }

// Certs reads every certificate of the site: on each master kubeadm's
// certificates and kubeconfigs, on each node its kubelet's client
// certificate, on the registry host Harbor's, and the site CA in the state
// directory. Hosts are read in parallel; a host that cannot be read is
// named in Errors and the others are still listed.
func (o *Ops) Certs(ctx context.Context) state.CertsRecord {
	d := o.d
	rec := state.CertsRecord{Checked: time.Now().UTC()}
	reg, hasReg := d.inv.Registry()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, d.cfg.Parallelism, 5))
	for _, h := range d.hosts {
		master := h.HasRole(inventory.RoleMaster)
		isNode := master || h.HasRole(inventory.RoleWorker)
		var extra []string
		if hasReg && reg.Name == h.Name {
			extra = append(extra, install.CertDir+"/tls.crt")
		}
		if !isNode && len(extra) == 0 {
			continue
		}
		wg.Add(1)
		go func(h inventory.Host) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			list, err := o.hostCerts(ctx, h, master, extra)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rec.Errors = append(rec.Errors, err.Error())
				return
			}
			rec.Certs = append(rec.Certs, list...)
		}(h)
	}
	wg.Wait()
	if c, err := siteCACert(string(d.state)); err == nil {
		rec.Certs = append(rec.Certs, c)
	} else if !os.IsNotExist(err) {
		rec.Errors = append(rec.Errors, err.Error())
	}
	certs.Sort(rec.Certs)
	return rec
}

func (o *Ops) hostCerts(ctx context.Context, h inventory.Host, master bool, extra []string) ([]certs.Cert, error) {
	r, err := o.d.runner(ctx, h)
	if err != nil {
		return nil, err
	}
	return steps.ListCerts(ctx, &remote.Host{Runner: r, Host: h}, certs.ListCommand(master, extra...))
}

// siteCACert is the site CA's certificate in the state directory, as a
// Cert of the deploy node.
func siteCACert(dir string) (certs.Cert, error) {
	p := filepath.Join(dir, siteca.CACertFile)
	b, err := state.ReadBounded(p, 1<<20)
	if err != nil {
		return certs.Cert{}, err
	}
	c, err := certs.ParsePEM(b)
	if err != nil {
		return certs.Cert{}, fmt.Errorf("%s: %w", p, err)
	}
	c.Host, c.Path = "deploy node", p
	return c, nil
}

// WriteCertsRecord writes rec to the state directory's certificate record
// (state.CertsFile).
func (o *Ops) WriteCertsRecord(rec state.CertsRecord) error { return o.d.state.WriteCertsRecord(rec) }
