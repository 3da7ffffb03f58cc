package kubeadm

// Files deploy keeps for kubeadm on a node, and kubeadm's own.
const (
	// Dir holds deploy's kubeadm files on a node (mode 0700).
	Dir = "/etc/appliance/kubeadm"
	// ConfigPath is kubeadm's configuration on a node (mode 0600). A
	// join's holds a token and is removed after the join; init's is
	// replaced after init by one without secrets.
	ConfigPath = Dir + "/kubeadm.yaml"
	// PatchesDir holds the node's patches of its static pods.
	PatchesDir = Dir + "/patches"
	// DonePath marks a node that kubeadm init or join completed on;
	// without it, kubeadm's files on a node are from an interrupted run.
	DonePath = Dir + "/done"
	// LockPath serializes kubeadm runs on a node, so a resumed deploy
	// waits for a kubeadm left running by an interrupted one.
	LockPath = "/run/appliance-kubeadm.lock"
	// KubeletResolvConf is the resolv.conf kubelet gives pods with the
	// node's DNS (CoreDNS forwards to it): the host's own, or, on a host
	// with no name server, one naming the host itself, so that names
	// outside the cluster fail at once instead of timing out.
	KubeletResolvConf = "/etc/appliance/kubelet-resolv.conf"

	// AdminConf is the cluster-admin kubeconfig kubeadm writes on masters.
	AdminConf = "/etc/kubernetes/admin.conf"
	// CACert is the cluster CA certificate on masters.
	CACert = "/etc/kubernetes/pki/ca.crt"
)

// ImageRepository is where kubeadm's images come from, under their
// canonical names: containerd pulls them through its mirror of the site
// registry, so no name is rewritten.
const ImageRepository = "registry.k8s.io"

// CRISocket is containerd's CRI endpoint.
const CRISocket = "unix:///run/containerd/containerd.sock"
