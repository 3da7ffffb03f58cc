package bundle

import (
	"errors"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle/names"
)

// installIndex is an index with two components that install something: a
// chart with two values files, and a manifest.
func installIndex() *Index {
	art := func(kind, path string, off int64) Artifact {
		return Artifact{Kind: kind, Name: path, Path: path, Digest: sha([]byte(path)), Offset: off}
	}
	return &Index{SchemaVersion: SchemaVersion, Name: "t", Version: "1",
		Artifacts: []Artifact{
			art(KindChart, "charts/nfs-1.0.0.tgz", 512),
			art(KindConfig, "values/storage/storage.yaml", 1024),
			art(KindConfig, "values/storage/nfs.yaml", 1536),
			art(KindConfig, "manifests/network/calico.yaml", 2048),
			art(KindFile, "files/network/a.conf", 2560),
		},
		Components: []Component{
			{Name: "storage", Charts: []string{"charts/nfs-1.0.0.tgz"}, Releases: []Release{
				{Name: "nfs", Namespace: "storage", Chart: "charts/nfs-1.0.0.tgz", Values: []string{"values/storage/storage.yaml", "values/storage/nfs.yaml"}},
			}},
			{Name: "network", Manifests: []string{"manifests/network/calico.yaml"}},
		}}
}

func TestInstallPlanRoundTripsInOrder(t *testing.T) {
	x := installIndex()
	// Values in an order that sorting would change: merge order matters.
	x.Components[0].Releases[0].Values = []string{"values/storage/storage.yaml", "values/storage/nfs.yaml"}
	b, err := x.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Components[0].Name != "storage" || back.Components[1].Name != "network" {
		t.Errorf("components %s, %s: Marshal must keep the stack's order (storage, network)", back.Components[0].Name, back.Components[1].Name)
	}
	r := back.Components[0].Releases[0]
	if got := strings.Join(r.Values, " "); got != "values/storage/storage.yaml values/storage/nfs.yaml" {
		t.Errorf("values %s: Marshal must keep the merge order", got)
	}
	if r.Name != "nfs" || r.Namespace != "storage" || r.Chart != "charts/nfs-1.0.0.tgz" {
		t.Errorf("release %+v", r)
	}
	if back.Components[1].PodNetwork {
		t.Error("component network is the pod network, but no component was marked")
	}
	x.Components[1].PodNetwork = true
	b, _ = x.Marshal()
	if back, err = ParseIndex(b); err != nil || !back.Components[1].PodNetwork || back.Components[0].PodNetwork {
		t.Errorf("podNetwork on component network does not round-trip: %v", err)
	}
	x.Components[1].PodNetwork = false
	// An index without an install plan has no trace of one.
	x.Components[0].Releases, x.Components[1].Manifests = nil, nil
	b, _ = x.Marshal()
	if strings.Contains(string(b), "releases") || strings.Contains(string(b), `"manifests"`) {
		t.Errorf("an index without releases or manifests lists them:\n%s", b)
	}
}

func TestInstallPlanChecked(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*Index)
		want   []string
		unsafe bool // an ErrUnsafeName
	}{
		{name: "release name with a capital", change: func(x *Index) { x.Components[0].Releases[0].Name = "NFS" },
			want: []string{`releases[0].name "NFS"`, `component "storage"`, "53", "cluster"}, unsafe: true},
		{name: "release name too long for Helm", change: func(x *Index) { x.Components[0].Releases[0].Name = strings.Repeat("a", 54) },
			want: []string{"releases[0].name", "53"}, unsafe: true},
		{name: "namespace with a slash", change: func(x *Index) { x.Components[0].Releases[0].Namespace = "kube-system/x" },
			want: []string{`releases[0].namespace "kube-system/x"`}, unsafe: true},
		{name: "component name", change: func(x *Index) { x.Components[1].Name = "Network!" },
			want: []string{`component name "Network!"`}, unsafe: true},
		{name: "chart that is not in the bundle", change: func(x *Index) { x.Components[0].Releases[0].Chart = "charts/other-1.0.0.tgz" },
			want: []string{`names chart "charts/other-1.0.0.tgz"`, "not a chart entry"}},
		{name: "chart that is a file", change: func(x *Index) { x.Components[0].Releases[0].Chart = "files/network/a.conf" },
			want: []string{"not a chart entry"}},
		{name: "values that are a chart", change: func(x *Index) { x.Components[0].Releases[0].Values = []string{"charts/nfs-1.0.0.tgz"} },
			want: []string{`values[0] "charts/nfs-1.0.0.tgz" is not a config entry`}},
		{name: "manifest not in the bundle", change: func(x *Index) { x.Components[1].Manifests = []string{"manifests/network/x.yaml"} },
			want: []string{`component "network": manifests[0] "manifests/network/x.yaml" is not a config entry`}},
		{name: "release listed twice", change: func(x *Index) {
			x.Components[1].Releases = []Release{{Name: "nfs", Namespace: "other", Chart: "charts/nfs-1.0.0.tgz"}}
		}, want: []string{`release "nfs" of component "network" has the name "nfs" of release "nfs" of component "storage"`, "/stack/nfs"}},
		{name: "two pod networks", change: func(x *Index) { x.Components[0].PodNetwork, x.Components[1].PodNetwork = true, true },
			want: []string{`component "network" and component "storage" are both marked as the pod network`, "one CNI"}},
		{name: "pod network that installs nothing", change: func(x *Index) {
			x.Components[1].PodNetwork, x.Components[1].Manifests = true, nil
		}, want: []string{`component "network" is marked as the pod network but has no releases or manifests`}},
		{name: "release named like a manifests step", change: func(x *Index) { x.Components[0].Releases[0].Name = "network-manifests" },
			want: []string{`the manifests of component "network" has the name "network-manifests"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := installIndex()
			c.change(x)
			b, err := x.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseIndex(b)
			if err == nil {
				t.Fatal("ParseIndex accepted it")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			if errors.Is(err, names.ErrUnsafeName) != c.unsafe {
				t.Errorf("errors.Is(err, ErrUnsafeName) = %v, want %v", !c.unsafe, c.unsafe)
			}
		})
	}
}
