package cluster

import (
	"context"
	"sort"
	"strings"
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

// Nodes lists the cluster's nodes (GET /api/v1/nodes), sorted by name.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var list struct {
		Items []apiNode `json:"items"`
	}
	if err := c.get(ctx, "/api/v1/nodes", nil, &list); err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(list.Items))
	for _, n := range list.Items {
		out = append(out, n.node())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// apiNode is the part of a v1 Node read here; its JSON names are the
// Kubernetes API's (k8s.io/api/core/v1).
type apiNode struct {
	Metadata objectMeta `json:"metadata"`
	Status   struct {
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
		Addresses []struct {
			Type    string `json:"type"`
			Address string `json:"address"`
		} `json:"addresses"`
		NodeInfo struct {
			KubeletVersion string `json:"kubeletVersion"`
		} `json:"nodeInfo"`
	} `json:"status"`
}

// objectMeta is the part of an object's metadata read here.
type objectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

func (n apiNode) node() Node {
	v := Node{Name: n.Metadata.Name, KubeletVersion: n.Status.NodeInfo.KubeletVersion, Roles: []string{}}
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			v.Ready = c.Status == "True"
		}
	}
	for k := range n.Metadata.Labels {
		if role, ok := strings.CutPrefix(k, roleLabel); ok && role != "" {
			v.Roles = append(v.Roles, role)
		}
	}
	sort.Strings(v.Roles)
	for _, a := range n.Status.Addresses {
		if a.Type == "InternalIP" {
			v.InternalIP = a.Address
			break
		}
	}
	return v
}
