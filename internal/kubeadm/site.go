package kubeadm

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/inventory"
)

// KubernetesVersion returns the tag of the bundle's kube-apiserver image
// ("v1.26.15"): the version kubeadm sets up. It is "" when the bundle
// carries no Kubernetes; the deployment then stops after preparing the
// hosts.
func KubernetesVersion(idx *bundle.Index) string {
	for _, img := range idx.Images {
		if v, ok := strings.CutPrefix(img.Name, ImageRepository+"/kube-apiserver:"); ok {
			return v
		}
	}
	return ""
}

// SiteCluster returns the settings of the site's cluster for Kubernetes
// version. With a VIP, every node reaches the apiservers through haproxy
// on it; with one master, directly. The inventory must have a master.
func SiteCluster(inv *inventory.Inventory, version string) Cluster {
	masters := inv.HostsWithRole(inventory.RoleMaster)
	port := inv.APIServer.Port
	endpoint := net.JoinHostPort(masters[0].Address, strconv.Itoa(port))
	sans := []string{}
	if vip := inv.APIServer.VIP; vip != "" {
		endpoint = net.JoinHostPort(vip, strconv.Itoa(port))
		sans = append(sans, vip)
	}
	for _, m := range masters {
		sans = append(sans, m.Address, m.Name)
	}
	return Cluster{Name: inv.Site, Version: version, Endpoint: endpoint, Port: port,
		PodCIDR: inv.Network.PodCIDR, ServiceCIDR: inv.Network.ServiceCIDR,
		CgroupDriver: inv.Kubernetes.CgroupDriver, CertSANs: sans, SharedPort: inv.APIServer.VIP != ""}
}

// MissingImages returns the images of list (kubeadm config images list)
// that the bundle does not carry.
func MissingImages(idx *bundle.Index, list []string) []string {
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
