package inventory

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/factory-appliance/appliance/internal/sshx"
)

// validator checks a decoded, defaulted inventory. Every check appends to
// the decoder's problems; none stops at the first.
type validator struct {
	*decoder
	inv      *Inventory
	warnings []Problem
	pod, svc netip.Prefix    // valid CIDRs, or zero
	flagged  map[string]bool // fields holding a control character (text)
}

func (v *validator) validate() {
	v.text()
	v.header()
	v.ssh()
	v.hosts()
	v.roles()
	v.vipNeedsMasters()
	v.network()
	v.deployNode()
	v.apiServer()
	v.ntp()
	v.storage()
	v.harbor()
	v.kubernetes()
	v.backup()
}

// add records a problem, unless text found a control character in the
// field already: that is the problem to fix first, and the other message
// would print the value raw.
func (v *validator) add(field, fix, format string, args ...any) {
	if v.flagged[field] {
		return
	}
	v.decoder.add(field, fix, format, args...)
}

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	dnsName  = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
	userName = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`)
	ifName   = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,15}$`)
	numeric  = regexp.MustCompile(`^[0-9.]+$`)
	// sitePath is a path written into a site's configuration (an NFS
	// export, Harbor's data volume): absolute, of the portable file name
	// characters and a few more, nothing a YAML, shell or config parser
	// reads specially.
	sitePath = regexp.MustCompile(`^/[A-Za-z0-9._~@%+=:,/-]*$`)
)

// text refuses a control character (C0, DEL, C1 such as NEL, the line and
// paragraph separators, and the invisible format characters such as
// U+202E) in any string of the inventory, at its field: every one may end
// up in a host's configuration, a rendered template or the operator's
// terminal. It runs first, and the other checks skip a field it flagged.
// A value hosts inherit is reported once, where it is written.
func (v *validator) text() {
	v.flagged = map[string]bool{}
	seen := map[string]bool{}
	walkStrings(reflect.ValueOf(v.inv).Elem(), "", func(field, s string) {
		r, bad := controlRune(s)
		if !bad {
			return
		}
		v.flagged[field] = true
		if seen[s] {
			return
		}
		seen[s] = true
		v.decoder.add(field, "remove the control character; write the value on one line of plain text",
			"%q holds the control character U+%04X", s, r)
	})
}

// controlRune returns the first control or format character of s.
func controlRune(s string) (rune, bool) {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			return r, true
		}
	}
	return 0, false
}

// walkStrings calls fn with the field path (as problems name fields) and
// value of every string under v, following the yaml tags.
func walkStrings(v reflect.Value, field string, fn func(field, s string)) {
	switch v.Kind() {
	case reflect.String:
		fn(field, v.String())
	case reflect.Pointer:
		if !v.IsNil() {
			walkStrings(v.Elem(), field, fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkStrings(v.Index(i), fmt.Sprintf("%s[%d]", field, i), fn)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			name := tag
			if field != "" {
				name = field + "." + tag
			}
			walkStrings(v.Field(i), name, fn)
		}
	}
}

// checkSitePath reports p unless it is a clean absolute path of sitePath's
// characters.
func (v *validator) checkSitePath(field, p, what, example string) {
	switch {
	case !path.IsAbs(p):
		v.add(field, "write "+what+", such as "+example, "%q is not an absolute path", p)
	case path.Clean(p) != p || p == "/":
		v.add(field, "write "+what+" without ., .. or a trailing /, such as "+example, "%q is not a clean absolute path", p)
	case !sitePath.MatchString(p):
		v.add(field, "write "+what+" of letters, digits and . _ - ~ @ % + = : , / only, such as "+example,
			"%q is not a path of letters, digits and . _ - ~ @ %% + = : , /", p)
	}
}

func (v *validator) header() {
	inv := v.inv
	if inv.APIVersion != APIVersion {
		v.add("apiVersion", "write apiVersion: "+APIVersion, "apiVersion is %q", inv.APIVersion)
	}
	if inv.Kind != Kind {
		v.add("kind", "write kind: "+Kind, "kind is %q", inv.Kind)
	}
	if !dnsLabel.MatchString(inv.Site) {
		v.add("site", "name the site with lowercase letters, digits and '-', such as factory-a",
			"site %q is not a valid name", inv.Site)
	}
	if inv.BundleKey != "" {
		v.fileExists("bundleKey", inv.BundleKey, "copy the bundle signing public key there, or fix the path")
	}
}

func (v *validator) fileExists(field, p, fix string) bool {
	if _, err := os.Stat(p); err != nil {
		v.add(field, fix, "%s: %v", p, errors.Unwrap(err))
		return false
	}
	return true
}

func (v *validator) ssh() {
	s := v.inv.SSH
	v.user("ssh.user", s.User)
	v.port("ssh.port", s.Port)
	if s.JumpHost != nil {
		v.jump("ssh.jumpHost", s.JumpHost)
	}
}

func (v *validator) user(field, u string) {
	if !userName.MatchString(u) {
		v.add(field, "write a login name such as root or ops", "user %q is not a valid login name", u)
	}
}

func (v *validator) port(field string, p int) {
	if p < 1 || p > 65535 {
		v.add(field, "use a TCP port between 1 and 65535", "port %d is out of range", p)
	}
}

func (v *validator) jump(field string, j *JumpHost) {
	if !validHost(j.Address) {
		v.add(field+".address", "write the jump host's IP address (without a %zone) or DNS name", "%q is not an address", j.Address)
	}
	v.port(field+".port", j.Port)
	v.user(field+".user", j.User)
	v.hostKey(field+".hostKey", j.HostKey)
	if j.KeyFile != v.inv.SSH.KeyFile {
		v.keyFile(field+".keyFile", j.KeyFile)
	}
}

func (v *validator) hostKey(field, fp string) {
	if fp != "" && !sshx.ValidFingerprint(fp) {
		v.add(field, `copy the fingerprint from the host: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub `+
			`(the "SHA256:..." part)`, "%q is not a SHA256 host key fingerprint", fp)
	}
}

// keyFile reports a missing key file: an error, or a warning when an
// ssh-agent can authenticate instead.
func (v *validator) keyFile(field, p string) {
	if p == "" {
		return
	}
	if _, err := os.Stat(p); err == nil {
		return
	}
	fix := "create the key (ssh-keygen -t ed25519 -f " + p + "), fix the path, or remove keyFile to use ssh-agent"
	if os.Getenv("SSH_AUTH_SOCK") != "" {
		v.warnings = append(v.warnings, Problem{File: v.file, Line: v.line(field), Field: field,
			Message: fmt.Sprintf("key file %s does not exist; the ssh-agent will be used", p), Fix: fix})
		return
	}
	v.add(field, fix, "key file %s does not exist and no ssh-agent is running (SSH_AUTH_SOCK)", p)
}

func (v *validator) hosts() {
	if len(v.inv.Hosts) == 0 {
		v.add("hosts", "list the site's machines under hosts:", "no hosts")
	}
	names, addrs := map[string]string{}, map[string]string{}
	v.keyFile("ssh.keyFile", v.inv.SSH.KeyFile)
	for i, h := range v.inv.Hosts {
		f := fmt.Sprintf("hosts[%d]", i)
		v.host(f, h)
		if prev, dup := names[h.Name]; dup && h.Name != "" {
			v.add(f+".name", "give every host its own name", "host name %q is also used by %s", h.Name, prev)
		}
		names[h.Name] = f
		ep := net.JoinHostPort(h.Address, strconv.Itoa(h.Port))
		if prev, dup := addrs[ep]; dup && h.Address != "" {
			v.add(f+".address", "give every host its own address", "address %s is also used by %s", ep, prev)
		}
		addrs[ep] = f
	}
}

func (v *validator) host(f string, h Host) {
	if !dnsLabel.MatchString(h.Name) {
		v.add(f+".name", "use a hostname: lowercase letters, digits and '-', at most 63 characters",
			"host name %q is not a valid hostname", h.Name)
	}
	if !validIP(h.Address) {
		v.add(f+".address", "write the host's IPv4 or IPv6 address, without a %zone", "address %q is not an IP address", h.Address)
	}
	v.port(f+".port", h.Port)
	v.user(f+".user", h.User)
	v.hostKey(f+".hostKey", h.HostKey)
	if h.KeyFile != v.inv.SSH.KeyFile {
		v.keyFile(f+".keyFile", h.KeyFile)
	}
	if h.JumpHost != nil && h.JumpHost != v.inv.SSH.JumpHost {
		v.jump(f+".jumpHost", h.JumpHost)
	}
	if len(h.Roles) == 0 {
		v.add(f+".roles", "give the host roles: [master], [worker] or [registry]", "host %s has no roles", h.Name)
	}
	seen := map[Role]bool{}
	for j, r := range h.Roles {
		switch {
		case !isRole(r):
			v.add(fmt.Sprintf("%s.roles[%d]", f, j), "use master, worker or registry", "unknown role %q", r)
		case seen[r]:
			v.add(fmt.Sprintf("%s.roles[%d]", f, j), "list each role once", "role %q is listed twice", r)
		}
		seen[r] = true
	}
}

func isRole(r Role) bool {
	for _, k := range knownRoles {
		if r == k {
			return true
		}
	}
	return false
}

func (v *validator) roles() {
	masters := v.inv.HostsWithRole(RoleMaster)
	if len(v.inv.Hosts) > 0 && len(masters) == 0 {
		v.add("hosts", "give at least one host roles: [master]", "no host has the master role")
	}
	if len(masters) > 1 && v.inv.APIServer.VIP == "" {
		v.add("apiserver", "set apiserver.vip to a free address in the masters' subnet",
			"%d masters need a virtual IP (apiserver.vip) for the apiserver", len(masters))
	}
	if len(masters) > 1 && len(masters)%2 == 0 {
		v.warnings = append(v.warnings, Problem{File: v.file, Line: v.line("hosts"), Field: "hosts",
			Message: fmt.Sprintf("%d masters: etcd tolerates no more failures than with %d", len(masters), len(masters)-1),
			Fix:     "use an odd number of masters"})
	}
	// No registry host is allowed: the deploy then skips the Harbor phases
	// and the hosts pull from the seed on the deploy node.
	if regs := v.inv.HostsWithRole(RoleRegistry); len(regs) > 1 {
		v.add("hosts", "keep the registry role on one host", "%d hosts have the registry role; Harbor runs on one", len(regs))
	}
}

func (v *validator) network() {
	n := v.inv.Network
	v.pod = v.cidr("network.podCIDR", n.PodCIDR)
	v.svc = v.cidr("network.serviceCIDR", n.ServiceCIDR)
	if v.pod.IsValid() && v.svc.IsValid() && v.pod.Overlaps(v.svc) {
		v.add("network.serviceCIDR", "choose ranges that do not overlap, such as 10.244.0.0/16 and 10.96.0.0/12",
			"service CIDR %s overlaps pod CIDR %s", v.svc, v.pod)
	}
	for i, h := range v.inv.Hosts {
		v.outsideCIDRs(fmt.Sprintf("hosts[%d].address", i), "host "+h.Name, h.Address)
	}
}

func (v *validator) cidr(field, s string) netip.Prefix {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		v.add(field, "write a CIDR such as 10.244.0.0/16", "%q is not a CIDR", s)
		return netip.Prefix{}
	}
	if p.Masked() != p {
		v.add(field, fmt.Sprintf("write %s", p.Masked()), "%s has host bits set", s)
	}
	return p.Masked()
}

// outsideCIDRs reports an address inside the pod or service CIDR.
func (v *validator) outsideCIDRs(field, what, s string) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return
	}
	for _, c := range []struct {
		name string
		p    netip.Prefix
	}{{"pod CIDR", v.pod}, {"service CIDR", v.svc}} {
		if c.p.IsValid() && c.p.Contains(a) {
			v.add(field, "move the "+c.name+" (network:) to a range the site does not use",
				"%s address %s is inside the %s %s", what, s, c.name, c.p)
		}
	}
}

func (v *validator) deployNode() {
	a := v.inv.DeployNode.Address
	if !validIP(a) {
		v.add("deployNode.address", "write the IP address the hosts reach the deploy node at, without a %zone",
			"deploy node address %q is not an IP address", a)
	}
}

func (v *validator) apiServer() {
	api := v.inv.APIServer
	v.port("apiserver.port", api.Port)
	if api.VIP == "" {
		return
	}
	if !validIP(api.VIP) {
		v.add("apiserver.vip", "write a free IP address in the masters' subnet, without a %zone", "VIP %q is not an IP address", api.VIP)
		return
	}
	v.outsideCIDRs("apiserver.vip", "apiserver VIP", api.VIP)
	for _, h := range v.inv.Hosts {
		if h.Address == api.VIP {
			v.add("apiserver.vip", "the VIP must be an address no machine owns",
				"VIP %s is the address of host %s", api.VIP, h.Name)
		}
	}
	if api.VIP == v.inv.DeployNode.Address {
		v.add("apiserver.vip", "the VIP must be an address no machine owns", "VIP %s is the deploy node's address", api.VIP)
	}
	if api.Interface != "" && !ifName.MatchString(api.Interface) {
		v.add("apiserver.interface", "write a network interface name such as eth0", "%q is not an interface name", api.Interface)
	}
}

func (v *validator) ntp() {
	for i, s := range v.inv.NTP {
		if !validHost(s) {
			v.add(fmt.Sprintf("ntp[%d]", i), "write an NTP server's IP address (without a %zone) or DNS name", "%q is not an address", s)
		}
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// maxBackupKeep bounds backup.etcd.keep: a year of daily snapshots.
const maxBackupKeep = 366

func (v *validator) backup() {
	b := v.inv.Backup.Etcd
	switch b.To {
	case "", BackupLocal:
		if b.Dir != "" {
			v.checkSitePath("backup.etcd.dir", b.Dir, "the directory for the snapshots on each master", "/var/lib/appliance/etcd-backup")
		}
	case BackupNFS:
		if v.inv.Storage.NFS == nil {
			v.add("backup.etcd.to", "add storage.nfs (server and path of the export), or write to: local", "to: nfs, but storage.nfs names no export")
		}
		if b.Dir != "" {
			v.add("backup.etcd.dir", "remove dir: with to: nfs the snapshots go to etcd-backup/MASTER on the export", "dir %q with to: nfs", b.Dir)
		}
	default:
		v.add("backup.etcd.to", "write local or nfs", "%q is not a backup destination", b.To)
	}
	if b.Keep < 0 || b.Keep > maxBackupKeep {
		v.add("backup.etcd.keep", fmt.Sprintf("write a number from 1 to %d (default 7)", maxBackupKeep), "keep is %d", b.Keep)
	}
}

func (v *validator) storage() {
	if nfs := v.inv.Storage.NFS; nfs != nil {
		if !validHost(nfs.Server) {
			v.add("storage.nfs.server", "write the NFS server's IP address (without a %zone) or DNS name", "%q is not an address", nfs.Server)
		}
		v.checkSitePath("storage.nfs.path", nfs.Path, "the exported directory", "/export")
	}
	if ceph := v.inv.Storage.Ceph; ceph != nil {
		if len(ceph.Monitors) == 0 {
			v.add("storage.ceph.monitors", "list the monitors as host:port, or remove ceph:", "no Ceph monitors")
		}
		if ceph.ClusterID != "" && !uuidRE.MatchString(ceph.ClusterID) {
			v.add("storage.ceph.clusterID", "write the cluster's fsid as `ceph fsid` prints it (a UUID)", "%q is not a UUID", ceph.ClusterID)
		}
		for i, m := range ceph.Monitors {
			host, port, err := net.SplitHostPort(m)
			n, perr := strconv.Atoi(port)
			if err != nil || perr != nil || n < 1 || n > 65535 || !validHost(host) {
				v.add(fmt.Sprintf("storage.ceph.monitors[%d]", i), "write host:port, such as 10.0.0.50:6789 (an IPv6 address in brackets, without a %zone)",
					"%q is not host:port", m)
			}
		}
	}
}

func (v *validator) harbor() {
	h := v.inv.Harbor.Hostname
	if _, err := netip.ParseAddr(h); err == nil || !validHost(h) {
		v.add("harbor.hostname", "write the DNS name hosts will pull from, such as harbor.factory.local",
			"Harbor hostname %q is not a DNS name", h)
	}
	if p := v.inv.Harbor.Port; p < 1 || p > 65535 {
		v.add("harbor.port", "write Harbor's HTTPS port, 443 by default", "Harbor port %d is out of range", p)
	}
	if d := v.inv.Harbor.DataVolume; !path.IsAbs(d) || path.Clean(d) != d || d == "/" {
		v.add("harbor.dataVolume", "write an absolute directory such as /data", "Harbor data volume %q is not a clean absolute directory", d)
	} else {
		v.checkSitePath("harbor.dataVolume", d, "an absolute directory", "/data")
	}
}

func (v *validator) kubernetes() {
	if d := v.inv.Kubernetes.CgroupDriver; d != CgroupSystemd && d != CgroupCgroupfs {
		v.add("kubernetes.cgroupDriver", "write systemd (the default) or cgroupfs",
			"cgroup driver %q is neither systemd nor cgroupfs", d)
	}
}

// validHost accepts an IP address without a zone, or a DNS name.
func validHost(s string) bool {
	if validIP(s) {
		return true
	}
	return s != "" && len(s) <= 253 && dnsName.MatchString(s) && !numeric.MatchString(s)
}

// validIP accepts an IPv4 or IPv6 address without a zone. netip.ParseAddr
// takes any text after '%' as the zone, newlines and shell metacharacters
// included, and these addresses are written into other hosts'
// configuration files, where one machine's interface means nothing.
func validIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}
