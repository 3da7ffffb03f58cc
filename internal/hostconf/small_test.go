package hostconf

import (
	"strings"
	"testing"
)

// TestRenderers checks what each small renderer must and must not write.
func TestRenderers(t *testing.T) {
	nets := []NodeNet{{Name: "n1", PodCIDR: "10.244.0.0/24", Address: "10.9.0.11"},
		{Name: "n2", PodCIDR: "10.244.1.0/24", Address: "10.9.0.12"}, {Name: "n3", Address: "10.9.0.13"}}
	for _, c := range []struct {
		name       string
		got        string
		want, none []string
	}{
		{"sysctl master", RenderSysctl(true), []string{"net.ipv4.ip_forward = 1", "net.bridge.bridge-nf-call-iptables = 1", "net.ipv4.ip_nonlocal_bind = 1"}, nil},
		{"sysctl worker", RenderSysctl(false), []string{"net.ipv4.ip_forward = 1"}, []string{"ip_nonlocal_bind"}},
		{"chrony", RenderChrony([]string{"ntp1.site", "10.9.0.1"}), []string{"server ntp1.site iburst\n", "server 10.9.0.1 iburst\n", "makestep 1.0 3"}, []string{"pool "}},
		{"modules", RenderModules(), []string{"overlay\n", "br_netfilter\n"}, nil},
		{"bridge", RenderBridgeConflist("10.244.1.0/24"), []string{`"subnet": "10.244.1.0/24"`, `"type": "bridge"`, `"type": "portmap"`}, nil},
		{"pod routes", RenderPodRoutes("n1", nets), []string{"ExecStart=/sbin/ip route replace 10.244.1.0/24 via 10.9.0.12"}, []string{"10.244.0.0/24", "10.9.0.13"}},
		{"service route", RenderServiceRoute("10.96.0.0/12", "10.9.0.11"), []string{"ip route replace 10.96.0.0/12 dev", "ip -o addr show to 10.9.0.11"}, nil},
		{"hosts.toml harbor", RenderHostsToml("docker.io", "https://harbor.site/v2/docker.io", HostCA), []string{`server = "https://registry-1.docker.io"`, "override_path = true"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, w := range c.want {
				if !strings.Contains(c.got, w) {
					t.Errorf("lacks %q:\n%s", w, c.got)
				}
			}
			for _, w := range c.none {
				if strings.Contains(c.got, w) {
					t.Errorf("holds %q:\n%s", w, c.got)
				}
			}
		})
	}
}

// TestCheckVRRPPass: keepalived takes 1 to 8 letters or digits as one word.
func TestCheckVRRPPass(t *testing.T) {
	for pass, ok := range map[string]bool{"Ab3dEf7h": true, "abc": true, "Ab3dEf7h9": false, "ab cd": false, "ab#": false} {
		if err := CheckVRRPPass(pass); (err == nil) != ok {
			t.Errorf("CheckVRRPPass(%q) = %v", pass, err)
		}
	}
}
