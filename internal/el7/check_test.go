package el7

import (
	"strings"
	"testing"
)

// TestCheckCatchesWhatEL7Lacks: each command is wrong for CentOS 7.9 in one
// way, and Check must say which (the message names it).
func TestCheckCatchesWhatEL7Lacks(t *testing.T) {
	for _, tc := range []struct{ cmd, want string }{
		{"systemctl show -p Id --value chronyd.service", "option --value is not in systemd 219"},
		{"keepalived --config-test -f /etc/keepalived/keepalived.conf", "option --config-test is not in keepalived 1.3.5"},
		{"ip -json route show", "option -json is not in iproute 4.11.0"},
		{"ip route frobnicate 10.0.0.0/8", `ip route has no subcommand "frobnicate"`},
		{"ss -ltnO", "option -O is not in iproute 4.11.0"},
		{"curl -sS -w '%{http_code} %{certs}' https://x/", "-w variable %{certs} is not in curl 7.29.0"},
		{"curl --retry-all-errors https://x/", "option --retry-all-errors is not in curl 7.29.0"},
		{"systemctl enable --now docker; systemctl is-active --wait docker", "option --wait is not in systemd 219"},
		{"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1", "ec_param_enc:named_curve"},
		{"yum -y clean everything", "clean everything is not in yum 3.4.3"},
		{"dnf -y install foo", "dnf: not in the EL7 table"},
		{"sed --sandbox -i s/a/b/ f", "option --sandbox is not in sed 4.2.2"},
		{"haproxy -cq -f /etc/haproxy/haproxy.cfg", "option -cq is not in haproxy 1.5.18"},
		// Inside other shells and wrappers too.
		{"sudo -n -- sh -c 'systemctl show -p Id --value chronyd'", "option --value"},
		{`bash -c "if true; then ss -Hltn --oneline; fi"`, "option --oneline"},
		{"exec 9>/run/x.lock; flock 9; flock /run/x.lock systemctl --value show", "option --value"},
		{"flock /run/x.lock -c 'ip -j a'", "option -j"},
		{"for i in $(seq 1 3); do x=$(ip -j a); done", "option -j"},
		{"sh -c \"$script\"", "not a literal word"},
		{"$tool --version", "not a literal word"},
		{"x=(1 2); echo ${x[0]}", "does not parse as a POSIX sh"},
		{"[[ -f /etc/os-release ]]", "[[: not in the EL7 table"},
	} {
		ps := Check(tc.cmd)
		var msgs []string
		for _, p := range ps {
			msgs = append(msgs, p.Error())
		}
		if !strings.Contains(strings.Join(msgs, "\n"), tc.want) {
			t.Errorf("Check(%q) = %q, want a problem containing %q", tc.cmd, msgs, tc.want)
		}
	}
}

// TestCheckPassesWhatEL7Has: commands CentOS 7.9 runs as written.
func TestCheckPassesWhatEL7Has(t *testing.T) {
	for _, cmd := range []string{
		"systemctl show -p Id chronyd.service",
		"systemctl enable --now docker",
		"systemctl disable --now appliance-pod-routes",
		"ss -Hltnp",
		"ss -Hltn 'sport = :6443'",
		"ip -o addr show to 10.0.0.1",
		"ip route del 10.1.0.0/16",
		"/sbin/ip route replace 10.1.0.0/16 via 10.0.0.2",
		"curl -sS -o /dev/null -w '%{http_code} %{local_ip}' --max-time 15 --cacert /x https://h/",
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -pkeyopt ec_param_enc:named_curve -out /k",
		"openssl req -new -key /k -subj '/CN=x'",
		"df -Pk /var | awk 'NR==2 {print $4}'",
		"yum -y -q --disablerepo='*' --enablerepo='appliance-*' clean expire-cache && yum -y -q makecache",
		"sudo -S -p '' -- sh -c 'while IFS= read -r l; do [ \"$l\" = x ] && break; done; uname -r'",
		"if (echo -1 >/proc/self/oom_score_adj) 2>/dev/null; then echo yes; else echo no; fi",
		"command -v getenforce >/dev/null 2>&1",
		"haproxy -c -q -f /etc/haproxy/haproxy.cfg",
		"tar -xzf /a.tgz -C /b",
		"echo 'abc  /f' | sha256sum -c --quiet",
		"ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d registry.k8s.io/pause:3.9 >/dev/null",
		"kubectl --kubeconfig /a -n kube-system wait --for=condition=Ready pod --all --timeout=10m",
		// A probe of the host's version scopes the option it asks about.
		"if keepalived --help 2>&1 | grep -q -e --config-test; then keepalived --config-test -f /k; fi",
	} {
		if ps := Check(cmd); len(ps) > 0 {
			t.Errorf("Check(%q) = %v, want none", cmd, ps)
		}
	}
	// The probe does not reach the else branch, nor another option.
	if ps := Check("if keepalived --help 2>&1 | grep -q -e --config-test; then keepalived --config-test --frob; else keepalived --config-test; fi"); len(ps) != 2 {
		t.Errorf("probe guard: %v, want --frob and the else branch's --config-test", ps)
	}
}

// TestTableIsSourced: every tool names its version and where its options
// were read, and its getopt strings are well formed.
func TestTableIsSourced(t *testing.T) {
	seen := map[string]bool{}
	var walk func(*Tool, string)
	walk = func(tl *Tool, where string) {
		s := strings.TrimPrefix(tl.Short, "+")
		for i := 0; i < len(s); i++ {
			if s[i] == ':' && (i == 0 || (s[i-1] == ':' && (i < 2 || s[i-2] == ':'))) {
				t.Errorf("%s: malformed getopt string %q", where, tl.Short)
			}
		}
		for _, sub := range tl.Sub {
			walk(sub, where+" "+sub.Name)
		}
	}
	for _, tl := range Tools {
		if seen[tl.Name] {
			t.Errorf("%s is in the table twice", tl.Name)
		}
		seen[tl.Name] = true
		if tl.Package == "" || tl.Version == "" || tl.Source == "" {
			t.Errorf("%s lacks its package, version or source", tl.Name)
		}
		walk(tl, tl.Name)
	}
}

// TestCheckUnit: systemd 219's directives pass, newer ones and Exec lines
// systemd 219 cannot run fail.
func TestCheckUnit(t *testing.T) {
	good := `# a comment
[Unit]
Description=Route for 10.96.0.0/12
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'ip route replace 10.96.0.0/12 dev "$(ip -o addr show to 10.0.0.1 | cut -d" " -f2)"'
ExecStart=-/sbin/ip route replace 10.1.0.0/16 via 10.0.0.2
ExecStart=/bin/true

[Install]
WantedBy=multi-user.target
`
	if ps := CheckUnit("good.service", good); len(ps) > 0 {
		t.Errorf("a systemd 219 unit: %v", ps)
	}
	for _, tc := range []struct{ line, want string }{
		{"[Service]\nExecCondition=/bin/true", "ExecCondition= is not a directive of [Service] in systemd 219"},
		{"[Service]\nType=exec", "Type=exec is not in systemd 219"},
		{"[Service]\nExecStart=ip route show", "not an absolute path"},
		{"[Service]\nExecStart=+/bin/true", `prefix "+" is newer than systemd 219`},
		{"[Service]\nExecStart=/bin/systemctl show -p Id --value x", "option --value"},
		{"[Service]\nExecStart=/bin/sh -c 'ss -Hltn --frob'", "option --frob"},
		{"[Unit]\nDescription=100%j", "specifier %j"},
		{"[Unit]\nStartLimitIntervalSec=10", "StartLimitIntervalSec= is not a directive of [Unit]"},
		{"[Socket]\nListenStream=80", "section [Socket]"},
	} {
		ps := CheckUnit("bad.service", tc.line)
		var msgs []string
		for _, p := range ps {
			msgs = append(msgs, p.Error())
		}
		if !strings.Contains(strings.Join(msgs, "\n"), tc.want) {
			t.Errorf("CheckUnit(%q) = %q, want %q", tc.line, msgs, tc.want)
		}
	}
}
