package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/kubeconfig/kubeconfigtest"
	"github.com/factory-appliance/appliance/internal/plan"
)

func TestStatusWithoutDeployment(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	_, _, err := runDeploy([]string{"status", "--state-dir", missing}, "")
	if err == nil || !strings.Contains(err.Error(), missing+" does not exist") ||
		!strings.Contains(err.Error(), "deploy --bundle FILE -i INVENTORY --state-dir "+missing) {
		t.Errorf("deploy status without a state dir: %v", err)
	}
	empty := t.TempDir()
	if _, _, err := runDeploy([]string{"status", "--state-dir", empty, "--json"}, ""); err == nil ||
		!strings.Contains(err.Error(), "holds no deployment") || !strings.Contains(err.Error(), "no journal") {
		t.Errorf("deploy status on an empty state dir: %v", err)
	}
}

// TestStatusCommandClusterUnreachable: a state directory as a deploy
// leaves it (plan.json in its on-disk format, the journal through
// internal/plan's writer) and an admin kubeconfig pointing at a closed
// loopback port: deploy status still shows the phases, says the API
// server is unreachable, and succeeds, in text and in JSON.
func TestStatusCommandClusterUnreachable(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	writeRecordedPlan(t, dir, addr)
	pki, err := kubeconfigtest.New("https://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, state.KubeconfigFile), pki.Admin.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString(pki.Admin.KeyData)[:40]

	start := time.Now()
	out, _, err := runDeploy([]string{"status", "--state-dir", dir, "--timeout", "3s"}, "")
	if err != nil {
		t.Fatalf("deploy status with the cluster unreachable failed: %v", err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("deploy status took %v with --timeout 3s", took)
	}
	for _, want := range []string{"1 of 2 completed, 0 failed, 1 in progress, 0 pending", "in progress  /kubernetes/ready/m1",
		"Kubernetes nodes\n  API server unreachable: ", "connection refused", "Harbor\n  not part of this deployment's plan"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, key) || strings.Contains(out, "PRIVATE KEY") {
		t.Errorf("deploy status shows the kubeconfig's key:\n%s", out)
	}

	out, _, err = runDeploy([]string{"status", "--state-dir", dir, "--json", "--timeout", "3s"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Site struct {
			Bundle, Version string
		}
		Phases struct {
			Completed, InProgress int
			Resume                string
		}
		Kubernetes struct{ State, Kubeconfig string }
		Releases   struct{ State string }
		Harbor     struct{ State string }
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if s.Site.Bundle != "stack" || s.Site.Version != "1.2.0" || s.Phases.Completed != 1 || s.Phases.InProgress != 1 ||
		s.Phases.Resume == "" || s.Kubernetes.State != "unreachable" || s.Releases.State != "unreachable" ||
		s.Kubernetes.Kubeconfig != filepath.Join(dir, state.KubeconfigFile) || s.Harbor.State != "not-planned" {
		t.Errorf("deploy status --json = %+v\n%s", s, out)
	}
}

// writeRecordedPlan writes plan.json as deploy records it (two leaves:
// /kubernetes/init/m1 and /kubernetes/ready/m1; apiServer, the endpoint
// deploy configured) and a journal in which the first completed and the
// second is in progress.
func writeRecordedPlan(t *testing.T, dir, apiServer string) {
	t.Helper()
	leaf := func(id string) *plan.Phase {
		return &plan.Phase{ID: id, Host: "m1", Title: id, Run: func(context.Context) error { return nil }}
	}
	p, err := plan.New(plan.Group("/kubernetes", "Kubernetes",
		plan.Group("/kubernetes/init", "init", leaf("/kubernetes/init/m1")),
		plan.Group("/kubernetes/ready", "ready", leaf("/kubernetes/ready/m1"))))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"bundle": "sha256:00", "name": "stack 1.2.0", "created": time.Now().UTC(), "apiServer": apiServer, "phases": p.View(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, state.PlanFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := plan.OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, r := range []plan.Record{
		{Phase: "/kubernetes/init/m1", State: plan.Completed, Time: time.Now()},
		{Phase: "/kubernetes/ready/m1", State: plan.InProgress, Time: time.Now()},
	} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStatusHelp(t *testing.T) {
	out, _, err := runDeploy([]string{"status", "--help"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deploy status --state-dir /var/lib/appliance --json", "--timeout", "failedPhases", "kubeletVersion"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy status --help lacks %q:\n%s", want, out)
		}
	}
}
