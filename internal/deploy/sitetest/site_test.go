//go:build site

package sitetest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy"
	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/testsite"
)

// siteName is this package's test site (other packages use other names).
const siteName = "deploytest"

// The packages of each role, as scripts/site-test.sh's stack names them
// (components with roles), and the yum repo deploy writes for the bundle's
// repository (repos/site-test-x86_64/).
var rolePackages = map[string]string{
	"master": "chain-a foo-wrapper",
	"worker": "cron-lite",
}

const servedRepo = "appliance-site-test-x86_64"

// phases are the top-level phases of the test site's plan, in order.
var phases = []string{"/verify", "/seed", "/preflight", "/unique", "/repos", "/packages", "/system", "/containerd", "/ha"}

// TestSite deploys a fixture bundle onto the air-gapped test site and checks
// the acceptance scenarios of the deployment, in an order that keeps the
// whole run short: what must touch nothing first, then a deploy that is
// killed in every phase in turn and resumed, a host cut off mid-phase, and
// finally an uninterrupted deploy on a fresh site whose hosts must end up
// in the same state as the interrupted one's.
func TestSite(t *testing.T) {
	in := inputs(t)
	work := t.TempDir()
	b := writeFixtureBundle(t, in, work)
	siteState := filepath.Join(work, "site")
	s := testsite.Up(t, siteName, testsite.WithStateDir(siteState), testsite.WithMount(work+"/bundle", ""))
	d := newDeployer(t, s, b)

	t.Run("DryRunTouchesNothing", func(t *testing.T) { testDryRun(t, d) })
	t.Run("UnknownHostKeyRefused", func(t *testing.T) { testUnknownHostKey(t, d) })
	t.Run("DebianRefusedOutsideTestMode", func(t *testing.T) { testDebianRefused(t, d) })
	var interrupted map[string]string
	t.Run("KillInEveryPhaseThenResume", func(t *testing.T) { interrupted = testKillAndResume(t, d) })
	t.Run("HostDropsMidPhase", func(t *testing.T) { testHostDrops(t, d) })
	top := t // the fresh site must outlive this subtest
	t.Run("UninterruptedOnFreshSite", func(t *testing.T) {
		if err := s.Down(context.Background()); err != nil {
			t.Fatal(err)
		}
		s = testsite.Up(top, siteName, testsite.WithStateDir(siteState), testsite.WithMount(work+"/bundle", ""))
		d.site = s
		if out, err := d.run("--restart"); err != nil {
			t.Fatalf("deploy: %v\n%s", err, out)
		}
		fresh := d.hostStates()
		if interrupted == nil {
			t.Skip("no interrupted run to compare with")
		}
		for host, want := range fresh {
			if got := interrupted[host]; got != want {
				t.Errorf("%s after kills and resumes differs from an uninterrupted deploy:\n%s", host, diffLines(got, want))
			}
		}
	})
	t.Run("HostChecks", func(t *testing.T) { checkHosts(t, d) })
	t.Run("CommandsRunOnEL7", func(t *testing.T) { checkEL7Logs(t, d) })
	t.Run("RerunRestartsNothing", func(t *testing.T) { testRerun(t, d) })
	t.Run("NoSecretsInLogs", func(t *testing.T) { testNoSecrets(t, d) })
}

// in are the inputs scripts/site-test.sh prepares: the site bundle, built
// by `bundle build` (demo images, the fixture RPM closure with each role's
// packages, a padding file), and its public key.
type in struct{ bundle, pub string }

func inputs(t *testing.T) in {
	t.Helper()
	v := in{bundle: os.Getenv("SITETEST_BUNDLE"), pub: os.Getenv("SITETEST_PUB")}
	if v.bundle == "" || v.pub == "" {
		t.Fatal("SITETEST_BUNDLE and SITETEST_PUB are not set: run make site-test (scripts/site-test.sh)")
	}
	return v
}

// fixtureBundle is the bundle deployed, and its key, in the directory
// mounted into the deploy node.
type fixtureBundle struct{ path, pub string }

// writeFixtureBundle puts the site bundle and its key in the directory the
// deploy node mounts.
func writeFixtureBundle(t *testing.T, v in, work string) fixtureBundle {
	t.Helper()
	dir := filepath.Join(work, "bundle")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := fixtureBundle{path: filepath.Join(dir, "site.bundle"), pub: filepath.Join(dir, "cosign.pub")}
	for src, dst := range map[string]string{v.bundle: b.path, v.pub: b.pub} {
		if out, err := exec.Command("cp", src, dst).CombinedOutput(); err != nil {
			t.Fatalf("cp %s %s: %v\n%s", src, dst, err, out)
		}
	}
	return b
}

// deployer runs bin/deploy in the site's deploy node.
type deployer struct {
	t        *testing.T
	site     *testsite.Site
	b        fixtureBundle
	state    string // the deploy state directory (on the mounted site state)
	inv      string // inventory: worker-1 logs in as "admin" with sudo
	sudoFile string
	outputs  []string // everything the deployer printed, for the secrets check
}

func newDeployer(t *testing.T, s *testsite.Site, b fixtureBundle) *deployer {
	d := &deployer{t: t, site: s, b: b, state: filepath.Join(s.StateDir, "deploy-state"), sudoFile: s.AdminPasswordFile()}
	d.inv = d.writeInventory("inventory-admin.yaml", "")
	return d
}

// writeInventory writes a copy of the site's inventory in which worker-1
// logs in as the non-root user admin (sudo with a password), and, when
// knownHosts is set, with another known_hosts file.
func (d *deployer) writeInventory(name, knownHosts string) string {
	d.t.Helper()
	b, err := os.ReadFile(d.site.InventoryPath())
	if err != nil {
		d.t.Fatal(err)
	}
	text := strings.Replace(string(b), "roles: [worker]}", "roles: [worker], user: admin, sudo: true}", 1)
	if knownHosts != "" {
		text = strings.Replace(text, "knownHosts: "+d.site.KnownHosts(), "knownHosts: "+knownHosts, 1)
	}
	p := filepath.Join(d.site.StateDir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return p
}

func (d *deployer) args(inv string, extra ...string) []string {
	a := []string{testsite.DeployBinDir + "/deploy", "--bundle", d.b.path, "--key", d.b.pub, "-i", inv,
		"--state-dir", d.state, "--test-site-hosts", "--sudo-password-file", d.sudoFile,
		"--ssh-connect-timeout", "3s", "--ssh-connect-attempts", "2", "--ssh-keepalive", "1s"}
	return append(a, extra...)
}

// run runs the deployer to its end.
func (d *deployer) run(extra ...string) (string, error) {
	return d.runWith(d.inv, extra...)
}

func (d *deployer) runWith(inv string, extra ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	outFile := filepath.Join(d.site.StateDir, "deploy.out")
	_, err := d.site.ExecContext(ctx, testsite.DeployHost, nil, "sh", "-c", shellJoin(d.args(inv, extra...))+" >"+outFile+" 2>&1")
	b, _ := os.ReadFile(outFile)
	d.outputs = append(d.outputs, string(b))
	return string(b), err
}

// runKilledIn runs the deployer and kills it with SIGKILL as soon as the
// journal records a leaf of phase as in_progress. It returns the deployer's
// output and whether it was killed (it may have ended first).
func (d *deployer) runKilledIn(phase string, extra ...string) (string, bool) {
	d.t.Helper()
	return d.runKilledAfter(phase, 0, extra...)
}

// runKilledAfter is runKilledIn, killing delay after the leaf started (in
// the middle of its work, if it lasts that long).
func (d *deployer) runKilledAfter(phase string, delay time.Duration, extra ...string) (string, bool) {
	d.t.Helper()
	if slices.Contains(extra, "--restart") {
		d.t.Fatal("runKilledIn cannot start over with --restart: the watcher would see the old journal; move it aside first")
	}
	return d.killIn(d.args(d.inv, extra...), d.state, phase, delay)
}

// killIn runs the command argv on the deploy node and kills it with
// SIGKILL delay after the journal in journalDir records a leaf of phase as
// in_progress. It returns the command's output and whether it was killed.
func (d *deployer) killIn(argv []string, journalDir, phase string, delay time.Duration) (string, bool) {
	d.t.Helper()
	journal := filepath.Join(journalDir, plan.JournalFile)
	skip := len(readJournal(d.t, journalDir))
	pattern := fmt.Sprintf(`"phase":"%s(/[^"]*)?","state":"%s"`, regexp.QuoteMeta(phase), plan.InProgress)
	script := fmt.Sprintf(`mkdir -p %s || exit 1
%s >%s 2>&1 &
pid=$!
until tail -n +%d %s 2>/dev/null | grep -qE %s; do
  kill -0 $pid 2>/dev/null || { wait $pid; echo "exited $?"; exit 0; }
  sleep 0.01
done
sleep %.2f
kill -9 $pid || { wait $pid; echo "exited $?"; exit 0; }
wait $pid
echo killed`, shellQuote(d.state), shellJoin(argv), filepath.Join(d.state, "run.out"), skip+1, journal, shellQuote(pattern), delay.Seconds())
	res, err := d.site.Exec(testsite.DeployHost, "sh", "-c", script)
	out, _ := os.ReadFile(filepath.Join(d.state, "run.out"))
	d.outputs = append(d.outputs, string(out))
	if err != nil {
		d.t.Fatalf("running the deployer to kill it in %s: %v", phase, err)
	}
	if strings.TrimSpace(res) == "killed" {
		return string(out), true
	}
	// The deployer ended by itself: say how, with what it printed.
	return fmt.Sprintf("%s[the deployer %s]", out, strings.TrimSpace(res)), false
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func readJournal(t *testing.T, dir string) []plan.Record {
	t.Helper()
	recs, err := plan.ReadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// status resolves the journal.
func (d *deployer) status() plan.Status { return plan.Resolve(readJournal(d.t, d.state)) }

// leafStates returns the state of every leaf under phase.
func (d *deployer) leafStates(phase string) map[string]plan.Record {
	out := map[string]plan.Record{}
	for id, r := range d.status() {
		if id == phase || strings.HasPrefix(id, phase+"/") {
			out[id] = r
		}
	}
	return out
}

// hostStateScript prints what the deployment leaves on a host, so two
// deployments can be compared: every file it writes (by digest), the
// installed packages, the services, and no leftovers of staged writes.
const hostStateScript = `for f in /etc/yum.repos.d/appliance.repo /etc/hosts /etc/hostname \
  /etc/sysctl.d/90-appliance-kubernetes.conf /etc/modules-load.d/appliance-kubernetes.conf /etc/chrony.conf \
  /etc/containerd/config.toml /etc/pki/ca-trust/source/anchors/appliance-site-ca.crt \
  /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf; do
  if [ -e "$f" ]; then echo "$f $(sha256sum <"$f" | cut -c1-16)"; else echo "$f absent"; fi
done
find /etc/containerd/certs.d /etc/pki/rpm-gpg -type f 2>/dev/null | sort | while read -r f; do echo "$f $(sha256sum <"$f" | cut -c1-16)"; done
find /etc -name '*.appliance-new' -o -name '*.tmp' 2>/dev/null | sed 's/^/leftover /'
rpm -qa --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\n' | sort
for s in containerd haproxy keepalived chrony; do echo "$s $(systemctl is-enabled $s 2>&1) $(systemctl is-active $s 2>&1)"; done
echo "hostname $(hostname)"`

func (d *deployer) hostStates() map[string]string {
	d.t.Helper()
	out := map[string]string{}
	for _, h := range d.site.Targets() {
		st, err := d.site.Exec(h.Name, "sh", "-c", hostStateScript)
		if err != nil {
			d.t.Fatal(err)
		}
		out[h.Name] = st
	}
	return out
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("  got  %s\n  want %s", x, y))
		}
	}
	return strings.Join(out, "\n")
}

// testDryRun: --dry-run lists every host's commands and changes neither the
// hosts nor the state directory.
func testDryRun(t *testing.T, d *deployer) {
	before := d.hostStates()
	out, err := d.run("--dry-run")
	if err != nil {
		t.Fatalf("deploy --dry-run: %v\n%s", err, out)
	}
	for _, want := range []string{"master-1", "master-2", "worker-1", "cat /etc/appliance-test-host",
		"install 'chain-a' 'foo-wrapper'", "install 'cron-lite'", "haproxy -c", "keepalived --config-test", "as admin, each command through sudo"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q", want)
		}
	}
	if _, err := os.Stat(d.state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run created %s (%v)", d.state, err)
	}
	after := d.hostStates()
	for h := range before {
		if before[h] != after[h] {
			t.Errorf("dry run changed %s:\n%s", h, diffLines(after[h], before[h]))
		}
	}
	t.Logf("dry run: %d lines", strings.Count(out, "\n"))
}

// testUnknownHostKey: with an empty known_hosts every host's key is
// refused, and the error shows the key's fingerprint.
func testUnknownHostKey(t *testing.T, d *deployer) {
	empty := filepath.Join(d.site.StateDir, "known_hosts.empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	inv := d.writeInventory("inventory-unknown-keys.yaml", empty)
	out, err := d.runWith(inv, "--restart")
	if err == nil {
		t.Fatalf("deploy with unknown host keys succeeded:\n%s", out)
	}
	fps := fingerprints(t, d.site.KnownHosts())
	for _, h := range d.site.Targets() {
		found := false
		for _, fp := range fps[h.Name] {
			found = found || strings.Contains(out, fp)
		}
		if !found {
			t.Errorf("the refusal does not show %s's key fingerprint (%v):\n%s", h.Name, fps[h.Name], out)
		}
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Errorf("an unknown key was recorded without --accept-new-host-keys (%v)", err)
	}
}

// fingerprints reads host name → SHA256 fingerprints of its keys.
func fingerprints(t *testing.T, knownHosts string) map[string][]string {
	out, err := exec.Command("ssh-keygen", "-l", "-f", knownHosts).Output()
	if err != nil {
		t.Fatalf("ssh-keygen -l (Debian package openssh-client): %v", err)
	}
	fps := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 {
			name, _, _ := strings.Cut(f[2], ",")
			fps[name] = append(fps[name], f[1])
		}
	}
	return fps
}

// testDebianRefused: without --test-site-hosts the Debian hosts fail
// preflight, all of them reported at once, and since they carry the
// test-site marker the refusal suggests the flag.
func testDebianRefused(t *testing.T, d *deployer) {
	a := d.args(d.inv, "--restart")
	var args []string
	for _, x := range a {
		if x != "--test-site-hosts" {
			args = append(args, x)
		}
	}
	out, err := d.site.Exec(testsite.DeployHost, "sh", "-c", shellJoin(args)+" 2>&1")
	var ee *testsite.ExecError
	if errors.As(err, &ee) {
		out += ee.Stderr
	}
	d.outputs = append(d.outputs, out)
	if err == nil {
		t.Fatalf("deploying onto Debian hosts succeeded:\n%s", out)
	}
	for _, h := range d.site.Targets() {
		if !regexp.MustCompile(`preflight on ` + h.Name + ` found \d+ problem`).MatchString(out) {
			t.Errorf("no preflight report for %s", h.Name)
		}
	}
	if !strings.Contains(out, `ID=debian`) {
		t.Errorf("the refusal does not name Debian:\n%s", out)
	}
	// The hosts carry the test-site marker: the refusal names the flag.
	if !strings.Contains(out, "run deploy with --test-site-hosts") {
		t.Errorf("the refusal of a marked test host does not suggest --test-site-hosts:\n%s", out)
	}
}

// testKillAndResume kills the deployer with SIGKILL in every phase in turn,
// each time in a deployment started over (--restart), as soon as the
// journal shows the phase started; then --resume must complete, and the
// hosts must end in the same state every time. It returns that state.
func testKillAndResume(t *testing.T, d *deployer) map[string]string {
	var first map[string]string
	for i, p := range phases {
		// Start over as --restart does, but before the deployer runs, so
		// the watcher never sees the old journal.
		journal := filepath.Join(d.state, plan.JournalFile)
		if err := os.Rename(journal, fmt.Sprintf("%s.kill-%d", journal, i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		out, killed := d.runKilledIn(p)
		if !killed {
			t.Fatalf("the deployer ended before %s started:\n%s", p, out)
		}
		mid := false
		for id, r := range d.leafStates(p) {
			mid = mid || r.State == plan.InProgress
			if r.State == plan.Failed {
				t.Errorf("%s failed before the kill: %s", id, r.Error)
			}
		}
		if mid {
			t.Logf("killed in the middle of %s", p)
		} else {
			t.Logf("killed in %s just after it completed (a deploy-node phase shorter than the watcher's poll)", p)
		}
		if out, err := d.run("--resume"); err != nil {
			t.Fatalf("--resume after a kill in %s: %v\n%s", p, err, out)
		}
		d.checkAllCompleted(t)
		st := d.hostStates()
		if first == nil {
			first = st
			continue
		}
		for host, want := range first {
			if st[host] != want {
				t.Errorf("%s after a kill in %s and --resume differs from after the first kill:\n%s", host, p, diffLines(st[host], want))
			}
		}
	}
	return first
}

// checkAllCompleted: deploy plan shows every phase completed.
func (d *deployer) checkAllCompleted(t *testing.T) {
	t.Helper()
	shown, err := d.site.Exec(testsite.DeployHost, testsite.DeployBinDir+"/deploy", "plan", "--state-dir", d.state, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var views []plan.PhaseView
	if err := json.Unmarshal([]byte(shown), &views); err != nil {
		t.Fatalf("deploy plan --json: %v\n%s", err, shown)
	}
	if len(views) != len(phases) {
		t.Errorf("deploy plan shows %d top-level phases, want %d", len(views), len(phases))
	}
	for _, v := range views {
		if v.State != plan.Completed {
			t.Errorf("deploy plan shows %s %s", v.ID, v.State)
		}
	}
}

// testHostDrops cuts worker-1 off while it installs packages: its phase
// fails after the retries with an error naming it, the masters complete the
// phase, and after the cable is back --resume completes.
func testHostDrops(t *testing.T, d *deployer) {
	const host = "worker-1"
	done := make(chan error, 1)
	var out string
	go func() {
		var err error
		out, err = d.run("--restart")
		done <- err
	}()
	phase := ""
	deadline := time.Now().Add(3 * time.Minute)
	for phase == "" && time.Now().Before(deadline) {
		for _, p := range []string{"/packages", "/system", "/containerd"} {
			if d.status().State(p+"/"+host) == plan.InProgress {
				phase = p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if phase == "" {
		t.Fatalf("worker-1 never started /packages: %v\n%s", <-done, out)
	}
	if err := d.site.Disconnect(host); err != nil {
		t.Fatal(err)
	}
	t.Logf("cut %s off during %s", host, phase)
	err := <-done
	if recErr := d.site.Reconnect(host); recErr != nil {
		t.Fatal(recErr)
	}
	if err == nil {
		t.Fatalf("the deploy succeeded with %s cut off:\n%s", host, out)
	}
	var failed []string
	for id, r := range d.leafStates(phase) {
		switch {
		case strings.HasSuffix(id, "/"+host):
			if r.State != plan.Failed || !strings.Contains(r.Error, host) {
				t.Errorf("%s: %s %q, want failed with an error naming %s", id, r.State, r.Error, host)
			}
			failed = append(failed, r.Error)
		case r.State != plan.Completed:
			t.Errorf("%s is %s; the hosts still on the network must complete it", id, r.State)
		}
	}
	t.Logf("error: %s", strings.Join(failed, "; "))
	if out, err := d.run("--resume"); err != nil {
		t.Fatalf("--resume after reconnecting: %v\n%s", err, out)
	}
}

// checkHosts checks what the deployment left on the hosts.
func checkHosts(t *testing.T, d *deployer) {
	s := d.site
	inv := mustRead(t, s.InventoryPath())
	for _, h := range s.Targets() {
		pkgs := rolePackages[h.Role]
		if out, err := s.Exec(h.Name, "sh", "-c", "rpm -q "+pkgs+" && dnf -q repoquery --installed --qf '%{name} %{from_repo}' "+pkgs); err != nil {
			t.Errorf("%s: packages %s: %v", h.Name, pkgs, err)
		} else {
			for _, p := range strings.Fields(pkgs) {
				if !strings.Contains(out, p+" "+servedRepo) {
					t.Errorf("%s: %s was not installed from the served repo %s:\n%s", h.Name, p, servedRepo, out)
				}
			}
		}
		hosts := mustExec(t, s, h.Name, "cat", "/etc/hosts")
		for _, o := range s.Targets() {
			if !strings.Contains(hosts, o.Address+" "+o.Name+"\n") {
				t.Errorf("%s: /etc/hosts lacks %s %s:\n%s", h.Name, o.Address, o.Name, hosts)
			}
		}
		deployIP := s.Hosts[0].Address
		if !strings.Contains(hosts, deployIP+" "+hostconf.SeedHostname) {
			t.Errorf("%s: /etc/hosts lacks the seed name", h.Name)
		}
		if got := strings.TrimSpace(mustExec(t, s, h.Name, "hostname")); got != h.Name {
			t.Errorf("%s: hostname %s", h.Name, got)
		}
		if !strings.Contains(mustExec(t, s, h.Name, "cat", "/etc/chrony.conf"), "server "+deployIP+" iburst") {
			t.Errorf("%s: chrony does not use the site's NTP server", h.Name)
		}
		if st := strings.TrimSpace(mustExec(t, s, h.Name, "systemctl", "is-active", "containerd")); st != "active" {
			t.Errorf("%s: containerd is %s", h.Name, st)
		}
	}
	_ = inv
	for _, m := range s.Role(testsite.RoleMaster) {
		mustExec(t, s, m.Name, "haproxy", "-c", "-f", hostconf.HAProxyConfig)
		mustExec(t, s, m.Name, "keepalived", "--config-test", "-f", hostconf.KeepalivedConfig)
		if ss := mustExec(t, s, m.Name, "ss", "-Hltn"); !strings.Contains(ss, s.VIP+":6443") {
			t.Errorf("%s: haproxy does not listen on %s:6443:\n%s", m.Name, s.VIP, ss)
		}
	}
	checkVIP(t, s)
	checkMirrorPull(t, d)
}

// checkVIP: exactly one master, the first, holds the VIP.
func checkVIP(t *testing.T, s *testsite.Site) {
	var holders []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		holders = holders[:0]
		for _, m := range s.Role(testsite.RoleMaster) {
			if strings.Contains(mustExec(t, s, m.Name, "ip", "-4", "-o", "addr", "show", "dev", "eth0"), " "+s.VIP+"/") {
				holders = append(holders, m.Name)
			}
		}
		if len(holders) == 1 && holders[0] == "master-1" {
			return
		}
	}
	t.Errorf("VIP %s held by %v, want master-1 alone", s.VIP, holders)
}

// checkMirrorPull serves the bundle again (deploy serve, same site CA) and
// pulls a demo image on master-1 through the hosts.toml the deployment
// wrote: the host has no route and no name for registry.factory.example,
// so only the mirror to the seed can answer. ctr reads the hosts directory
// itself (--hosts-dir); the CRI plugin reads the same files through
// config_path, which only kubelet exercises.
func checkMirrorPull(t *testing.T, d *deployer) {
	s := d.site
	addr := fmt.Sprintf("%s:%d", s.Hosts[0].Address, deploy.DefaultSeedPort)
	master, err := s.Host("master-1")
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(d.state, "serve.pid")
	logFile := filepath.Join(d.state, "logs", "serve.out")
	serve := shellJoin([]string{testsite.DeployBinDir + "/deploy", "serve", "--bundle", d.b.path, "--key", d.b.pub,
		"--addr", addr, "--state-dir", d.state, "--debug", "--allow", master.Address})
	mustExec(t, s, testsite.DeployHost, "sh", "-c", fmt.Sprintf("%s >%s 2>&1 & echo $! >%s", serve, logFile, pidFile))
	t.Cleanup(func() {
		_, _ = s.Exec(testsite.DeployHost, "sh", "-c", "kill $(cat "+pidFile+")")
	})
	for i := 0; i < 50 && !strings.Contains(string(mustRead(t, logFile)), "serving on"); i++ {
		time.Sleep(200 * time.Millisecond)
	}
	const ref = "registry.factory.example/library/app:1.0"
	out, err := s.Exec("master-1", "ctr", "-n", "appliance-sitetest", "images", "pull", "--hosts-dir", hostconf.ContainerdCertsDir, ref)
	if err != nil {
		t.Fatalf("pull %s through the mirror: %v\n%s\nseed log:\n%s", ref, err, out, mustRead(t, logFile))
	}
	t.Cleanup(func() { _, _ = s.Exec("master-1", "ctr", "-n", "appliance-sitetest", "images", "rm", ref) })
	if !strings.Contains(string(mustRead(t, logFile)), "ns=registry.factory.example") {
		t.Errorf("the seed saw no mirror request for registry.factory.example:\n%s", mustRead(t, logFile))
	}
	// Only master-1 was allowed: worker-1 (which trusts the site CA since
	// /repos) is refused, and the refusal is summarised, not logged per request.
	if code, err := s.Exec("worker-1", "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "https://"+addr+"/v2/"); err != nil || code != "403" {
		t.Errorf("worker-1, not in --allow, got HTTP %q (%v) from deploy serve, want 403", code, err)
	}
	if !strings.Contains(string(mustRead(t, logFile)), "refused requests") {
		t.Errorf("deploy serve did not log the refusal:\n%s", mustRead(t, logFile))
	}
}

// testRerun forces /ha and /containerd again: with their configurations
// unchanged, the services keep running (same main PIDs) and the VIP stays.
func testRerun(t *testing.T, d *deployer) {
	pids := func() string {
		return mustExec(t, d.site, "master-1", "systemctl", "show", "-p", "MainPID", "haproxy", "keepalived", "containerd")
	}
	before := pids()
	for _, p := range []string{"/ha", "/containerd"} {
		if out, err := d.run("--phase", p, "--force"); err != nil {
			t.Fatalf("--phase %s --force: %v\n%s", p, err, out)
		}
	}
	if after := pids(); after != before {
		t.Errorf("re-running unchanged phases restarted services: main PIDs %q, then %q", before, after)
	}
	checkVIP(t, d.site)
}

// testNoSecrets greps everything the deployer wrote or printed for the
// sudo password it was given (the only password these phases use: SSH is by
// key, and the seed registry has no login).
func testNoSecrets(t *testing.T, d *deployer) {
	secrets := map[string]string{"the sudo password": strings.TrimSpace(string(mustRead(t, d.sudoFile)))}
	// Harbor's passwords, when the deployment installed Harbor: only the
	// files that hold them may contain them.
	own := map[string]bool{}
	for _, f := range []string{state.HarborAdminPasswordFile, "harbor-db-password"} {
		p := filepath.Join(d.state, f)
		if b, err := os.ReadFile(p); err == nil {
			secrets["Harbor's "+f] = strings.TrimSpace(string(b))
			own[p] = true
		}
	}
	for what, secret := range secrets {
		if len(secret) < 8 {
			t.Fatalf("%s %q is too short to grep for", what, secret)
		}
	}
	files := 0
	err := filepath.Walk(d.state, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || own[p] {
			return err
		}
		files++
		content := string(mustRead(t, p))
		for what, secret := range secrets {
			if strings.Contains(content, secret) {
				t.Errorf("%s contains %s", p, what)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range d.outputs {
		for what, secret := range secrets {
			if strings.Contains(o, secret) {
				t.Errorf("deployer output %d contains %s", i, what)
			}
		}
	}
	worker := string(mustRead(t, filepath.Join(d.state, plan.LogsDir, "worker-1.log")))
	if !strings.Contains(worker, "sudo") && !strings.Contains(worker, "yum") {
		t.Errorf("worker-1's log shows no command; was the admin login used?")
	}
	t.Logf("grepped %d files and %d outputs for %d secrets", files, len(d.outputs), len(secrets))
}

func mustExec(t *testing.T, s *testsite.Site, host string, cmd ...string) string {
	t.Helper()
	out, err := s.Exec(host, cmd...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
