package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"mvdan.cc/sh/v3/shell"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/plan"
)

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// refusingSite writes an inventory of one master on a loopback port that
// refuses SSH (nothing listens), served from 127.0.0.1.
func refusingSite(t *testing.T, dir string) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "id_ed25519")
	writeFile(t, key, pem.EncodeToMemory(block))
	inv := filepath.Join(dir, "inventory.yaml")
	writeFile(t, inv, fmt.Appendf(nil, `apiVersion: appliance/v1
kind: Inventory
site: resume
ssh: {keyFile: %s, knownHosts: %s}
hosts:
  - {name: master-1, address: 127.0.0.1, port: %d, roles: [master]}
deployNode: {address: 127.0.0.1}
harbor: {hostname: harbor.resume.test}
`, key, filepath.Join(dir, "known_hosts"), freeLoopbackPort(t)))
	return inv
}

// TestResumeHintRepeatsFlags: a deployment that stops (its host refuses
// SSH) prints the command that resumes it with every flag the user gave,
// quoted for the shell, but without --restart, plus --resume; deploy
// status shows the same command. That command, run as printed, resumes
// (it is not refused as a second deployment) and stops the same way.
func TestResumeHintRepeatsFlags(t *testing.T) {
	cb := makeCLIBundle(t)
	dir := t.TempDir()
	inv := refusingSite(t, dir)
	state := filepath.Join(dir, "state dir") // a space: the hint must quote it
	args := []string{"--bundle", cb.signed, "--key", cb.pub, "-i", inv, "--state-dir", state,
		"--seed-port", fmt.Sprint(freeLoopbackPort(t)), "--ssh-connect-attempts", "1", "--test-site-hosts",
		"--seed-allow", "10.1.0.0/24,10.2.0.0/24", "--allow-incompatible", "kernel-kubeadm", "--restart"}
	_, stderr, err := runDeploy(args, "")
	if err == nil {
		t.Fatal("a deployment onto a host that refuses SSH succeeded")
	}
	const lead = "the deployment stopped; fix the cause, then: "
	i := strings.Index(stderr, lead)
	if i < 0 {
		t.Fatalf("no resume hint in:\n%s", stderr)
	}
	hint, _, _ := strings.Cut(stderr[i+len(lead):], "\n")
	for _, want := range []string{"deploy --bundle " + cb.signed, "-i " + inv, "--state-dir '" + state + "'", "--key " + cb.pub,
		"--seed-port ", "--ssh-connect-attempts 1", "--test-site-hosts", "--seed-allow 10.1.0.0/24 --seed-allow 10.2.0.0/24",
		"--allow-incompatible kernel-kubeadm"} {
		if !strings.Contains(hint, want) {
			t.Errorf("the hint lacks %q: %s", want, hint)
		}
	}
	if strings.Contains(hint, "--restart") || !strings.HasSuffix(hint, " --resume") {
		t.Errorf("the hint keeps --restart or does not end in --resume: %s", hint)
	}

	status, _, err := runDeploy([]string{"status", "--state-dir", state, "--timeout", "1s"}, "")
	if err != nil || !strings.Contains(status, hint) {
		t.Errorf("deploy status (%v) does not show the resume command %s:\n%s", err, hint, status)
	}

	words, err := shell.Fields(hint, func(string) string { return "" })
	if err != nil || len(words) < 2 || words[0] != "deploy" {
		t.Fatalf("the hint is not one shell command: %v %q", err, words)
	}
	_, stderr2, err := runDeploy(words[1:], "")
	if err == nil || !strings.Contains(stderr2, lead+hint+"\n") || strings.Contains(err.Error(), "already holds") {
		t.Errorf("running the hint: %v\n%s", err, stderr2)
	}
}

// TestRerunOfCompleteDeployment: deploy run again without --resume over a
// deployment whose every phase completed says that it is complete, and
// what --restart and --phase would do, and prints no resume hint.
func TestRerunOfCompleteDeployment(t *testing.T) {
	cb := makeCLIBundle(t)
	dir := t.TempDir()
	inv := refusingSite(t, dir)
	state := filepath.Join(dir, "state")
	args := []string{"--bundle", cb.signed, "--key", cb.pub, "-i", inv, "--state-dir", state,
		"--seed-port", fmt.Sprint(freeLoopbackPort(t)), "--ssh-connect-attempts", "1"}
	if _, _, err := runDeploy(args, ""); err == nil {
		t.Fatal("a deployment onto a host that refuses SSH succeeded")
	}
	completeAll(t, state)
	_, stderr, err := runDeploy(args, "")
	if err == nil {
		t.Fatal("a re-run over a complete deployment succeeded without running anything")
	}
	for _, want := range []string{"is complete", "nothing was run", "--restart", "--phase ID --force", "deploy status --state-dir " + state} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	if strings.Contains(stderr, "stopped") || strings.Contains(err.Error(), "fix the cause") {
		t.Errorf("a complete deployment is reported as stopped:\n%s\n%v", stderr, err)
	}
}

// completeAll journals every leaf of the plan recorded in stateDir as
// completed, as a deployment that ran to its end leaves it.
func completeAll(t *testing.T, stateDir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, state.PlanFile))
	if err != nil {
		t.Fatal(err)
	}
	var saved struct{ Phases []plan.PhaseView }
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	j, err := plan.OpenJournal(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var walk func([]plan.PhaseView)
	walk = func(vs []plan.PhaseView) {
		for _, v := range vs {
			if len(v.Children) == 0 {
				if err := j.Append(plan.Record{Phase: v.ID, State: plan.Completed, Time: time.Now().UTC()}); err != nil {
					t.Fatal(err)
				}
			}
			walk(v.Children)
		}
	}
	walk(saved.Phases)
}
