package kubeadm

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/factory-appliance/appliance/internal/sshx"
)

// Cluster is what kubeadm's configurations are rendered from.
type Cluster struct {
	Name         string // the site
	Version      string // kubernetesVersion, from the bundle ("v1.26.15")
	Endpoint     string // host:port every node reaches the apiservers at
	Port         int    // each apiserver's port on its master
	PodCIDR      string
	ServiceCIDR  string
	CgroupDriver string
	CertSANs     []string
	// LeaveConntrack makes kube-proxy leave nf_conntrack_max alone, for
	// hosts where it may not be set (a container's network namespace).
	LeaveConntrack bool
	// SharedPort: haproxy listens on the VIP at the apiservers' port on
	// every master, so kubeadm's preflight check of that port (a listen on
	// every address) would always fail there. Masters skip it and deploy
	// checks the master's own address instead (APIPortCheck).
	SharedPort bool
}

// Node is the node a configuration is for.
type Node struct {
	Name    string // its inventory name, which becomes the Node's name
	Address string // its inventory address: kubelet's node-ip, a master's advertise address
	// Ignore names kubeadm preflight checks this node skips beyond the
	// ones the configuration implies (Port-N on a master with SharedPort):
	// see PreflightIgnores.
	Ignore []string
}

// Secrets are what a configuration may carry that must not outlive its
// use: a bootstrap token (with its description) and the key the
// control-plane certificates are uploaded under. The zero value renders a
// configuration without any.
type Secrets struct {
	Token            string
	TokenDescription string
	CertificateKey   string
}

// config renders one release's configurations.
type config struct {
	r Release
	c Cluster
}

func newConfig(c Cluster) (config, error) {
	r, err := ForVersion(c.Version)
	return config{r: r, c: c}, err
}

// nodeRegistration is the nodeRegistration block of a node: its inventory
// name, containerd, kubelet on the node's inventory address, and the
// preflight checks it skips. A master sharing the apiserver port with
// haproxy skips kubeadm's check of that port.
func (k config) nodeRegistration(n Node, master bool) string {
	ignore := slices.Clone(n.Ignore)
	if master && k.c.SharedPort {
		ignore = append(ignore, "Port-"+strconv.Itoa(k.c.Port))
	}
	slices.Sort(ignore)
	ignore = slices.Compact(ignore)
	var b strings.Builder
	fmt.Fprintf(&b, "nodeRegistration:\n  name: %q\n  criSocket: %q\n", n.Name, CRISocket)
	b.WriteString(k.r.API.args("  ", "kubeletExtraArgs", []Arg{{"node-ip", n.Address}}))
	if len(ignore) > 0 {
		b.WriteString("  ignorePreflightErrors:\n")
		for _, check := range ignore {
			fmt.Fprintf(&b, "    - %q\n", check)
		}
	}
	return b.String()
}

// RenderInit is the first master's kubeadm configuration: the
// InitConfiguration (with the secrets given), the ClusterConfiguration,
// and the kubelet's and kube-proxy's. With a token it is kubeadm init's
// configuration, or `kubeadm token create --config`'s (which makes the
// token of its bootstrapTokens, so the token never reaches a command line);
// with only a certificate key, `kubeadm init phase upload-certs`'s; with
// none, the copy kept on the master after init. Each is also what kubeadm
// needs on a host without a default route (it cannot guess the address)
// or internet (the version).
func RenderInit(c Cluster, self Node, s Secrets) (string, error) {
	k, err := newConfig(c)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by deploy: kubeadm init of %s (Kubernetes %s, %s).\napiVersion: %s\nkind: InitConfiguration\n", self.Name, c.Version, k.r.API.Group, k.r.API.Group)
	if s.Token != "" {
		desc := s.TokenDescription
		if desc == "" {
			desc = "appliance deploy: joins of the first minutes"
		}
		fmt.Fprintf(&b, "bootstrapTokens:\n  - token: %q\n    ttl: 15m0s\n    description: %q\n", s.Token, desc)
	}
	if s.CertificateKey != "" {
		fmt.Fprintf(&b, "certificateKey: %q\n", s.CertificateKey)
	}
	fmt.Fprintf(&b, "localAPIEndpoint:\n  advertiseAddress: %q\n  bindPort: %d\n%spatches:\n  directory: %q\n",
		self.Address, c.Port, k.nodeRegistration(self, true), PatchesDir)
	fmt.Fprintf(&b, `---
apiVersion: %s
kind: ClusterConfiguration
clusterName: %q
kubernetesVersion: %q
controlPlaneEndpoint: %q
imageRepository: %q
networking:
  podSubnet: %q
  serviceSubnet: %q
apiServer:
  certSANs:
`, k.r.API.Group, c.Name, c.Version, c.Endpoint, ImageRepository, c.PodCIDR, c.ServiceCIDR)
	for _, s := range c.CertSANs {
		fmt.Fprintf(&b, "    - %q\n", s)
	}
	fmt.Fprintf(&b, "---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: %q\nresolvConf: %q\n",
		c.CgroupDriver, KubeletResolvConf)
	b.WriteString("---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n")
	if c.LeaveConntrack {
		b.WriteString("conntrack:\n  maxPerCore: 0\n")
	}
	return b.String(), nil
}

// Join is what a node needs to join the cluster. Token and CertificateKey
// are secrets, valid for minutes.
type Join struct {
	Token  string
	CAHash string // sha256:<hex> of the cluster CA's public key
	// CertificateKey decrypts the control-plane certificates; set only for
	// a master.
	CertificateKey string
}

// RenderJoin is a node's JoinConfiguration; with a certificate key the
// node joins as a control-plane node advertising its own address.
func RenderJoin(c Cluster, self Node, j Join) (string, error) {
	k, err := newConfig(c)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by deploy: kubeadm join of %s (Kubernetes %s, %s).
apiVersion: %s
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: %q
    token: %q
    caCertHashes:
      - %q
%s`, self.Name, c.Version, k.r.API.Group, k.r.API.Group, c.Endpoint, j.Token, j.CAHash, k.nodeRegistration(self, j.CertificateKey != ""))
	if j.CertificateKey != "" {
		fmt.Fprintf(&b, `controlPlane:
  certificateKey: %q
  localAPIEndpoint:
    advertiseAddress: %q
    bindPort: %d
patches:
  directory: %q
`, j.CertificateKey, self.Address, c.Port, PatchesDir)
	}
	return b.String(), nil
}

// RenderAPIServerPatch is the JSON patch of a master's kube-apiserver
// static pod: it listens on the master's own address only, so haproxy can
// listen on the VIP at the same port.
func RenderAPIServerPatch(self Node) string {
	return fmt.Sprintf(`[{"op": "add", "path": "/spec/containers/0/command/-", "value": "--bind-address=%s"}]`+"\n", self.Address)
}

// APIPortCheck is a shell command that fails, naming what to do, when
// something already listens on the master's apiserver port at its own
// address or at every address. It stands in for kubeadm's preflight check
// of the port where haproxy holds the same port on the VIP (SharedPort).
// (ss's header is skipped by awk: iproute 4.11 of EL7 has no ss -H.)
func APIPortCheck(c Cluster, self Node) string {
	own := net.JoinHostPort(self.Address, strconv.Itoa(c.Port))
	return fmt.Sprintf(`taken=$(ss -ltn %[1]s | awk -v own=%[2]s -v p=%[3]s 'NR > 1 && ($4 == own || $4 == "0.0.0.0:" p || $4 == "*:" p || $4 == "[::]:" p) {print $4}'); `+
		`if [ -n "$taken" ]; then echo "port %[3]s is already in use at $taken on %[4]s: the apiserver must listen on %[2]s (haproxy holds the VIP at the same port); stop what listens there (ss -ltnp) and run deploy --resume" >&2; exit 1; fi`,
		sshx.Quote("sport = :"+strconv.Itoa(c.Port)), sshx.Quote(own), strconv.Itoa(c.Port), self.Name)
}
