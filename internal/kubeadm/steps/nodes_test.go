package steps

import (
	"context"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/el7"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/kubeadm/snapshot"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// TestDayTwoCommandsRunOnEL7: every command the day-two steps run on a
// host, as their dry runs record them, is one CentOS 7.9 and the bundle's
// packages have.
func TestDayTwoCommandsRunOnEL7(t *testing.T) {
	s := &Site{Cluster: kubeadm.Cluster{Version: "v1.26.15"}, First: inventory.Host{Name: "master-1"}}
	r := &Restore{File: "/tmp/x.db", Sum: "0123456789abcdef0123", Members: []snapshot.Member{{Name: "master-1", Address: "10.0.0.11"}}}
	ctx := context.Background()
	for name, fn := range map[string]func(context.Context, *remote.Host) error{
		"version": s.SameVersion, "check": s.CheckRemoval("master-2", true), "drain": Drain("worker-1", 0),
		"etcd": s.RemoveEtcdMember("master-2"), "joined": s.NodeJoined("worker-1"), "delete": DeleteNode("worker-1"), "reset": ResetNode(true),
		"upkeep": Upkeep(1, snapshot.Settings{NFS: "10.9.0.40:/export", Keep: 3}), "renew": RenewCerts, "stop": r.Stop, "data": r.Data, "start": r.Start, "healthy": r.Healthy,
	} {
		rec := sshx.NewRecorder("master-1", sshx.NewRedactor())
		_ = fn(ctx, &remote.Host{Runner: rec, Host: inventory.Host{Name: "master-1", Address: "10.0.0.11"}, Dry: true})
		if len(rec.Commands()) == 0 {
			t.Errorf("%s recorded no command", name)
		}
		for _, c := range rec.Commands() {
			if strings.HasPrefix(c, "upload ") { // the recorder's note of an upload, not a command
				continue
			}
			for _, p := range el7.Check(c) {
				t.Errorf("%s: %v", name, p)
			}
		}
	}
}
