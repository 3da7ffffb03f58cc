package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/kubeadm/certs"
	"github.com/factory-appliance/appliance/internal/plan"
)

// TestCertsRenewPlan: deploy certs renew needs a deployed cluster (an
// admin kubeconfig in the state directory), renews the masters one at a
// time with the script, and copies the admin kubeconfig last; its dry run
// names every master's commands and writes nothing.
func TestCertsRenewPlan(t *testing.T) {
	s := newTestSite(t, nil)
	dir := t.TempDir()
	cfg := s.config(dir)
	cfg.BundlePath = ""
	if _, err := OpenOps(cfg); err == nil || !strings.Contains(err.Error(), "no cluster kubeconfig") {
		t.Fatalf("a state directory without a cluster: %v", err)
	}
	writeFile(t, state.Dir(dir).KubeconfigPath(), []byte("apiVersion: v1\nkind: Config\n"))
	o, err := OpenOps(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	x := o.renewOp()
	p, err := plan.New(x.phases...)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range p.Leaves() {
		ids = append(ids, l.ID)
	}
	want := "/certs-renew/masters/master-1 /certs-renew/masters/master-2 /certs-renew/kubeconfig/master-1"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("leaves %s\nwant %s", got, want)
	}
	if deps := p.Dependencies("/certs-renew/masters/master-2"); !strings.Contains(strings.Join(deps, " "), "/certs-renew/masters/master-1") {
		t.Errorf("master-2 renews beside master-1 (deps %v): both control planes would restart at once", deps)
	}
	var out bytes.Buffer
	if err := o.DryRunRenewCerts(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/certs-renew/masters/master-2", certs.ScriptPath + " --now", "/etc/kubernetes/pki/apiserver.crt", "serves /etc/kubernetes/pki/etcd/server.crt", "cat /etc/kubernetes/admin.conf"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the dry run lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, OpsDir)); !os.IsNotExist(err) {
		t.Errorf("the dry run wrote %s: %v", OpsDir, err)
	}
}

// TestCertsRecord: what deploy certs records, deploy status reads back;
// a file that is not one is refused naming it and the way out.
func TestCertsRecord(t *testing.T) {
	s := newTestSite(t, nil)
	dir := t.TempDir()
	writeFile(t, state.Dir(dir).KubeconfigPath(), []byte("apiVersion: v1\nkind: Config\n"))
	cfg := s.config(dir)
	o, err := OpenOps(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if rec, err := state.Dir(dir).ReadCertsRecord(); rec != nil || err != nil {
		t.Fatalf("no record yet: %v %v", rec, err)
	}
	at := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	in := state.CertsRecord{Checked: at, Certs: []certs.Cert{{Host: "master-1", Path: "/etc/kubernetes/pki/apiserver.crt", NotAfter: at.Add(24 * time.Hour)}}, Errors: []string{"worker-1: unreachable"}}
	if err := o.WriteCertsRecord(in); err != nil {
		t.Fatal(err)
	}
	got, err := state.Dir(dir).ReadCertsRecord()
	if err != nil || got == nil || len(got.Certs) != 1 || !got.Certs[0].NotAfter.Equal(in.Certs[0].NotAfter) || len(got.Errors) != 1 {
		t.Fatalf("read back %+v, %v", got, err)
	}
	writeFile(t, filepath.Join(dir, state.CertsFile), []byte("{not json"))
	if _, err := state.Dir(dir).ReadCertsRecord(); err == nil || !strings.Contains(err.Error(), state.CertsFile) || !strings.Contains(err.Error(), "deploy certs") {
		t.Errorf("a broken record: %v", err)
	}
}
