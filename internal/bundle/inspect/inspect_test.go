package inspect

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/bundletest"
)

func TestInspect(t *testing.T) {
	entries, images := bundletest.StandardEntries()
	file := bundletest.Write(t, entries, images, []byte("sig"))
	r := bundletest.Open(t, file)
	s, err := Inspect(r)
	if err != nil {
		t.Fatal(err)
	}
	var shared, content int64
	for _, e := range entries {
		content += int64(len(e.Data))
		if len(e.Data) > 2*bundle.ChunkSize {
			shared = int64(len(e.Data))
		}
	}
	if s.DedupSavedBytes != shared {
		t.Errorf("dedup saved %d bytes, want the shared layer's %d", s.DedupSavedBytes, shared)
	}
	if s.ContentBytes != content || s.Artifacts != len(entries) || s.Images != 2 || !s.Signed {
		t.Errorf("summary %+v", s)
	}
	if s.CompressedBytes != int64(len(file)) || s.Ratio <= 1 {
		t.Errorf("compressed %d (file %d), ratio %.3f", s.CompressedBytes, len(file), s.Ratio)
	}
	var text, js bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"test 1.0", "saved by dedup", "blob", "app"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Summary
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.DedupSavedBytes != s.DedupSavedBytes {
		t.Errorf("JSON summary does not round-trip: %v", err)
	}
}

func TestInspectListsTheInstallPlan(t *testing.T) {
	// The components of an index with two that install something: a
	// chart with two values files, and a manifest.
	x := &bundle.Index{Components: []bundle.Component{
		{Name: "storage", Charts: []string{"charts/nfs-1.0.0.tgz"}, Releases: []bundle.Release{
			{Name: "nfs", Namespace: "storage", Chart: "charts/nfs-1.0.0.tgz", Values: []string{"values/storage/storage.yaml", "values/storage/nfs.yaml"}},
		}},
		{Name: "network", Manifests: []string{"manifests/network/calico.yaml"}},
	}}
	x.Components[1].PodNetwork = true
	s := &Summary{Name: "t", Version: "1"}
	for _, c := range x.Components {
		s.Components = append(s.Components, ComponentSummary{Name: c.Name, Charts: len(c.Charts), Releases: c.Releases, Manifests: c.Manifests, PodNetwork: c.PodNetwork})
	}
	var b strings.Builder
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"release nfs  charts/nfs-1.0.0.tgz in namespace storage, values values/storage/storage.yaml values/storage/nfs.yaml",
		"manifest     manifests/network/calico.yaml",
		"network        0 images, 0 files, 0 charts, 0 rpms; the pod network (installed in /kubernetes/cni)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("bundle inspect's text lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "the pod network") != 1 {
		t.Errorf("one component is the pod network, the text says so %d times:\n%s", strings.Count(text, "the pod network"), text)
	}
	if strings.Index(text, "storage") > strings.Index(text, "network") {
		t.Errorf("components out of the stack's order:\n%s", text)
	}
}
