package compat

import (
	"errors"
	"strings"
	"testing"
)

func TestFromArtifacts(t *testing.T) {
	s := FromArtifacts([]string{
		"registry.k8s.io/kube-apiserver:v1.26.15", "docker.io/calico/node:v3.26.1", "kubesphere/ks-apiserver:v3.4.1",
		"docker.io/kubesphere/ks-installer:v3.4.1", "registry.k8s.io/pause:3.9", "quay.io/calico/node@sha256:00",
	}, []string{"socat", "containerd.io-1.6.33-3.1.el7.x86_64", "containerd.io-tools-2.0"})
	want := Stack{Kubernetes: "v1.26.15", KubeSphere: "v3.4.1", Calico: "v3.26.1", Containerd: "1.6.33"}
	if s != want {
		t.Errorf("%+v, want %+v", s, want)
	}
	if s := FromArtifacts([]string{"myregistry.local:5000/kube-apiserver:v1.30.0", "localhost/calico/node:v3.28.0"}, []string{"containerd-1.7.20"}); s.Kubernetes != "" || s.Calico != "v3.28.0" || s.Containerd != "1.7.20" {
		t.Errorf("%+v", s)
	}
}

// TestShippedStack: the built-in stack's pins are inside the matrix.
func TestShippedStack(t *testing.T) {
	s := Stack{Kubernetes: "v1.26.15", KubeSphere: "v3.4.1", Calico: "v3.26.1", Containerd: "1.6.33"}
	if vs := CheckStack(s); len(vs) != 0 {
		t.Errorf("the shipped stack: %v", vs)
	}
}

func TestCheckStack(t *testing.T) {
	ok := Stack{Kubernetes: "v1.26.15", KubeSphere: "v3.4.1", Calico: "v3.26.1", Containerd: "1.6.33"}
	for _, c := range []struct {
		name  string
		edit  func(*Stack)
		row   string
		words []string
	}{
		{"KubeSphere 3.4.1 on 1.34", func(s *Stack) { s.Kubernetes, s.Calico, s.Containerd = "v1.34.4", "v3.31.0", "1.7.24" },
			RowKubeSphereKubernetes, []string{"KubeSphere v3.4.1 with Kubernetes v1.34.4", "KubeSphere 3.4.1+ supports Kubernetes v1.21–v1.26", "KsV341", "--allow-incompatible kubesphere-kubernetes"}},
		{"Calico 3.26 on 1.30", func(s *Stack) { s.Kubernetes, s.KubeSphere, s.Containerd = "v1.30.14", "v4.1.3", "1.7.13" },
			RowCalicoKubernetes, []string{"Calico v3.26.1 with Kubernetes v1.30.14", "v1.24–v1.28", "Calico 3.26 system requirements"}},
		{"containerd 1.6.14 on 1.26", func(s *Stack) { s.Containerd = "1.6.14" },
			RowContainerdKubernetes, []string{"containerd 1.6.14", "1.6.15+ or 1.7.0+"}},
		{"containerd 1.6.33 on 1.32", func(s *Stack) { s.Kubernetes, s.KubeSphere, s.Calico = "v1.32.2", "", "" },
			RowContainerdKubernetes, []string{"1.6.36+"}},
		{"a Calico without a row", func(s *Stack) { s.Calico = "v3.30.2" }, RowCalicoKubernetes, []string{"no row", "Calico 3.26.x: Kubernetes v1.24–v1.28"}},
		{"KubeSphere 3.2", func(s *Stack) { s.KubeSphere = "v3.2.1" }, RowKubeSphereKubernetes, []string{"no row"}},
		{"Kubernetes 1.25", func(s *Stack) { s.Kubernetes = "v1.25.16" }, RowKubernetesWindow, []string{"v1.26–v1.34"}},
		{"Kubernetes 1.35", func(s *Stack) { s.Kubernetes = "v1.35.4" }, RowKubernetesWindow, []string{"v1.26–v1.34"}},
		{"a KubeSphere tag that is no version", func(s *Stack) { s.KubeSphere = "latest" }, RowKubeSphereKubernetes, []string{`"latest"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := ok
			c.edit(&s)
			vs := CheckStack(s)
			if len(vs) != 1 || vs[0].Row != c.row {
				t.Fatalf("%+v: %v", s, vs)
			}
			for _, w := range c.words {
				if !strings.Contains(vs[0].Error(), w) {
					t.Errorf("%q lacks %q", vs[0].Error(), w)
				}
			}
		})
	}
	if vs := CheckStack(Stack{Calico: "v3.0.0"}); vs != nil {
		t.Errorf("a stack without Kubernetes: %v", vs)
	}
	// Later patches and minors inside a row pass.
	for _, s := range []Stack{
		{Kubernetes: "v1.28.15", Calico: "v3.27.4", Containerd: "1.7.27"},
		{Kubernetes: "v1.30.0", KubeSphere: "v4.1.3", Calico: "v3.28.2", Containerd: "2.1.4"},
		{Kubernetes: "v1.34.4", Calico: "v3.31.2", Containerd: "2.1.0"},
	} {
		if vs := CheckStack(s); len(vs) != 0 {
			t.Errorf("%+v: %v", s, vs)
		}
	}
}

func TestCheckHost(t *testing.T) {
	el7 := Host{Name: "master-1", Kernel: "3.10.0-1160.el7.x86_64", Cgroup: 1, ELMajor: 7}
	if vs := CheckHost("v1.26.15", el7, 7); len(vs) != 0 {
		t.Errorf("the shipped stack on CentOS 7: %v", vs)
	}
	for _, c := range []struct {
		name   string
		kube   string
		h      Host
		bundle int
		row    string
		words  []string
	}{
		{"1.33 on kernel 3.10", "v1.33.6", el7, 7, RowKernelKubeadm, []string{`kernel "3.10.0-1160.el7.x86_64"`, "4.19", "kernel-lt", "v1.34"}},
		{"1.32 on kernel 4.18", "v1.32.2", Host{Name: "w", Kernel: "4.18.0-513.el8.x86_64", ELMajor: 8}, 0, RowKernelKubeadm, []string{"4.18.0"}},
		{"kernel 2.6", "v1.26.15", Host{Name: "w", Kernel: "2.6.32-754.el6.x86_64"}, 0, RowKernelMinimum, []string{`kernel "2.6.32`}},
		{"garbage kernel", "v1.26.15", Host{Name: "w", Kernel: "garbage"}, 0, RowKernelMinimum, []string{`"garbage"`}},
		{"EL9 host, EL7 bundle", "v1.26.15", Host{Name: "w", Kernel: "5.14.0", ELMajor: 9}, 7, RowELRelease, []string{"EL9", ".el7"}},
		{"cgroup v1 on 1.35", "v1.35.0", Host{Name: "w", Kernel: "5.14.0", Cgroup: 1}, 0, RowCgroupV1, []string{"KEP-5573"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			vs := CheckHost(c.kube, c.h, c.bundle)
			if len(vs) != 1 || vs[0].Row != c.row {
				t.Fatalf("%v", vs)
			}
			for _, w := range c.words {
				if !strings.Contains(vs[0].Error(), w) {
					t.Errorf("%q lacks %q", vs[0].Error(), w)
				}
			}
		})
	}
	for _, kube := range []string{"v1.31.14", "v1.34.4", ""} {
		if vs := CheckHost(kube, el7, 7); len(vs) != 0 {
			t.Errorf("%s on kernel 3.10: %v", kube, vs)
		}
	}
	if vs := CheckHost("v1.34.4", Host{Name: "w", Kernel: "5.14.0", Cgroup: 2, ELMajor: 9}, 9); len(vs) != 0 {
		t.Errorf("1.34 on EL9: %v", vs)
	}
}

func TestApply(t *testing.T) {
	vs := []Violation{{Row: RowKernelKubeadm}, {Row: RowCalicoKubernetes}, {Row: RowKubernetesWindow}}
	over, err := Apply(vs, []string{RowKernelKubeadm})
	var e *Error
	if len(over) != 1 || over[0].Row != RowKernelKubeadm || !errors.As(err, &e) || len(e.Violations) != 2 {
		t.Errorf("%v %v", over, err)
	}
	if !strings.Contains(Warning(over[0]), "unsupported") {
		t.Errorf("warning %q", Warning(over[0]))
	}
	if _, err := Apply(nil, []string{RowKubernetesWindow}); err == nil || !strings.Contains(err.Error(), "kernel-kubeadm") {
		t.Errorf("the window overridden: %v", err)
	}
	if _, err := Apply(nil, []string{"kernel"}); err == nil || !strings.Contains(err.Error(), "no such row") {
		t.Errorf("an unknown row: %v", err)
	}
	if over, err := Apply(vs[:1], []string{RowKernelKubeadm}); err != nil || len(over) != 1 {
		t.Errorf("%v %v", over, err)
	}
	if got := Overridden(map[string]string{AnnotationOverridden: "kernel-kubeadm,kubernetes-window,bogus"}); len(got) != 1 || got[0] != RowKernelKubeadm {
		t.Errorf("overridden %v", got)
	}
}

func TestBundleEL(t *testing.T) {
	if el := BundleEL([]string{"haproxy-1.5.18-9.el7.x86_64", "socat-1.7.3.2-2.el7.x86_64", "kubelet-1.26.15-150500.1.1.x86_64", "nfs-utils-2.3.3-59.el8_9.x86_64"}); el != 7 {
		t.Errorf("el %d", el)
	}
	if el := BundleEL([]string{"chain-a-1.0-1.x86_64", "kubelet-1.26.15-1.x86_64"}); el != 0 {
		t.Errorf("no dist tags: %d", el)
	}
}
