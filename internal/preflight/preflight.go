package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/compat"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// Site is what the checks know beyond the host they run on: explicit
// inputs, read from the inventory, the bundle and the deployment's
// configuration by internal/deploy.
type Site struct {
	// Index is the bundle's, checked against the compatibility matrix.
	Index *bundle.Index
	// KubernetesVersion is the bundle's ("" for none).
	KubernetesVersion string
	// AllowIncompatible names the compatibility rows the operator
	// overrode: their violations are warned about (on Warn and in the host
	// log) instead.
	AllowIncompatible []string
	// TestSiteHosts reads the test-site marker instead of /etc/os-release
	// (see internal/deploy's package documentation).
	TestSiteHosts bool
	// DeployNode is the deploy node's address (the clock's reference).
	DeployNode string
	// APIServer is the inventory's: its port, and its VIP when /ha runs.
	APIServer inventory.APIServer
	// HAHosts are the hosts /ha runs haproxy on (the masters, with a VIP).
	HAHosts []inventory.Host
	// CACert returns the site CA certificate (the site server's, known
	// once it started; nil in a dry run without one).
	CACert func() []byte
	// SeedURL is the site server's base URL, as hosts reach it.
	SeedURL string
	// Warn receives the compatibility overrides' warnings.
	Warn io.Writer
}

// Requirement is the least a host of a role needs.
type Requirement struct {
	CPUs     int
	MemoryMB int   // MemTotal
	DiskGB   int   // free in /var
	Ports    []int // TCP ports that must be free
}

// Requirements per role; a host with several roles needs the largest of each.
var Requirements = map[inventory.Role]Requirement{
	inventory.RoleMaster:   {CPUs: 2, MemoryMB: 1700, DiskGB: 20, Ports: []int{2379, 2380, 6443, 10250, 10257, 10259}},
	inventory.RoleWorker:   {CPUs: 1, MemoryMB: 900, DiskGB: 20, Ports: []int{10250}},
	inventory.RoleRegistry: {CPUs: 2, MemoryMB: 3800, DiskGB: 40, Ports: []int{80, 443}},
}

// MaxClockSkew is the largest difference between a host's clock and the
// deploy node's that preflight accepts (certificates and etcd need agreeing
// clocks; chrony keeps them so once /system ran).
const MaxClockSkew = 30 * time.Second

// preflightCA is where preflight puts the site CA to test the site server
// before /repos installs it in the trust store.
const preflightCA = "/var/tmp/appliance-preflight-ca.crt"

// Error lists every problem found on one host.
type Error struct {
	Host     string
	Problems []string
}

func (e *Error) Error() string {
	return fmt.Sprintf("preflight on %s found %d problem(s):\n  - %s", e.Host, len(e.Problems), strings.Join(e.Problems, "\n  - "))
}

// requirement folds the requirements of the host's roles.
func requirement(h inventory.Host) Requirement {
	var r Requirement
	for _, role := range h.Roles {
		q := Requirements[role]
		r.CPUs, r.MemoryMB, r.DiskGB = max(r.CPUs, q.CPUs), max(r.MemoryMB, q.MemoryMB), max(r.DiskGB, q.DiskGB)
		for _, p := range q.Ports {
			if !slices.Contains(r.Ports, p) {
				r.Ports = append(r.Ports, p)
			}
		}
	}
	return r
}

// Check checks one host without changing it (it only leaves the site
// CA in /var/tmp to test the site server) and reports every problem at once.
func (site *Site) Check(ctx context.Context, h *remote.Host) error {
	c := &checks{}
	site.checkOS(ctx, h, c)
	checkResources(ctx, h, c)
	checkSecurity(ctx, h, c)
	site.checkClock(ctx, h, c)
	site.checkPorts(ctx, h, c)
	checkTools(ctx, h, c)
	site.checkSeedReachable(ctx, h, c)
	if c.stop != nil {
		return c.stop
	}
	if h.Dry || len(c.problems) == 0 {
		plan.Logf(ctx, "preflight passed")
		return nil
	}
	return &Error{Host: h.Host.Name, Problems: c.problems}
}

// checks collects problems; a command that cannot run is a problem too.
// A host that cannot be reached (or whose key is refused) stops the checks:
// stop holds why, and no further command is tried.
type checks struct {
	problems []string
	stop     error
}

func (c *checks) add(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// fact runs cmd and returns its output and whether to check it (not in a
// dry run, where output is empty). A command that fails is recorded as a
// problem; the phase then fails and is retried, so a dropped connection
// gets the phase's attempts too.
func (c *checks) fact(ctx context.Context, h *remote.Host, what, cmd string) (string, bool) {
	if c.stop != nil {
		return "", false
	}
	out, err := h.Out(ctx, cmd)
	var exit *sshx.ExitError
	switch {
	case err == nil:
		return out, !h.Dry
	case errors.As(err, &exit):
		c.add("cannot read %s: %v", what, err)
	default:
		c.stop = err
	}
	return "", false
}

func (site *Site) checkOS(ctx context.Context, h *remote.Host, c *checks) {
	file := "/etc/os-release"
	if site.TestSiteHosts {
		file = testHostMarker
	}
	host := compat.Host{Name: h.Host.Name}
	text, ok := c.fact(ctx, h, file, "cat "+file)
	if ok {
		o := ParseOSRelease(text)
		if site.TestSiteHosts && !o.TestHost {
			c.add("%s does not mark a test-site host (APPLIANCE_TEST_HOST=1); --test-site-hosts is only for the project's test site", file)
		} else if err := o.CheckSupported(); err != nil {
			c.add("%v%s", err, site.testHostHint(ctx, h))
		}
		host.ELMajor = o.Major()
	}
	if k, ok := c.fact(ctx, h, "kernel release", "uname -r"); ok {
		host.Kernel = k
	}
	// cgroup2fs: the unified hierarchy (v2); tmpfs: v1 (EL7's, EL8's default).
	if fs, ok := c.fact(ctx, h, "cgroup version", "stat -f -c %T /sys/fs/cgroup/"); ok {
		host.Cgroup = 1
		if fs == "cgroup2fs" {
			host.Cgroup = 2
		}
	}
	if !h.Dry && c.stop == nil {
		site.checkCompat(ctx, host, c)
	}
}

// checkCompat checks the bundle (the Kubernetes window and the stack rows)
// and the host against the compatibility matrix. Rows the operator
// overrode (--allow-incompatible) or the bundle's build did
// (compat.AnnotationOverridden) are warned about instead.
func (site *Site) checkCompat(ctx context.Context, host compat.Host, c *checks) {
	stack := BundleStack(site.Index)
	stack.Kubernetes = site.KubernetesVersion
	vs := compat.CheckStack(stack)
	vs = append(vs, compat.CheckHost(site.KubernetesVersion, host, compat.BundleEL(rpmNEVRAs(site.Index)))...)
	built := compat.Overridden(site.Index.Annotations)
	overridden, err := compat.Apply(vs, append(slices.Clone(site.AllowIncompatible), built...))
	for _, v := range overridden {
		remote.Warnf(ctx, "%s", compat.Warning(v))
		fmt.Fprintln(site.Warn, compat.Warning(v))
	}
	var e *compat.Error
	if errors.As(err, &e) {
		for _, v := range e.Violations {
			c.add("%v", v)
		}
	} else if err != nil {
		c.add("%v", err)
	}
}

// BundleStack is what the compatibility matrix reads of a bundle: its
// images' names and its RPMs' NEVRAs.
func BundleStack(idx *bundle.Index) compat.Stack {
	var images []string
	for _, img := range idx.Images {
		images = append(images, img.Name)
	}
	return compat.FromArtifacts(images, rpmNEVRAs(idx))
}

// rpmNEVRAs lists the NEVRA of every RPM the bundle carries.
func rpmNEVRAs(idx *bundle.Index) []string {
	var out []string
	for _, a := range idx.Artifacts {
		if n := a.Annotations[bundle.AnnotationRPMNEVRA]; n != "" {
			out = append(out, n)
		}
	}
	return out
}

// testHostHint is what to add to the refusal of a host's OS when the host
// carries the test-site marker and deploy runs without --test-site-hosts:
// that flag, which the project's test site needs. "" otherwise.
func (site *Site) testHostHint(ctx context.Context, h *remote.Host) string {
	if site.TestSiteHosts {
		return ""
	}
	out, err := h.Out(ctx, "if test -e "+testHostMarker+"; then echo marked; fi")
	if err != nil || out != "marked" {
		return ""
	}
	return "; this host carries " + testHostMarker + ", the marker of the project's test site (Debian standing in for EL): " +
		"on that site, run deploy with --test-site-hosts (never on a real site)"
}

// testHostMarker is the os-release of a test-site host (see the package
// documentation), read instead of /etc/os-release with --test-site-hosts.
const testHostMarker = "/etc/appliance-test-host"

func checkResources(ctx context.Context, h *remote.Host, c *checks) {
	req := requirement(h.Host)
	if s, ok := c.fact(ctx, h, "CPU count", "nproc"); ok {
		if n, _ := strconv.Atoi(s); n < req.CPUs {
			c.add("%d CPU(s), its roles %v need at least %d", n, h.Host.Roles, req.CPUs)
		}
	}
	if s, ok := c.fact(ctx, h, "memory", "awk '/^MemTotal:/ {print $2}' /proc/meminfo"); ok {
		if kb, _ := strconv.Atoi(s); kb/1024 < req.MemoryMB {
			c.add("%d MiB of memory, its roles %v need at least %d MiB", kb/1024, h.Host.Roles, req.MemoryMB)
		}
	}
	if s, ok := c.fact(ctx, h, "free disk in /var", "df -Pk /var | awk 'NR==2 {print $4}'"); ok {
		if kb, _ := strconv.ParseInt(s, 10, 64); kb>>20 < int64(req.DiskGB) {
			c.add("%d GiB free in /var, its roles %v need at least %d GiB", kb>>20, h.Host.Roles, req.DiskGB)
		}
	}
	if s, ok := c.fact(ctx, h, "swap", "awk 'NR>1' /proc/swaps | wc -l"); ok && s != "0" {
		plan.Logf(ctx, "swap is on (%s device(s)); /system turns it off", s)
	}
}

func checkSecurity(ctx context.Context, h *remote.Host, c *checks) {
	if s, ok := c.fact(ctx, h, "SELinux mode", "getenforce 2>/dev/null || echo Disabled"); ok && s == "Enforcing" {
		plan.Logf(ctx, "SELinux is enforcing; /system sets it permissive")
	}
	if s, ok := c.fact(ctx, h, "firewalld state", "systemctl is-active firewalld 2>/dev/null || true"); ok && s == "active" {
		c.add("firewalld is running and would block the cluster's ports; stop it (systemctl disable --now firewalld) or open the ports before deploying")
	}
}

func (site *Site) checkClock(ctx context.Context, h *remote.Host, c *checks) {
	s, ok := c.fact(ctx, h, "clock", "date +%s")
	if !ok {
		return
	}
	secs, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		c.add("clock: date +%%s printed %q", s)
		return
	}
	skew := time.Since(time.Unix(secs, 0)).Round(time.Second)
	if skew < 0 {
		skew = -skew
	}
	if skew > MaxClockSkew {
		c.add("clock is %s off the deploy node's (at most %s allowed); set the time (chronyd -q 'server %s iburst') and retry",
			skew, MaxClockSkew, site.DeployNode)
	}
}

// ownListeners are the programs of the deployment itself that may hold a
// port preflight checks: a re-run over a deployed site finds them there.
// haproxy is ours on the apiserver port only where /ha runs (a VIP is set,
// see haListener); anywhere else it is someone else's, or left over from a
// deployment that had a VIP.
var ownListeners = map[int][]string{
	6443:  {"kube-apiserver"},
	2379:  {"etcd"},
	2380:  {"etcd"},
	10250: {"kubelet"},
	10257: {"kube-controller"},
	10259: {"kube-scheduler"},
	80:    {"docker-proxy"},
	443:   {"docker-proxy"},
}

// haListener is the program /ha runs on the apiserver port of the masters.
const haListener = "haproxy"

// checkPorts finds listeners on the ports the host's roles need; a port
// held by the program that belongs there (ownListeners, and haproxy on the
// apiserver port of a master /ha sets up) is allowed. Any other holder is
// named with its process id and systemd unit (read from /proc/PID/cgroup)
// and the command that stops it.
func (site *Site) checkPorts(ctx context.Context, h *remote.Host, c *checks) {
	s, ok := c.fact(ctx, h, "listening ports", "ss -Hltnp")
	if !ok {
		return
	}
	busy := listeners(s)
	ha := slices.ContainsFunc(site.HAHosts, func(m inventory.Host) bool { return m.Name == h.Host.Name })
	for _, p := range requirement(h.Host).Ports {
		for _, l := range busy[p] {
			if slices.Contains(ownListeners[p], l.proc) || ha && p == site.APIServer.Port && l.proc == haListener {
				continue
			}
			c.add("%s", site.portProblem(ctx, h, p, l))
			break
		}
	}
}

// portProblem says who holds port p and how to free it.
func (site *Site) portProblem(ctx context.Context, h *remote.Host, p int, l listener) string {
	who := orUnknown(l.proc)
	if l.pid != 0 {
		who += fmt.Sprintf(" (pid %d)", l.pid)
	}
	unit, ours := "", false
	if l.pid != 0 {
		cmd := fmt.Sprintf("sed -n 's|.*/\\([^/]*\\.service\\)$|\\1|p' /proc/%d/cgroup 2>/dev/null", l.pid)
		if l.proc == haListener {
			cmd += "; if grep -qs '^# Written by deploy' " + hostconf.HAProxyConfig + "; then echo written-by-deploy; fi"
		}
		// Only to word the message: an answer that cannot be read leaves
		// the generic fix.
		if out, err := h.Out(ctx, cmd); err == nil {
			for _, line := range strings.Fields(out) {
				switch {
				case line == "written-by-deploy":
					ours = true
				case unit == "" && strings.HasSuffix(line, ".service") && serviceName.MatchString(line):
					unit = line
				}
			}
		}
	}
	stop := "stop it"
	if unit != "" {
		stop = "stop it: systemctl disable --now " + strings.TrimSuffix(unit, ".service")
	}
	if l.proc == haListener && p == site.APIServer.Port {
		why := "this deployment runs no haproxy: the inventory has no apiserver.vip, so there is no /ha phase"
		if !h.Host.HasRole(inventory.RoleMaster) || site.APIServer.VIP != "" {
			why = "this deployment runs haproxy only on the masters, for apiserver.vip"
		}
		if ours {
			why += "; this one was set up by an earlier deployment's /ha (" + hostconf.HAProxyConfig + " says \"Written by deploy\"), whose keepalived may still hold its VIP"
			stop = "stop both: systemctl disable --now haproxy keepalived"
		}
		return fmt.Sprintf("TCP port %d is in use by %s, and %s; %s, the cluster's apiserver needs the port", p, who, why, stop)
	}
	return fmt.Sprintf("TCP port %d is in use by %s; %s, the cluster needs the port", p, who, stop)
}

// serviceName is a systemd service unit name as /proc/PID/cgroup shows it
// (the host's answer is checked before it is put into a message).
var serviceName = regexp.MustCompile(`^[A-Za-z0-9:_.@-]{1,200}\.service$`)

func orUnknown(s string) string {
	if s == "" {
		return "an unknown process"
	}
	return s
}

// listener is the process ss shows on a port (pid 0 when it shows none).
type listener struct {
	proc string
	pid  int
}

// ListeningPorts parses `ss -Hltnp` into port → process name ("" when ss
// does not show it).
func ListeningPorts(ss string) map[int]string {
	out := map[int]string{}
	for p, ls := range listeners(ss) {
		out[p] = ls[0].proc
		for _, l := range ls {
			if l.proc != "" {
				out[p] = l.proc
				break
			}
		}
	}
	return out
}

// listeners parses `ss -Hltnp` into port → the processes listening on it,
// in ss's order (several when each binds its own address).
func listeners(ss string) map[int][]listener {
	out := map[int][]listener{}
	for _, line := range strings.Split(ss, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		local := f[3]
		i := strings.LastIndexByte(local, ':')
		port, err := strconv.Atoi(local[i+1:])
		if i < 0 || err != nil {
			continue
		}
		var l listener
		if j := strings.Index(line, `users:(("`); j >= 0 {
			rest := line[j+len(`users:(("`):]
			l.proc, rest, _ = strings.Cut(rest, `"`)
			if k := strings.Index(rest, "pid="); k >= 0 {
				digits := rest[k+len("pid="):]
				if e := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); e >= 0 {
					digits = digits[:e]
				}
				l.pid, _ = strconv.Atoi(digits)
			}
		}
		out[port] = append(out[port], l)
	}
	return out
}

// requiredTools are the commands the later phases run on every host.
var requiredTools = []string{"rpm", "yum", "systemctl", "curl", "sha256sum", "update-ca-trust", "ss"}

func checkTools(ctx context.Context, h *remote.Host, c *checks) {
	cmd := "for t in " + strings.Join(requiredTools, " ") + `; do command -v "$t" >/dev/null 2>&1 || echo "$t"; done`
	if s, ok := c.fact(ctx, h, "tools", cmd); ok && s != "" {
		c.add("missing commands: %s; install them from the OS media", strings.Join(strings.Fields(s), ", "))
	}
}

// checkSeedReachable fetches /v2/ from the site server, trusting only the
// site CA, as the later phases will.
func (site *Site) checkSeedReachable(ctx context.Context, h *remote.Host, c *checks) {
	if c.stop != nil {
		return
	}
	if err := h.Put(ctx, preflightCA, site.CACert(), 0o644); err != nil {
		c.add("cannot copy the site CA to %s: %v", preflightCA, err)
		return
	}
	url := site.SeedURL + "/v2/"
	cmd := fmt.Sprintf("curl -sS -o /dev/null -w '%%{http_code} %%{local_ip}' --max-time 15 --cacert %s %s", sshx.Quote(preflightCA), sshx.Quote(url))
	out, err := h.Out(ctx, cmd)
	code, from, _ := strings.Cut(strings.TrimSpace(out), " ")
	switch {
	case h.Dry:
	case err != nil:
		c.add("cannot reach the site server at %s: %v; check the route and firewall from this host to the deploy node", url, err)
	case code == "403":
		c.add("the site server at %s refused this host, which connects from %s, not its inventory address %s; give the host that address in the inventory, or run deploy with --seed-allow %s", url, from, h.Host.Address, from)
	case code != "200":
		c.add("the site server at %s answered HTTP %s", url, code)
	}
}

// UniqueCommand is what Unique runs on each host: its machine id and its
// current name.
const UniqueCommand = "cat /etc/machine-id; hostname"

// Unique checks, once every host passed preflight, that no two of hosts
// are clones: they must differ in /etc/machine-id, which kubelet and etcd
// rely on. It also reports current host names that collide (only a note:
// /system renames every host to its inventory name). dial returns a
// host's runner.
func Unique(ctx context.Context, hosts []inventory.Host, dial func(context.Context, inventory.Host) (sshx.Runner, error)) error {
	ids, names := map[string][]string{}, map[string][]string{}
	for _, h := range hosts {
		r, err := dial(ctx, h)
		if err != nil {
			return err
		}
		out, _, _, err := r.Run(ctx, UniqueCommand)
		if err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		f := strings.Fields(string(out))
		if len(f) != 2 {
			return fmt.Errorf("%s: /etc/machine-id and hostname gave %q", h.Name, out)
		}
		ids[f[0]] = append(ids[f[0]], h.Name)
		names[f[1]] = append(names[f[1]], h.Name)
	}
	var errs []error
	for _, hosts := range ids {
		if len(hosts) > 1 {
			errs = append(errs, fmt.Errorf("hosts %s share one /etc/machine-id (cloned machines); give each its own: rm /etc/machine-id && systemd-machine-id-setup", strings.Join(hosts, ", ")))
		}
	}
	for n, hosts := range names {
		if len(hosts) > 1 {
			plan.Logf(ctx, "hosts %s are all named %s now; /system renames each to its inventory name", strings.Join(hosts, ", "), n)
		}
	}
	return errors.Join(errs...)
}
