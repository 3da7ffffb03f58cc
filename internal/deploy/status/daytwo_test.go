package status

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/kubeadm/certs"
	"github.com/factory-appliance/appliance/internal/plan"
)

// TestStatusDayTwo: deploy status warns of a certificate deploy certs
// recorded with fewer than 30 days left, and shows a day-two operation
// that stopped, with its error and its resume command.
func TestStatusDayTwo(t *testing.T) {
	dir := writeStatusState(t, false)
	now := time.Now()
	rec := state.CertsRecord{Checked: now.Add(-time.Hour), Certs: []certs.Cert{
		{Host: "m1", Path: "/etc/kubernetes/pki/apiserver.crt", NotAfter: now.Add(10 * 24 * time.Hour)},
		{Host: "m1", Path: "/etc/kubernetes/pki/ca.crt", NotAfter: now.Add(3650 * 24 * time.Hour), CA: true},
	}}
	if err := state.Dir(dir).WriteCertsRecord(rec); err != nil {
		t.Fatal(err)
	}
	opDir := filepath.Join(dir, "ops", "certs-renew")
	leaf := func(id string) *plan.Phase {
		return &plan.Phase{ID: id, Host: "m1", Title: id, Run: func(context.Context) error { return nil }}
	}
	p, err := plan.New(plan.Steps("/certs-renew", "renew", plan.Group("/certs-renew/masters", "masters", leaf("/certs-renew/masters/m1"))))
	if err != nil {
		t.Fatal(err)
	}
	resume := "deploy certs renew -i site.yaml --state-dir " + dir + " --resume"
	if err := state.Dir(opDir).WritePlan(state.SavedPlan{Name: "certificate renewal", Created: now, Phases: p.View(nil), Resume: resume}); err != nil {
		t.Fatal(err)
	}
	j, err := plan.OpenJournal(opDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(plan.Record{Phase: "/certs-renew/masters/m1", State: plan.Failed, Attempt: 3, Time: now, Error: "kube-apiserver did not start again"}); err != nil {
		t.Fatal(err)
	}
	j.Close()

	s, err := Status(context.Background(), dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s.Certificates.Soonest == nil || s.Certificates.Soonest.Path != "/etc/kubernetes/pki/apiserver.crt" {
		t.Errorf("soonest = %+v", s.Certificates.Soonest)
	}
	if len(s.Certificates.Warnings) != 1 || !strings.Contains(s.Certificates.Warnings[0], "apiserver.crt on m1") {
		t.Errorf("warnings = %q, want one for apiserver.crt", s.Certificates.Warnings)
	}
	if len(s.Operations) != 1 || s.Operations[0].State != plan.Failed || s.Operations[0].Resume != resume {
		t.Fatalf("operations = %+v", s.Operations)
	}
	var out bytes.Buffer
	if err := s.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WARNING", "deploy certs renew", "certs-renew", "failed, 0 of 1 phases", "kube-apiserver did not start again", resume} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
}
