package status

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/plan"
)

// writeStatusState records, through the deployer's own writers (state.PlanFile
// and the journal), a deployment of stack 1.2.0 whose phases are:
// /verify, /preflight/{m1,w1} completed; /packages/m1 failed (a two-line
// error); /packages/w1 in progress; /kubernetes/init/m1,
// /kubernetes/workers/w1 and, with harbor, /harbor/push pending.
func writeStatusState(t *testing.T, harbor bool) string {
	t.Helper()
	dir := t.TempDir()
	leaf := func(id, host string) *plan.Phase {
		return &plan.Phase{ID: id, Host: host, Title: "do " + id, Run: func(context.Context) error { return nil }}
	}
	phases := []*plan.Phase{
		leaf("/verify", ""),
		plan.Group("/preflight", "Preflight", leaf("/preflight/m1", "m1"), leaf("/preflight/w1", "w1")),
		plan.Group("/packages", "Packages", leaf("/packages/m1", "m1"), leaf("/packages/w1", "w1")),
		plan.Group("/kubernetes", "Kubernetes",
			plan.Group("/kubernetes/init", "Init", leaf("/kubernetes/init/m1", "m1")),
			plan.Group("/kubernetes/workers", "Workers", leaf("/kubernetes/workers/w1", "w1"))),
	}
	if harbor {
		phases = append(phases, plan.Group("/harbor", "Harbor", leaf("/harbor/push", "")))
	}
	p, err := plan.New(phases...)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if err := state.Dir(dir).WritePlan(state.SavedPlan{Bundle: "sha256:0123456789abcdef0123", Name: "stack 1.2.0", Created: created, Phases: p.View(nil)}); err != nil {
		t.Fatal(err)
	}
	j, err := plan.OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	at := created
	for _, r := range []plan.Record{
		{Phase: "/verify", State: plan.InProgress, Attempt: 1},
		{Phase: "/verify", State: plan.Completed, Attempt: 1},
		{Phase: "/preflight/m1", State: plan.Completed, Attempt: 1},
		{Phase: "/preflight/w1", State: plan.Completed, Attempt: 1},
		{Phase: "/packages/m1", State: plan.InProgress, Attempt: 3},
		{Phase: "/packages/m1", State: plan.Failed, Attempt: 3, Error: "dnf: nothing provides libfoo.so.1\n(try --skip-broken)"},
		{Phase: "/packages/w1", State: plan.InProgress, Attempt: 1},
	} {
		at = at.Add(time.Minute)
		r.Time = at
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStatusPhases(t *testing.T) {
	dir := writeStatusState(t, true)
	s, err := Status(context.Background(), dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s.Site.Bundle != "stack" || s.Site.Version != "1.2.0" || s.Site.BundleDigest != "sha256:0123456789abcdef0123" {
		t.Errorf("site %+v, want bundle stack 1.2.0", s.Site)
	}
	if s.Site.LastChange == nil || !s.Site.LastChange.Equal(time.Date(2026, 12, 1, 9, 7, 0, 0, time.UTC)) {
		t.Errorf("last change %v, want the 7th record's time", s.Site.LastChange)
	}
	p := s.Phases
	if p.Total != 8 || p.Completed != 3 || p.Failed != 1 || p.InProgress != 1 || p.Pending != 3 {
		t.Errorf("counts %d total, %d completed, %d failed, %d in progress, %d pending; want 8 3 1 1 3",
			p.Total, p.Completed, p.Failed, p.InProgress, p.Pending)
	}
	if len(p.FailedList) != 1 || p.FailedList[0].ID != "/packages/m1" || p.FailedList[0].Host != "m1" ||
		p.FailedList[0].Attempt != 3 || p.FailedList[0].Error != "dnf: nothing provides libfoo.so.1" {
		t.Errorf("failed %+v, want /packages/m1 on m1, attempt 3, the error's first line", p.FailedList)
	}
	if len(p.Running) != 1 || p.Running[0].ID != "/packages/w1" {
		t.Errorf("in progress %+v, want /packages/w1", p.Running)
	}
	var left []string
	for _, st := range p.Left {
		left = append(left, st.ID+" "+string(st.State))
	}
	want := []string{"/packages failed", "/kubernetes/init unstarted", "/kubernetes/workers unstarted", "/harbor unstarted"}
	if strings.Join(left, ", ") != strings.Join(want, ", ") {
		t.Errorf("left %v, want %v", left, want)
	}
	if want := "deploy --bundle FILE -i INVENTORY --state-dir " + dir + " --resume"; p.Resume != want {
		t.Errorf("resume %q, want %q", p.Resume, want)
	}
	if s.Harbor != (HarborStatus{State: "unstarted", Completed: 0, Total: 1}) {
		t.Errorf("harbor %+v", s.Harbor)
	}
	if s.Kubernetes.State != SectionNoKubeconfig || s.Releases.State != SectionNoKubeconfig {
		t.Errorf("without admin.conf: kubernetes %q, releases %q; want %q", s.Kubernetes.State, s.Releases.State, SectionNoKubeconfig)
	}

	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, w := range []string{
		"bundle     stack 1.2.0 (bundle.json sha256:0123456789ab)",
		"3 of 8 completed, 1 failed, 1 in progress, 3 pending",
		"failed       /packages/m1         m1   attempt 3: dnf: nothing provides libfoo.so.1\n",
		"in progress  /packages/w1         w1   since 2026-12-01T09:07:00Z",
		"left         /packages            0/2",
		"/kubernetes/workers  0/1",
		"fix the failures, then: deploy --bundle FILE -i INVENTORY --state-dir " + dir + " --resume",
		"Kubernetes nodes\n  no admin kubeconfig yet",
		"Harbor\n  unstarted (0 of 1 /harbor phases completed; 0 of 0 nodes pull from Harbor)",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("text lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "skip-broken") {
		t.Errorf("text shows more than the error's first line:\n%s", out)
	}

	var js bytes.Buffer
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatalf("%v:\n%s", err, js.String())
	}
	for path, want := range map[string]any{
		"site.bundle":                  "stack",
		"site.version":                 "1.2.0",
		"phases.completed":             3.0,
		"phases.pending":               3.0,
		"phases.failedPhases.0.error":  "dnf: nothing provides libfoo.so.1",
		"phases.inProgressPhases.0.id": "/packages/w1",
		"phases.left.0.id":             "/packages",
		"phases.left.0.state":          "failed",
		"phases.resume":                p.Resume,
		"kubernetes.state":             SectionNoKubeconfig,
		"releases.state":               SectionNoKubeconfig,
		"harbor.state":                 "unstarted",
		"harbor.total":                 1.0,
	} {
		if got := lookup(m, path); got != want {
			t.Errorf("JSON %s = %#v, want %#v", path, got, want)
		}
	}
}

// lookup follows a dotted path of keys and indexes through decoded JSON.
func lookup(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := int(k[0] - '0')
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func TestStatusHarborNotPlannedAndAllDone(t *testing.T) {
	dir := writeStatusState(t, false)
	j, err := plan.OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"/packages/m1", "/packages/w1", "/kubernetes/init/m1", "/kubernetes/workers/w1"} {
		if err := j.Append(plan.Record{Phase: id, State: plan.Completed, Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	s, err := Status(context.Background(), dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s.Harbor.State != SectionNotPlanned || s.Phases.Resume != "" || len(s.Phases.Left) != 0 || s.Phases.Completed != 7 {
		t.Errorf("harbor %q, resume %q, left %v, %d completed; want not-planned, none, none, 7",
			s.Harbor.State, s.Phases.Resume, s.Phases.Left, s.Phases.Completed)
	}
	var text bytes.Buffer
	_ = s.WriteText(&text)
	for _, w := range []string{"left  nothing: every phase completed", "Harbor\n  not part of this deployment's plan"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, text.String())
		}
	}
}

func TestStatusWithoutDeployment(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	for dir, want := range map[string]string{
		missing:     missing + " does not exist",
		t.TempDir(): "has no journal (journal.jsonl) and no plan.json",
	} {
		_, err := Status(context.Background(), dir, time.Second)
		if !errors.Is(err, state.ErrNoDeployment) || !strings.Contains(err.Error(), want) ||
			!strings.Contains(err.Error(), "deploy --bundle FILE -i INVENTORY --state-dir "+dir) {
			t.Errorf("status of %s: %v; want state.ErrNoDeployment saying %q and how to start", dir, err, want)
		}
	}
}

// TestPlanFileBound: a plan.json larger than state.MaxPlanFile is refused before
// it is read, by deploy plan and deploy status alike, naming the file and
// the limit.
func TestPlanFileBound(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, state.PlanFile)
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: the size is there, the disk blocks are not.
	if err := f.Truncate(state.MaxPlanFile + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := ShowPlan(io.Discard, dir, false); err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "larger than 32 MiB") {
		t.Errorf("deploy plan: %v, want a refusal naming %s and the 32 MiB limit", err, file)
	}
	if _, err := Status(context.Background(), dir, time.Second); err == nil || !strings.Contains(err.Error(), "larger than 32 MiB") {
		t.Errorf("deploy status: %v, want the same refusal", err)
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestStatusClusterUnreachable(t *testing.T) {
	dir := writeStatusState(t, false)
	writeKubeconfig(t, dir, adminFor(t, "https://"+closedPort(t)))
	const timeout = 3 * time.Second
	start := time.Now()
	s, err := Status(context.Background(), dir, timeout)
	if took := time.Since(start); took > timeout+time.Second {
		t.Errorf("status took %v with a %v timeout", took, timeout)
	}
	if err != nil {
		t.Fatalf("an unreachable cluster is an error: %v", err)
	}
	if s.Kubernetes.State != SectionUnreachable || !strings.Contains(s.Kubernetes.Error, "connection refused") ||
		s.Releases.State != SectionUnreachable {
		t.Errorf("kubernetes %+v, releases %+v; want unreachable, connection refused", s.Kubernetes, s.Releases)
	}
	if s.Phases.Total != 7 {
		t.Errorf("the phases are not shown with the cluster unreachable: %+v", s.Phases)
	}
	var text bytes.Buffer
	_ = s.WriteText(&text)
	if !strings.Contains(text.String(), "Kubernetes nodes\n  API server unreachable: ") {
		t.Errorf("text:\n%s", text.String())
	}
}

// TestStatusTimeout: an API server that accepts and never answers is
// unreachable once the timeout passes.
func TestStatusTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent, until the test ends
		}
	}()
	dir := writeStatusState(t, false)
	writeKubeconfig(t, dir, adminFor(t, "https://"+l.Addr().String()))
	const timeout = 2 * time.Second
	start := time.Now()
	s, err := Status(context.Background(), dir, timeout)
	took := time.Since(start)
	if err != nil || s.Kubernetes.State != SectionUnreachable {
		t.Fatalf("status = %v, kubernetes %+v; want unreachable", err, s.Kubernetes)
	}
	if took < timeout || took > timeout+2*time.Second {
		t.Errorf("status took %v with a %v timeout", took, timeout)
	}
}

func TestStatusNodesAndReleases(t *testing.T) {
	node := func(name, ip string, ready corev1.ConditionStatus, roles ...string) corev1.Node {
		n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
		for _, r := range roles {
			n.Labels["node-role.kubernetes.io/"+r] = ""
		}
		n.Status.NodeInfo.KubeletVersion = "v1.30.14"
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: ready}}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
		return n
	}
	rel := func(name, ns string, rev int, st release.Status) *release.Release {
		return &release.Release{Name: name, Namespace: ns, Version: rev, Info: &release.Info{Status: st},
			Chart: &chart.Chart{Metadata: &chart.Metadata{Name: name, Version: "1.4.0", AppVersion: "v3.4.1"}}}
	}
	api := startFakeAPIServer(t,
		[]corev1.Node{node("worker-1", "10.0.0.21", corev1.ConditionFalse), node("master-1", "10.0.0.11", corev1.ConditionTrue, "control-plane")},
		[]*release.Release{rel("ks-core", "kubesphere-system", 1, release.StatusSuperseded), rel("ks-core", "kubesphere-system", 2, release.StatusDeployed)})
	dir := writeStatusState(t, false)
	writeKubeconfig(t, dir, api.pki.Admin)

	s, err := Status(context.Background(), dir, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if s.Kubernetes.State != SectionOK || len(s.Kubernetes.Nodes) != 2 {
		t.Fatalf("kubernetes %+v, want 2 nodes", s.Kubernetes)
	}
	m, w := s.Kubernetes.Nodes[0], s.Kubernetes.Nodes[1]
	if m.Name != "master-1" || !m.Ready || strings.Join(m.Roles, ",") != "control-plane" || m.KubeletVersion != "v1.30.14" || m.InternalIP != "10.0.0.11" {
		t.Errorf("master-1 is %+v", m)
	}
	if w.Name != "worker-1" || w.Ready || len(w.Roles) != 0 || w.InternalIP != "10.0.0.21" {
		t.Errorf("worker-1 is %+v", w)
	}
	if s.Releases.State != SectionOK || len(s.Releases.Releases) != 1 {
		t.Fatalf("releases %+v, want ks-core's latest revision", s.Releases)
	}
	if r := s.Releases.Releases[0]; r.Name != "ks-core" || r.Revision != 2 || r.Status != "deployed" || r.Chart != "ks-core-1.4.0" || r.AppVersion != "v3.4.1" {
		t.Errorf("release %+v", r)
	}
	var text bytes.Buffer
	_ = s.WriteText(&text)
	out := text.String()
	for _, want := range []string{
		"  NAME      STATUS    ROLES          VERSION   INTERNAL-IP\n",
		"  master-1  Ready     control-plane  v1.30.14  10.0.0.11\n",
		"  worker-1  NotReady  -              v1.30.14  10.0.0.21\n",
		"  kubesphere-system  ks-core  ks-core-1.4.0  v3.4.1       2         deployed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if key := base64.StdEncoding.EncodeToString(api.pki.Admin.KeyData); strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, key[:40]) {
		t.Errorf("text shows the kubeconfig's key:\n%s", out)
	}

	// A cluster without releases says none.
	api.releases = nil
	s, err = Status(context.Background(), dir, 5*time.Second)
	if err != nil || s.Releases.State != SectionOK || len(s.Releases.Releases) != 0 {
		t.Fatalf("no releases: %v %+v", err, s.Releases)
	}
	text.Reset()
	_ = s.WriteText(&text)
	if !strings.Contains(text.String(), "Releases\n  none\n") {
		t.Errorf("text:\n%s", text.String())
	}
}

// TestStatusRefusesKubeconfigPlugins is the attack of issue 18: an
// admin.conf in the state directory whose user is an exec plugin running
// a shell. deploy status must not run it: the kubeconfig is refused, naming
// the field, and the cluster sections say so. A kubeconfig naming another
// server than the one deploy configured is refused too.
func TestStatusRefusesKubeconfigPlugins(t *testing.T) {
	api := startFakeAPIServer(t, nil, nil)
	dir := writeStatusState(t, false)
	writeKubeconfig(t, dir, api.pki.Admin)
	marker := filepath.Join(t.TempDir(), "pwned")
	good, err := os.ReadFile(filepath.Join(dir, state.KubeconfigFile))
	if err != nil {
		t.Fatal(err)
	}
	// The user's credentials are the plugin's: it prints an ExecCredential
	// with a token after it ran what it wanted.
	users := strings.Index(string(good), "users:")
	contexts := strings.Index(string(good), "contexts:")
	bad := string(good)[:users] + `users:
- name: "kubernetes-admin"
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      interactiveMode: Never
      command: /bin/sh
      args: [-c, 'id > ` + marker + `; echo "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"x\"}}"']
` + string(good)[contexts:]
	writeFile(t, filepath.Join(dir, state.KubeconfigFile), []byte(bad))
	s, err := Status(context.Background(), dir, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("deploy status ran the kubeconfig's exec plugin")
	}
	if s.Kubernetes.State != SectionError || !strings.Contains(s.Kubernetes.Error, "users[0].user.exec") {
		t.Errorf("kubernetes %+v; want an error naming users[0].user.exec", s.Kubernetes)
	}

	other := strings.Replace(string(good), strings.TrimPrefix(api.URL, "https://"), "127.0.0.1:1", 1)
	writeFile(t, filepath.Join(dir, state.KubeconfigFile), []byte(other))
	if s, err = Status(context.Background(), dir, 5*time.Second); err != nil || s.Kubernetes.State != SectionError ||
		!strings.Contains(s.Kubernetes.Error, "clusters[0].cluster.server") {
		t.Errorf("a kubeconfig naming another server: %v, kubernetes %+v; want it refused", err, s.Kubernetes)
	}
}

func TestStatusWrongCredentials(t *testing.T) {
	api := startFakeAPIServer(t, nil, nil)
	dir := writeStatusState(t, false)
	// The server's CA, another client certificate.
	other := adminFor(t, api.URL)
	other.CAData = api.pki.Admin.CAData
	writeKubeconfig(t, dir, other)
	s, err := Status(context.Background(), dir, 5*time.Second)
	if err != nil || s.Kubernetes.State != SectionError || s.Releases.State != SectionError {
		t.Errorf("status with a refused token: %v, kubernetes %+v, releases %+v; want error sections", err, s.Kubernetes, s.Releases)
	}
}

// TestStatusTextEscapesTerminalControls: what deploy status shows from the
// journal (a host's stderr in an error) and from the cluster (node and
// release names, the API server's error) is printed with terminal escapes
// made visible; the JSON keeps every value exactly (issue 18).
func TestStatusTextEscapesTerminalControls(t *testing.T) {
	const hostile = "x\x1b[2J\x1b]0;pwn\x07\u009b31m\u202e\rend"
	s := &SiteStatus{
		Site:       SiteInfo{StateDir: "/state", Bundle: "stack" + hostile, Version: "1.0"},
		Phases:     PhaseSummary{Total: 1, Failed: 1, FailedList: []PhaseNote{{ID: "/packages/m1", Host: "m1", Attempt: 1, Error: hostile}}, Resume: "deploy --resume"},
		Kubernetes: KubernetesStatus{State: SectionOK, Nodes: []Node{{Name: "node" + hostile, Ready: true, KubeletVersion: "v1" + hostile, InternalIP: "10.0.0.1"}}},
		Releases:   ReleasesStatus{State: SectionError, Error: "refused: " + hostile},
		Harbor:     HarborStatus{State: "completed", Loaded: &state.HarborRecord{URL: "https://h" + hostile, Projects: []string{"p" + hostile}}, Health: "ill" + hostile},
	}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(text.String(), "\x1b\x07\r\u009b\u202e") || !strings.Contains(text.String(), `x\x1b[2J\x1b]0;pwn\x07\u009b31m\u202e\rend`) {
		t.Errorf("deploy status printed terminal controls raw:\n%q", text.String())
	}
	var js bytes.Buffer
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back SiteStatus
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Phases.FailedList[0].Error != hostile || back.Kubernetes.Nodes[0].Name != "node"+hostile {
		t.Errorf("deploy status --json changed the values: %+v, %v", back.Phases.FailedList, err)
	}
	if strings.ContainsAny(js.String(), "\x1b\x07\r\u009b\u202e") {
		t.Errorf("deploy status --json holds raw terminal controls:\n%q", js.String())
	}
}

// TestShowPlanEscapesTerminalControls: deploy plan's header and table
// show the state directory's names with terminal controls escaped.
func TestShowPlanEscapesTerminalControls(t *testing.T) {
	dir := writeStatusState(t, false)
	saved, err := state.Dir(dir).ReadPlan()
	if err != nil {
		t.Fatal(err)
	}
	saved.Name = "stack\x1b]0;pwn\x07 1.0"
	if err := state.Dir(dir).WritePlan(*saved); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := ShowPlan(&b, dir, false); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(b.String(), "\x1b\x07") || !strings.Contains(b.String(), `stack\x1b]0;pwn\x07 1.0`) {
		t.Errorf("deploy plan printed %q", b.String())
	}
}
