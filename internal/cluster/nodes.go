package cluster

import (
	"context"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

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

// Nodes lists the cluster's nodes, sorted by name.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	list, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(list.Items))
	for _, n := range list.Items {
		out = append(out, nodeOf(n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func nodeOf(n corev1.Node) Node {
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
