package steps

import (
	"context"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/remote/remotetest"
)

// TestUpgradeCheck: the cluster's version and every node's kubelet must be
// able to move to the bundle's (v1.26.15 here): a cluster an earlier run
// left half upgraded passes; a node or a cluster further behind, or newer,
// is refused, finally, naming it.
func TestUpgradeCheck(t *testing.T) {
	s := testSite(t)
	check := func(cluster, nodes string) error {
		host := &remotetest.FakeHost{Host: "master-1", Answers: []remotetest.Answer{
			{Match: "kubeadm-config", Stdout: "apiServer: {}\nkubernetesVersion: " + cluster + "\n"},
			{Match: "get nodes", Stdout: nodes},
		}}
		return s.UpgradeCheck(context.Background(), &remote.Host{Runner: host, Host: s.First})
	}
	for _, c := range []struct{ cluster, nodes, want string }{
		{"v1.26.13", "master-1 v1.26.13\nworker-1 v1.26.13\n", ""},
		{"v1.26.15", "master-1 v1.26.15\nworker-1 v1.26.13\n", ""},
		{"v1.26.13", "master-1 v1.26.13\nworker-1 v1.24.3\n", "node worker-1"},
		{"v1.24.3", "master-1 v1.24.3\n", "v1.25 first"},
		{"v1.27.1", "master-1 v1.27.1\n", "does not downgrade"},
		{"v1.26.13", "master-1 \x1b[31mv9\n", "node master-1"},
	} {
		err := check(c.cluster, c.nodes)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s / %q: %v", c.cluster, c.nodes, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !plan.IsFinal(err)):
			t.Errorf("%s / %q: %v, want a final error with %q", c.cluster, c.nodes, err, c.want)
		case err != nil && strings.Contains(err.Error(), "\x1b"):
			t.Errorf("an escape code from the host reached the error: %q", err)
		}
	}
}
