package deploy

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/compat"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/plan"
)

// Kubernetes on the hosts: what deploy hands internal/kubeadm, which
// renders kubeadm's configurations for the bundle's version. The phases
// that run kubeadm are in kubernetes.go.

// KubernetesVersion returns the tag of the bundle's kube-apiserver image
// ("v1.26.15"): the version kubeadm sets up. It is "" when the bundle
// carries no Kubernetes; the deployment then stops after preparing the
// hosts.
func KubernetesVersion(idx *bundle.Index) string {
	for _, img := range idx.Images {
		if v, ok := strings.CutPrefix(img.Name, kubeadm.ImageRepository+"/kube-apiserver:"); ok {
			return v
		}
	}
	return ""
}

// cluster returns the settings of the site's cluster. With a VIP, every
// node reaches the apiservers through haproxy on it; with one master,
// directly.
func (d *Deployment) cluster() kubeadm.Cluster {
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
	return kubeadm.Cluster{Name: d.inv.Site, Version: d.k8sVersion, Endpoint: endpoint, Port: port,
		PodCIDR: d.inv.Network.PodCIDR, ServiceCIDR: d.inv.Network.ServiceCIDR,
		CgroupDriver: d.inv.Kubernetes.CgroupDriver, CertSANs: sans, SharedPort: d.inv.APIServer.VIP != ""}
}

// kubeadmNode is host h as kubeadm's configurations name it, with the
// preflight checks its kubeadm build must skip: the ones the release table
// names for that build (kubeadm version -o json on the host), and
// SystemVerification where the operator overrode the kernel rule of the
// compatibility matrix (kubeadm 1.32–1.33 fail it on kernels before 4.19).
// It also fails when the host's kubeadm is not the bundle's Kubernetes.
func (d *Deployment) kubeadmNode(ctx context.Context, h *remote) (kubeadm.Node, error) {
	n := kubeadm.Node{Name: h.host.Name, Address: h.host.Address}
	if slices.Contains(d.cfg.AllowIncompatible, compat.RowKernelKubeadm) {
		n.Ignore = append(n.Ignore, kubeadm.CheckSystemVerification)
	}
	out, err := h.out(ctx, "kubeadm version -o json")
	if err != nil || h.dry {
		return n, err
	}
	b, err := kubeadm.ParseBuild([]byte(out))
	if err != nil {
		return n, fmt.Errorf("the kubeadm on %s: %w", h.host.Name, err)
	}
	c := d.cluster()
	if err := kubeadm.CheckBuild(c, b, h.host.Name); err != nil {
		return n, err
	}
	r, err := kubeadm.ForVersion(c.Version)
	if err != nil {
		return n, err
	}
	for _, check := range r.PreflightIgnores(b) {
		n.Ignore = append(n.Ignore, check)
		plan.Logf(ctx, "kubeadm on %s (%s, built with %s) skips its %s preflight check, which that build cannot run (see internal/kubeadm, BracketFixedIn)", h.host.Name, b.Version, b.GoVersion, check)
	}
	return n, nil
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
