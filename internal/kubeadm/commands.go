package kubeadm

import (
	"encoding/json"
	"fmt"
)

// The commands deploy runs on a node for kubeadm. Each is one shell
// command line; deploy's /kubernetes phases run them over SSH.

// States of a node (StateCommand's output).
const (
	StateDone    = "done"    // DonePath is there: init or join completed
	StatePartial = "partial" // kubeadm's files without DonePath: an interrupted run
	StateClean   = "clean"   // nothing of kubeadm's
)

// StateCommand prints the node's state under its kubeadm lock: StateDone,
// StatePartial or StateClean.
func StateCommand() string {
	return fmt.Sprintf(`exec 9>%s; flock 9; if [ -f %s ]; then echo done; `+
		`elif [ -e /etc/kubernetes/kubelet.conf ] || [ -e /etc/kubernetes/pki/ca.crt ] || [ -n "$(ls -A /etc/kubernetes/manifests 2>/dev/null)" ] || [ -d /var/lib/etcd/member ]; then echo partial; `+
		`else echo clean; fi`, LockPath, DonePath)
}

// RunCommand runs kubeadm ARGS under the node's kubeadm lock, unless the
// node is done, after resetting what an interrupted run left (state
// StatePartial) and running check (a shell command; "" for none), and
// marks the node done when kubeadm succeeds.
func RunCommand(state, check, args string) string {
	reset := ""
	if state == StatePartial {
		reset = "kubeadm reset -f --cri-socket " + CRISocket + " && rm -rf /var/lib/etcd/member /etc/cni/net.d/10-appliance.conflist && "
	}
	if check != "" {
		check = "{ " + check + "; } && "
	}
	return fmt.Sprintf("exec 9>%s; flock 9; [ -f %s ] && exit 0; %s%skubeadm %s && touch %s",
		LockPath, DonePath, reset, check, args, DonePath)
}

// ConntrackCommand prints "no" when nf_conntrack_max may not be written on
// the node (it is read-only outside the first network namespace), so
// kube-proxy must not try; else "ok".
func ConntrackCommand() string {
	f := "/proc/sys/net/netfilter/nf_conntrack_max"
	return fmt.Sprintf(`modprobe nf_conntrack 2>/dev/null; if v=$(cat %[1]s 2>/dev/null) && (echo "$v" >%[1]s) 2>/dev/null; then echo ok; else echo no; fi`, f)
}

// WithConfigCommand runs command (a format with one %s: the configuration's
// path) and removes the configuration at path after, whatever happened,
// keeping command's exit status.
func WithConfigCommand(command, path string) string {
	return fmt.Sprintf(command, path) + "; rc=$?; rm -f " + path + "; exit $rc"
}

// EtcdMembersCommand asks the local etcd for its members with the
// apiserver's client certificate.
const EtcdMembersCommand = `curl -sS --fail --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/apiserver-etcd-client.crt ` +
	`--key /etc/kubernetes/pki/apiserver-etcd-client.key -X POST -d '{}' https://127.0.0.1:2379/v3/cluster/member/list`

// EtcdVoters counts the voting members (learners left out) in etcd's
// member list (EtcdMembersCommand's output).
func EtcdVoters(memberList []byte) (int, error) {
	var list struct {
		Members []struct {
			Name      string `json:"name"`
			IsLearner bool   `json:"isLearner"`
		} `json:"members"`
	}
	if err := json.Unmarshal(memberList, &list); err != nil {
		return 0, err
	}
	n := 0
	for _, m := range list.Members {
		if !m.IsLearner {
			n++
		}
	}
	return n, nil
}
