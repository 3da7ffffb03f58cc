package gate

import (
	"testing"

	"github.com/factory-appliance/appliance/manifest"
)

// TestKubeSphereStackManifestsAreComplete runs the gate over the plain
// manifests of the built-in kubesphere stack against the stack's own image
// list, offline: every image KubeSphere's installer needs must be listed.
func TestKubeSphereStackManifestsAreComplete(t *testing.T) {
	s, err := manifest.Builtin("kubesphere")
	if err != nil {
		t.Fatal(err)
	}
	bundled := NewInventory()
	for _, img := range s.Images() {
		if err := bundled.Add(img.Canonical); err != nil {
			t.Fatal(err)
		}
	}
	var uses []Use
	for _, c := range s.Spec.Components {
		for _, m := range c.Manifests {
			f, err := s.Open(m.Path)
			if err != nil {
				t.Fatal(err)
			}
			u, err := Scan(f, Origin{Component: c.Name, Source: "manifest " + m.Path}, "")
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			uses = append(uses, u...)
		}
	}
	if len(uses) == 0 {
		t.Fatal("the kubesphere stack's manifests reference no image; the installer's Deployment should")
	}
	r := Check(uses, bundled, NewInventory())
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	for _, w := range r.Warnings {
		t.Error(WarningMessage(w))
	}
}
