package install

import (
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/inventory"
)

// TestHarborNames: where nodes reach Harbor, and the one image per source
// registry each node pulls to check its handover.
func TestHarborNames(t *testing.T) {
	if u := URL(inventory.Harbor{Hostname: "harbor.site", Port: 443}); u != "https://harbor.site" {
		t.Errorf("URL on 443 = %s", u)
	}
	if u := URL(inventory.Harbor{Hostname: "harbor.site", Port: 8443}); u != "https://harbor.site:8443" {
		t.Errorf("URL on 8443 = %s", u)
	}
	idx := &bundle.Index{Images: []bundle.Image{
		{Name: "registry.k8s.io/pause:3.10.1"}, {Name: "docker.io/library/app@sha256:" + strings.Repeat("a", 64)},
		{Name: "registry.k8s.io/coredns/coredns:v1.12.1"},
	}}
	var refs []string
	for _, r := range oneImagePerRegistry(idx) {
		refs = append(refs, r.Registry+" "+r.Repository+" "+r.Tag+r.Digest)
	}
	want := "registry.k8s.io pause 3.10.1|docker.io library/app sha256:" + strings.Repeat("a", 64)
	if got := strings.Join(refs, "|"); got != want {
		t.Errorf("oneImagePerRegistry = %s, want %s", got, want)
	}
}
