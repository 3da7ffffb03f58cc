package bundle

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle/names"
)

// TestUnsafeNamesRefusedAtOpen: a bundle whose index holds a name that
// deploy would hand to a root shell (repo id, key, RPM file, package list,
// image reference, bundle name) with characters outside its set is
// refused at open, with an error naming the field and the value.
func TestUnsafeNamesRefusedAtOpen(t *testing.T) {
	long := "x;" + strings.Repeat("A", 300)
	for _, c := range []struct {
		name  string
		path  string // the one entry's path
		index func(*Index)
		want  []string // in the error
	}{
		// The path's '/' ends the id: the repo id is "x; touch ".
		{name: "repo id x; touch /tmp/pwned", path: "repos/x; touch /tmp/pwned/repodata/repomd.xml",
			want: []string{"repo id", `"x; touch "`, `"repos/x; touch /tmp/pwned/repodata/repomd.xml"`}},
		{name: "repo id with a command", path: "repos/x; touch pwned/keys/RPM-GPG-KEY",
			want: []string{"repo id", `"x; touch pwned"`}},
		{name: "repo id with command substitution", path: "repos/$(reboot)/Packages/a-1-1.x86_64.rpm",
			want: []string{"repo id", `"$(reboot)"`}},
		{name: "repo id starting with a dash", path: "repos/-rf/repodata/repomd.xml", want: []string{"repo id", `"-rf"`}},
		{name: "key name", path: "repos/base/keys/k`id`", want: []string{"key file name", "\"k`id`\"", `"repos/base/keys/k`}},
		{name: "key name with a space", path: "repos/base/keys/a b", want: []string{"key file name", `"a b"`}},
		{name: "rpm file", path: "repos/base/Packages/a;reboot-1.0-1.x86_64.rpm", want: []string{"RPM file name", `"a;reboot-1.0-1.x86_64.rpm"`}},
		{name: "rpm file with a quote", path: "repos/base/Packages/x/a'b-1.0-1.noarch.rpm", want: []string{"RPM file name", `"a'b-1.0-1.noarch.rpm"`}},
		{name: "long value is truncated", path: "repos/" + long + "/repodata/repomd.xml", want: []string{"repo id", `"x;AAAA`, "... (302 bytes)"}},
		{name: "package list", path: "files/a", index: func(x *Index) {
			x.Annotations = map[string]string{AnnotationPackagesPrefix + "master": "kubeadm x;touch${IFS}/tmp/pwned"}
		}, want: []string{"package name", `"x;touch${IFS}/tmp/pwned"`, `annotation "appliance.packages/master"`}},
		{name: "package role", path: "files/a", index: func(x *Index) {
			x.Annotations = map[string]string{AnnotationPackagesPrefix + "ma$ter": "kubeadm"}
		}, want: []string{"role", `"ma$ter"`}},
		{name: "image name", path: "files/a", index: func(x *Index) {
			x.Images = []Image{{Ref: "calico/node:v3.26.4", Name: "../../etc/cron.d/x:1", Digest: sha(nil)}}
		}, want: []string{"images[0].name", `"../../etc/cron.d/x:1"`}},
		{name: "image registry", path: "files/a", index: func(x *Index) {
			x.Images = []Image{{Ref: "a$(id).io/x:1", Name: "a$(id).io/x:1", Digest: sha(nil)}}
		}, want: []string{"images[0].ref", `"a$(id).io/x:1"`, "registry"}},
		{name: "allowed missing image", path: "files/a", index: func(x *Index) {
			x.AllowedMissing = []string{"docker.io/x:1;reboot"}
		}, want: []string{"allowedMissing[0]", `"docker.io/x:1;reboot"`}},
		{name: "bundle name with a newline", path: "files/a", index: func(x *Index) {
			x.Name = "stack\n[appliance-evil]"
		}, want: []string{"bundle name", `"stack\n[appliance-evil]"`}},
		{name: "bundle version", path: "files/a", index: func(x *Index) { x.Version = "1.0 gpgcheck=0" },
			want: []string{"bundle version", `"1.0 gpgcheck=0"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := forge(t, forgery{entries: []rawEntry{regular(c.path, []byte("x"))}, index: c.index})
			r, err := NewReader(bytes.NewReader(b), int64(len(b)))
			if err == nil {
				r.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, names.ErrUnsafeName) || !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %q wraps neither ErrUnsafeName nor ErrCorrupt", err)
			}
			var ne *names.NameError
			if !errors.As(err, &ne) {
				t.Fatalf("error %q is not a *NameError", err)
			}
			for _, w := range append(c.want, "bundle build") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error of %d bytes: the value is not truncated", len(err.Error()))
			}
		})
	}
}

// TestRealNamesAccepted: names real bundles carry pass the checks.
func TestRealNamesAccepted(t *testing.T) {
	paths := []string{
		"repos/kubesphere-x86_64/repodata/repomd.xml",
		"repos/kubesphere-x86_64/repodata/0123abcd-primary.xml.zst",
		"repos/el9:baseos_2.x/repodata/repomd.xml",
		"repos/kubesphere-x86_64/keys/RPM-GPG-KEY-docker-ce-stable-1",
		"repos/kubesphere-x86_64/keys/RPM-GPG-KEY-CentOS-7",
		"repos/kubesphere-x86_64/Packages/libstdc++-4.8.5-44.el7.x86_64.rpm",
		"repos/kubesphere-x86_64/Packages/containerd.io-1.6.28-3.1.el7.x86_64.rpm",
		"repos/kubesphere-x86_64/Packages/kernel-5.14.0-362.8.1.el9_3.x86_64.rpm",
		"repos/kubesphere-x86_64/Packages/foo-1.0~rc1-1.fc38.noarch.rpm",
		"repos/kubesphere-x86_64/Packages/bar-1.0^20230101git3a2b-1.fc38.x86_64.rpm",
		"repos/kubesphere-x86_64/Packages/k/1f2e3d4c5b6a-kubeadm-1.28.2-150500.1.1.x86_64.rpm",
		"repos/kubesphere-x86_64/Packages/_private-1-1.x86_64.rpm",
		"files/anything goes; paths are checked by CheckPath",
	}
	var entries []rawEntry
	for _, p := range paths {
		entries = append(entries, regular(p, []byte(p)))
	}
	dig := "@sha256:" + strings.Repeat("ab", 32)
	b := forge(t, forgery{entries: entries, index: func(x *Index) {
		x.Name, x.Version = "kubesphere", "3.4.1+build.7"
		x.Images = []Image{
			{Ref: "calico/node:v3.26.4", Name: "docker.io/calico/node:v3.26.4"},
			{Ref: "busybox:1.36" + dig, Name: "docker.io/library/busybox:1.36" + dig},
			{Ref: "registry.k8s.io/pause:3.9", Name: "registry.k8s.io/pause:3.9"},
			{Ref: "localhost:5000/team/app__x.y-z" + dig, Name: "localhost:5000/team/app__x.y-z" + dig},
			{Ref: "[::1]:5000/a:V1_0", Name: "[::1]:5000/a:V1_0"},
			{Ref: "harbor.site.local:8443/docker.io/kubesphere/ks-apiserver:v3.4.1", Name: "harbor.site.local:8443/docker.io/kubesphere/ks-apiserver:v3.4.1"},
		}
		x.AllowedMissing = []string{"quay.io/prometheus/node-exporter:v1.7.0"}
		x.Annotations = map[string]string{
			AnnotationPackagesPrefix + "master":   "containerd.io kubeadm libstdc++ python3.11-pip _x",
			AnnotationPackagesPrefix + "registry": "",
			"org.example/other":                   "anything; at all",
		}
	}})
	r := openBytes(t, b)
	defer r.Close()
	if n := len(r.Index().Artifacts); n != len(paths) {
		t.Errorf("%d artifacts, want %d", n, len(paths))
	}
}

// TestWriterRefusesUnsafeNames: bundle build cannot write a bundle the
// site would refuse; the same check runs before the index is written.
func TestWriterRefusesUnsafeNames(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	p := "repos/x; touch pwned/repodata/repomd.xml"
	e, err := w.Add(p, 1, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	x := &Index{SchemaVersion: SchemaVersion, Name: "t", Version: "1", Artifacts: []Artifact{e.Artifact(KindRepodata, "repomd.xml")}}
	raw, err := x.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	err = w.Finish(raw, nil)
	if !errors.Is(err, names.ErrUnsafeName) || !strings.Contains(err.Error(), `"x; touch pwned"`) {
		t.Errorf("Finish = %v, want a refusal naming the repo id", err)
	}
}
