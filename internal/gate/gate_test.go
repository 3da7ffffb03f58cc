package gate

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func scanFile(t *testing.T, path string) []Use {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	uses, err := Scan(f, Origin{Component: "core", Source: "manifest " + path}, "default")
	if err != nil {
		t.Fatal(err)
	}
	return uses
}

func TestScanFindsEveryWorkloadKind(t *testing.T) {
	uses := scanFile(t, "testdata/workloads.yaml")
	want := []struct {
		image, object, field string
		workload             bool
	}{
		{"nginx:1.25", "Pod web/pod", "container main", true},
		{"busybox:1.36", "Pod web/pod", "ephemeralContainer debug", true},
		{"registry.factory.example/library/app:1.0", "Deployment default/deploy", "container app", true},
		{"docker.io/library/alpine:3.19", "Deployment default/deploy", "initContainer init", true},
		{"mysql@sha256:" + strings.Repeat("1", 64), "StatefulSet default/db", "container db", true},
		{"calico/node:v3.26.4", "DaemonSet kube-system/node", "container node", true},
		{"quay.io/org/cron:2", "CronJob default/cron", "container job", true},
		{"ghcr.io/org/tmpl:1", "PodTemplate default/tmpl", "container t", true},
		{"k8s.gcr.io/rc:1", "ReplicationController default/rc", "container rc", true},
		{"quay.io/prometheus/prometheus:v2.39.1", "Prometheus monitoring/k8s", "spec.image", false},
	}
	if len(uses) != len(want) {
		t.Fatalf("found %d uses, want %d: %+v", len(uses), len(want), uses)
	}
	for i, w := range want {
		u := uses[i]
		if u.Image != w.image || u.Origin.Object != w.object || u.Origin.Field != w.field || u.Workload != w.workload {
			t.Errorf("use %d = %q %q %q workload=%v; want %q %q %q %v", i, u.Image, u.Origin.Object, u.Origin.Field, u.Workload, w.image, w.object, w.field, w.workload)
		}
		if u.Origin.Line == 0 {
			t.Errorf("use %d (%s) has no line number", i, u.Image)
		}
	}
}

func TestScanRefusesBrokenYAML(t *testing.T) {
	_, err := Scan(strings.NewReader("kind: Pod\nspec: [\n"), Origin{Source: "chart x", File: "templates/p.yaml"}, "")
	if err == nil || !strings.Contains(err.Error(), "chart x templates/p.yaml") {
		t.Fatalf("got %v, want an error naming the template", err)
	}
}

func TestScanBoundsAliasExpansion(t *testing.T) {
	var b strings.Builder
	b.WriteString("kind: ConfigMap\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	_, err := Scan(strings.NewReader(b.String()), Origin{Source: "manifest bomb.yaml"}, "")
	if err == nil || !strings.Contains(err.Error(), "YAML nodes") {
		t.Fatalf("an alias bomb was walked: %v", err)
	}
}

func inventory(t *testing.T, refs map[string][]string) *Inventory {
	t.Helper()
	inv := NewInventory()
	for r, ds := range refs {
		if err := inv.Add(r, ds...); err != nil {
			t.Fatal(err)
		}
	}
	return inv
}

func TestInventoryMatching(t *testing.T) {
	idx := "sha256:" + strings.Repeat("a", 64)
	plat := "sha256:" + strings.Repeat("b", 64)
	other := "sha256:" + strings.Repeat("c", 64)
	inv := inventory(t, map[string][]string{
		"busybox:1.36":                         {idx, plat},
		"calico/node:v3.26.4@" + idx:           nil,
		"registry.factory.example/lib/app:1.0": nil,
	})
	tests := []struct {
		ref  string
		want bool
	}{
		{"busybox:1.36", true},
		{"docker.io/library/busybox:1.36", true},
		{"index.docker.io/library/busybox:1.36", true},
		{"busybox:1.37", false},
		{"busybox", false}, // :latest
		{"busybox@" + idx, true},
		{"busybox@" + plat, true}, // the platform manifest's digest
		{"busybox:1.36@" + other, false},
		{"docker.io/calico/node:v3.26.4", true},
		{"calico/node@" + idx, true},
		{"other/node@" + idx, false}, // same digest, other repository
		{"registry.factory.example/lib/app:1.0", true},
		{"not a ref", false},
	}
	for _, tt := range tests {
		if got := inv.Has(tt.ref); got != tt.want {
			t.Errorf("Has(%q) = %v, want %v", tt.ref, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	uses := scanFile(t, "testdata/workloads.yaml")
	bundled := inventory(t, map[string][]string{
		"nginx:1.25": nil, "busybox:1.36": nil, "alpine:3.19": nil,
		"registry.factory.example/library/app:1.0": nil, "calico/node:v3.26.4": nil,
		"quay.io/org/cron:2": nil, "ghcr.io/org/tmpl:1": nil,
	})
	allowed := inventory(t, map[string][]string{"docker.io/library/mysql@sha256:" + strings.Repeat("1", 64): nil})
	r := Check(uses, bundled, allowed)
	if r.Checked != 10 {
		t.Errorf("checked %d references, want 10", r.Checked)
	}
	if len(r.Missing) != 1 || r.Missing[0].Image != "k8s.gcr.io/rc:1" {
		t.Fatalf("missing %+v, want only k8s.gcr.io/rc:1", r.Missing)
	}
	if len(r.Allowed) != 1 || !strings.HasPrefix(r.Allowed[0].Image, "mysql@") {
		t.Errorf("allowed %+v, want mysql", r.Allowed)
	}
	if len(r.Warnings) != 1 || r.Warnings[0].Image != "quay.io/prometheus/prometheus:v2.39.1" {
		t.Errorf("warnings %+v, want the Prometheus image field", r.Warnings)
	}
	err := r.Err()
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("Err() = %v, want a *MissingError", err)
	}
	want := `image k8s.gcr.io/rc:1 referenced by manifest testdata/workloads.yaml (line 66, ReplicationController default/rc, container rc) is not in the bundle; add it to component "core" or allow it with --allow-missing-image k8s.gcr.io/rc:1`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error:\n%s\nwant a line:\n%s", err, want)
	}
	if Check(uses[:1], bundled, allowed).Err() != nil {
		t.Error("a complete set of images failed the gate")
	}
}

func TestCheckInvalidReference(t *testing.T) {
	uses := []Use{{Image: "Bad Image!", Workload: true, Origin: Origin{Component: "core", Source: "chart x", File: "templates/a.yaml", Object: "Pod ns/p", Field: "container c"}}}
	err := Check(uses, NewInventory(), NewInventory()).Err()
	if err == nil || !strings.Contains(err.Error(), `image "Bad Image!" referenced by chart x (templates/a.yaml, Pod ns/p, container c) is not a valid image reference`) {
		t.Fatalf("got %v", err)
	}
}

func TestOriginString(t *testing.T) {
	o := Origin{Source: "chart factory-app", File: "templates/deployment.yaml", Object: "Deployment default/app", Field: "initContainer init"}
	if got := o.String(); got != "chart factory-app (templates/deployment.yaml, Deployment default/app, initContainer init)" {
		t.Errorf("Origin.String() = %q", got)
	}
}
