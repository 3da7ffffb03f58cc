package status

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factory-appliance/appliance/internal/kube"
)

// What deploy status reads of a running cluster, its nodes and its Helm
// releases, through the cluster-admin kubeconfig. It only reads: it never
// changes anything in the cluster. It reaches the API server as
// everything after /kubernetes does, through internal/kube, whose typed
// client decodes the answers; each answer is read with a bound
// (maxAnswer, maxRelease: the cluster is a master's), and an answer with
// an error status (apierrors.APIStatus) is told apart from an API server
// that does not answer (sectionOf).

// maxAnswer bounds an answer of the API server (a list of nodes or of
// Helm's release Secrets).
const maxAnswer = 256 << 20

// openCluster loads the admin kubeconfig at path (kubeconfig.Load:
// kubeadm's shape only, its server endpoint, HOST:PORT) and returns a
// client whose every request is bounded by timeout and every answer by
// maxAnswer. It contacts nothing.
func openCluster(path, endpoint string, timeout time.Duration) (*kube.Cluster, error) {
	return kube.Open(path, endpoint, kube.Options{UserAgent: "appliance-deploy-status", Timeout: timeout, MaxAnswer: maxAnswer})
}

// roleLabel prefixes the labels that give a node its roles, as kubectl
// shows them: node-role.kubernetes.io/control-plane is "control-plane".
const roleLabel = "node-role.kubernetes.io/"

// Node is one node of the cluster as deploy status shows it.
type Node struct {
	Name           string   `json:"name"`
	Ready          bool     `json:"ready"`
	Roles          []string `json:"roles"`
	KubeletVersion string   `json:"kubeletVersion"`
	InternalIP     string   `json:"internalIP,omitempty"`
}

// readNodes lists the cluster's nodes (GET /api/v1/nodes), sorted by name.
func readNodes(ctx context.Context, c *kube.Cluster) ([]Node, error) {
	list, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, nodeOf(&list.Items[i]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func nodeOf(n *corev1.Node) Node {
	v := Node{Name: n.Name, KubeletVersion: n.Status.NodeInfo.KubeletVersion, Roles: []string{}}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			v.Ready = c.Status == corev1.ConditionTrue
		}
	}
	for k := range n.Labels {
		if role, ok := strings.CutPrefix(k, roleLabel); ok && role != "" {
			v.Roles = append(v.Roles, role)
		}
	}
	sort.Strings(v.Roles)
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			v.InternalIP = a.Address
			break
		}
	}
	return v
}

// Release is the latest revision of one Helm release.
type Release struct {
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	Revision   int    `json:"revision"`
	Status     string `json:"status"`
	Chart      string `json:"chart"` // name-version, as helm list shows it
	AppVersion string `json:"appVersion,omitempty"`
}

// readReleases lists the latest revision of every Helm release in every
// namespace, sorted by namespace and name, as `helm list -A --all` does.
//
// It reads Helm's storage itself rather than through the Helm SDK's
// action.List, whose storage driver unpacks each release without a bound:
// here decodeRelease bounds it (maxRelease). The storage read is Helm's
// default, the "secret" driver: one Secret per revision, labelled
// owner=helm, whose data "release" is the release as base64 of gzip'd JSON
// (helm.sh/helm/v3/pkg/storage/driver). Releases kept with
// HELM_DRIVER=configmap or sql are not seen; deploy installs with the
// default driver.
func readReleases(ctx context.Context, c *kube.Cluster) ([]Release, error) {
	list, err := c.Clientset.CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		return nil, err
	}
	latest := map[string]*release.Release{}
	for _, s := range list.Items {
		r, err := decodeRelease(s.Data["release"])
		if err != nil {
			return nil, fmt.Errorf("helm release secret %s/%s: %w", s.Namespace, s.Name, err)
		}
		key := r.Namespace + "/" + r.Name
		if old, ok := latest[key]; !ok || r.Version > old.Version {
			latest[key] = r
		}
	}
	out := make([]Release, 0, len(latest))
	for _, r := range latest {
		out = append(out, releaseOf(r))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func releaseOf(r *release.Release) Release {
	v := Release{Name: r.Name, Namespace: r.Namespace, Revision: r.Version}
	if r.Info != nil {
		v.Status = r.Info.Status.String()
	}
	if r.Chart != nil && r.Chart.Metadata != nil {
		v.Chart = r.Chart.Metadata.Name + "-" + r.Chart.Metadata.Version
		v.AppVersion = r.Chart.Metadata.AppVersion
	}
	return v
}

// maxRelease bounds one release's JSON, unpacked: Helm stores a release
// in one Secret, at most 1 MiB packed.
const maxRelease = 64 << 20

// gzipMagic starts gzip'd data; Helm 2-era releases were stored without it.
var gzipMagic = []byte{0x1f, 0x8b, 0x08}

// decodeRelease decodes what Helm's secret driver stores: base64 of the
// release's JSON, gzip'd unless it is an old release.
func decodeRelease(data []byte) (*release.Release, error) {
	b, err := base64.StdEncoding.DecodeString(string(data))
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, gzipMagic) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		if b, err = io.ReadAll(io.LimitReader(zr, maxRelease+1)); err != nil {
			return nil, err
		}
		if len(b) > maxRelease {
			return nil, fmt.Errorf("the release is larger than %d MiB unpacked", maxRelease>>20)
		}
	}
	var r release.Release
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
