package hostconf

import (
	"fmt"
	"strings"
)

// NodeNet is one node's pod network as the cluster assigned it.
type NodeNet struct {
	Name, PodCIDR, Address string
}

// RenderBridgeConflist is the CNI configuration of a node's pods: a
// bridge with addresses from the node's pod CIDR, masquerading traffic
// that leaves the pod network, and host ports.
func RenderBridgeConflist(podCIDR string) string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "appliance",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, podCIDR)
}

// RenderPodRoutes is the unit that routes every other node's pod CIDR to
// that node's address (pods reach pods on other nodes without an overlay).
func RenderPodRoutes(self string, nets []NodeNet) string {
	var cmds []string
	for _, n := range nets {
		if n.Name != self && n.PodCIDR != "" {
			cmds = append(cmds, fmt.Sprintf("ExecStart=/sbin/ip route replace %s via %s", n.PodCIDR, n.Address))
		}
	}
	return fmt.Sprintf(`# Written by deploy: other nodes' pod CIDRs route to those nodes.
[Unit]
Description=Routes to the pods of the other Kubernetes nodes
After=network-online.target appliance-service-route.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
%s

[Install]
WantedBy=multi-user.target
`, strings.Join(cmds, "\n"))
}

// Files of the pod network on a node.
const (
	CNIConflist   = "/etc/cni/net.d/10-appliance.conflist"
	PodRoutesUnit = "/etc/systemd/system/appliance-pod-routes.service"
)

// RenderServiceRoute is the unit that routes the service CIDR cidr through
// the interface that holds address (see ServiceRouteUnit).
func RenderServiceRoute(cidr, address string) string {
	return fmt.Sprintf(`# Written by deploy: the Kubernetes service CIDR routes through the node's interface.
[Unit]
Description=Route for the Kubernetes service CIDR %[1]s
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'ip route replace %[1]s dev "$(ip -o addr show to %[2]s | cut -d" " -f2)"'

[Install]
WantedBy=multi-user.target
`, cidr, address)
}

// ServiceRouteUnit routes the service CIDR on a node: an air-gapped host
// often has no default route, and a pod's or kubelet's packet to a service
// address must leave through kube-proxy's rules.
const ServiceRouteUnit = "/etc/systemd/system/appliance-service-route.service"
