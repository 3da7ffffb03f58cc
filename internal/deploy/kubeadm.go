package deploy

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// Kubernetes on the hosts: what kubeadm is given. The phases that run it
// are in kubernetes.go.

// Files deploy keeps for kubeadm on a node.
const (
	kubeadmDir = "/etc/appliance/kubeadm"
	// KubeadmConfig is kubeadm's configuration on a node (mode 0600: a
	// join's holds a token). It is removed after a join.
	KubeadmConfig = kubeadmDir + "/kubeadm.yaml"
	// KubeadmPatches holds the node's patches of its static pods.
	KubeadmPatches = kubeadmDir + "/patches"
	// KubeadmDone marks a node that kubeadm init or join completed on;
	// without it, kubeadm's files on a node are from an interrupted run.
	KubeadmDone = kubeadmDir + "/done"
	// KubeletResolvConf is the resolv.conf kubelet gives pods with the
	// node's DNS (CoreDNS forwards to it): the host's own, or, on a host
	// with no name server, one naming the host itself, so that names
	// outside the cluster fail at once instead of timing out.
	KubeletResolvConf = "/etc/appliance/kubelet-resolv.conf"
	// kubeadmLock serializes kubeadm runs on a node, so a resumed deploy
	// waits for a kubeadm left running by an interrupted one.
	kubeadmLock = "/run/appliance-kubeadm.lock"

	// AdminConf is the cluster-admin kubeconfig kubeadm writes on masters.
	AdminConf = "/etc/kubernetes/admin.conf"
	// kubeCA is the cluster CA certificate on masters.
	kubeCA = "/etc/kubernetes/pki/ca.crt"
)

// KubeconfigFile is the cluster-admin kubeconfig in the state directory
// (mode 0600), copied from the first master.
const KubeconfigFile = "admin.conf"

// KubeadmImageRepository is where kubeadm's images come from, under their
// canonical names: containerd pulls them through its mirror of the site
// registry, so no name is rewritten.
const KubeadmImageRepository = "registry.k8s.io"

const criSocket = "unix:///run/containerd/containerd.sock"

// KubernetesVersion returns the tag of the bundle's kube-apiserver image
// ("v1.34.4"): the version kubeadm sets up. It is "" when the bundle carries
// no Kubernetes; the deployment then stops after preparing the hosts.
func KubernetesVersion(idx *bundle.Index) string {
	for _, img := range idx.Images {
		if v, ok := strings.CutPrefix(img.Name, KubeadmImageRepository+"/kube-apiserver:"); ok {
			return v
		}
	}
	return ""
}

// Cluster is what kubeadm's configurations are rendered from.
type Cluster struct {
	Name         string // the site
	Version      string // kubernetesVersion, from the bundle
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

// cluster returns the settings of the site's cluster. With a VIP, every
// node reaches the apiservers through haproxy on it; with one master,
// directly.
func (d *Deployment) cluster() Cluster {
	port := d.inv.APIServer.Port
	endpoint := net.JoinHostPort(d.masters[0].Address, strconv.Itoa(port))
	sans := []string{}
	if vip := d.inv.APIServer.VIP; vip != "" {
		endpoint = net.JoinHostPort(vip, strconv.Itoa(port))
		sans = append(sans, vip)
	}
	for _, m := range d.masters {
		sans = append(sans, m.Address, m.Name)
	}
	return Cluster{Name: d.inv.Site, Version: d.k8sVersion, Endpoint: endpoint, Port: port,
		PodCIDR: d.inv.Network.PodCIDR, ServiceCIDR: d.inv.Network.ServiceCIDR,
		CgroupDriver: d.inv.Kubernetes.CgroupDriver, CertSANs: sans, SharedPort: d.inv.APIServer.VIP != ""}
}

// nodeRegistration is the nodeRegistration block of a node: its inventory
// name, containerd, and kubelet on the node's inventory address. A master
// sharing the apiserver port with haproxy skips kubeadm's check of it.
func nodeRegistration(c Cluster, self inventory.Host, master bool) string {
	ignore := ""
	if master && c.SharedPort {
		ignore = fmt.Sprintf("  ignorePreflightErrors:\n    - %q\n", "Port-"+strconv.Itoa(c.Port))
	}
	return fmt.Sprintf(`nodeRegistration:
  name: %q
  criSocket: %q
  kubeletExtraArgs:
    - name: node-ip
      value: %q
%s`, self.Name, criSocket, self.Address, ignore)
}

// APIPortCheck is a shell command that fails, naming what to do, when
// something already listens on the master's apiserver port at its own
// address or at every address. It stands in for kubeadm's preflight check
// of the port where haproxy holds the same port on the VIP (SharedPort).
func APIPortCheck(c Cluster, self inventory.Host) string {
	own := net.JoinHostPort(self.Address, strconv.Itoa(c.Port))
	return fmt.Sprintf(`taken=$(ss -Hltn %[1]s | awk -v own=%[2]s -v p=%[3]s '$4 == own || $4 == "0.0.0.0:" p || $4 == "*:" p || $4 == "[::]:" p {print $4}'); `+
		`if [ -n "$taken" ]; then echo "port %[3]s is already in use at $taken on %[4]s: the apiserver must listen on %[2]s (haproxy holds the VIP at the same port); stop what listens there (ss -ltnp) and run deploy --resume" >&2; exit 1; fi`,
		sshx.Quote("sport = :"+strconv.Itoa(c.Port)), sshx.Quote(own), strconv.Itoa(c.Port), self.Name)
}

// RenderKubeadmInit is the first master's kubeadm configuration: the
// InitConfiguration (with the join token and the key the control-plane
// certificates are uploaded under), the ClusterConfiguration, and the
// kubelet's and kube-proxy's. Without a token it is the configuration of a
// later `kubeadm init phase`, which kubeadm also needs on a host without a
// default route (it cannot guess the address) or internet (the version).
func RenderKubeadmInit(c Cluster, self inventory.Host, token, certKey string) string {
	var b strings.Builder
	tokens := ""
	if token != "" {
		tokens = fmt.Sprintf(`bootstrapTokens:
  - token: %q
    ttl: 15m0s
    description: "appliance deploy: joins of the first minutes"
`, token)
	}
	fmt.Fprintf(&b, `# Written by deploy: kubeadm init of %s.
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
%scertificateKey: %q
localAPIEndpoint:
  advertiseAddress: %q
  bindPort: %d
%spatches:
  directory: %q
`, self.Name, tokens, certKey, self.Address, c.Port, nodeRegistration(c, self, true), KubeadmPatches)
	fmt.Fprintf(&b, `---
apiVersion: kubeadm.k8s.io/v1beta4
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
`, c.Name, c.Version, c.Endpoint, KubeadmImageRepository, c.PodCIDR, c.ServiceCIDR)
	for _, s := range c.CertSANs {
		fmt.Fprintf(&b, "    - %q\n", s)
	}
	fmt.Fprintf(&b, `---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: %q
resolvConf: %q
`, c.CgroupDriver, KubeletResolvConf)
	b.WriteString("---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n")
	if c.LeaveConntrack {
		b.WriteString("conntrack:\n  maxPerCore: 0\n")
	}
	return b.String()
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

// RenderKubeadmJoin is a node's JoinConfiguration; with a certificate key
// the node joins as a control-plane node advertising its own address.
func RenderKubeadmJoin(c Cluster, self inventory.Host, j Join) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by deploy: kubeadm join of %s.
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: %q
    token: %q
    caCertHashes:
      - %q
%s`, self.Name, c.Endpoint, j.Token, j.CAHash, nodeRegistration(c, self, j.CertificateKey != ""))
	if j.CertificateKey != "" {
		fmt.Fprintf(&b, `controlPlane:
  certificateKey: %q
  localAPIEndpoint:
    advertiseAddress: %q
    bindPort: %d
patches:
  directory: %q
`, j.CertificateKey, self.Address, c.Port, KubeadmPatches)
	}
	return b.String()
}

// RenderAPIServerPatch is the JSON patch of a master's kube-apiserver
// static pod: it listens on the master's own address only, so haproxy can
// listen on the VIP at the same port (see RenderHAProxy).
func RenderAPIServerPatch(self inventory.Host) string {
	return fmt.Sprintf(`[{"op": "add", "path": "/spec/containers/0/command/-", "value": "--bind-address=%s"}]`+"\n", self.Address)
}

// NewBootstrapToken returns a random kubeadm bootstrap token
// ([a-z0-9]{6}.[a-z0-9]{16}).
func NewBootstrapToken() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	buf := make([]byte, 22)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	for i, c := range buf {
		buf[i] = alphabet[int(c)%len(alphabet)]
	}
	return string(buf[:6]) + "." + string(buf[6:]), nil
}

// NewCertificateKey returns a random key for kubeadm's uploaded
// control-plane certificates (32 bytes, hex).
func NewCertificateKey() (string, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(buf), nil
}

// CACertHash is kubeadm's discovery hash of a CA certificate (PEM):
// "sha256:" and the hex SHA-256 of its SubjectPublicKeyInfo.
func CACertHash(caPEM []byte) (string, error) {
	block, _ := pem.Decode(caPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", errors.New("the cluster CA (" + kubeCA + ") is not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("the cluster CA (%s): %w", kubeCA, err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// missingImages returns the images of list (kubeadm config images list)
// that the bundle does not carry.
func missingImages(idx *bundle.Index, list []string) []string {
	var have []string
	for _, img := range idx.Images {
		have = append(have, img.Name)
	}
	var out []string
	for _, want := range list {
		if want != "" && !slices.Contains(have, want) {
			out = append(out, want)
		}
	}
	return out
}
