package charts

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/manifest"
)

// TestRenderMatchesHelmTemplate renders the fixture chart with values
// files and compares the result, document by document, with what the real
// `helm template` prints for the same chart, values and Kubernetes version.
func TestRenderMatchesHelmTemplate(t *testing.T) {
	f := NewFetcher(newCache(t))
	got, err := f.Fetch(context.Background(), os.DirFS("testdata"), manifest.Chart{Source: manifest.ChartLocal, Path: "factory-app"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := f.Load(got.Digest)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a := writeFile(t, dir, "a.yaml", "replicas: 3\njob:\n  enabled: true\n  image: example.com/a:1\n")
	b := writeFile(t, dir, "b.yaml", "job:\n  image: example.com/b:2\n")
	var files []map[string]any
	for _, p := range []string{a, b} {
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ReadValues(p, fh)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, v)
	}
	rendered, err := Render(ch, Release{Name: "rel", Namespace: "ns"}, MergeValues(files...))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var ours strings.Builder
	for _, r := range rendered {
		names = append(names, r.Template)
		ours.WriteString("---\n# Source: factory-app/" + r.Template + "\n" + r.Content + "\n")
	}
	if strings.Join(names, ",") != "templates/cronjob.yaml,templates/deployment.yaml" {
		t.Errorf("rendered %v; want the cron job and the deployment, no partials or NOTES.txt", names)
	}
	if !strings.Contains(ours.String(), "image: example.com/b:2") || !strings.Contains(ours.String(), "replicas: 3") {
		t.Errorf("values were not merged in order:\n%s", ours.String())
	}
	tgz := filepath.Join(dir, got.FileName())
	if err := os.WriteFile(tgz, readCache(t, f.cache, got.Digest), 0o644); err != nil {
		t.Fatal(err)
	}
	helm := runHelm(t, "template", "rel", tgz, "--namespace", "ns", "--kube-version", KubeVersion, "-f", a, "-f", b)
	if docs(helm) != docs(ours.String()) {
		t.Errorf("Render differs from helm template.\nours:\n%s\nhelm:\n%s", ours.String(), helm)
	}
}

// docs normalizes a multi-document stream for comparison: documents
// sorted, blank lines dropped.
func docs(s string) string {
	var out []string
	for _, d := range strings.Split(s, "\n---\n") {
		var lines []string // blank lines dropped: helm trims each document
		for _, l := range strings.Split(strings.TrimPrefix(strings.TrimSpace(d), "---"), "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) > 0 {
			out = append(out, strings.Join(lines, "\n"))
		}
	}
	slices.Sort(out) // helm orders by kind; Render by template path
	return strings.Join(out, "\n=====\n")
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMergeValues(t *testing.T) {
	got := MergeValues(
		map[string]any{"a": map[string]any{"x": 1, "y": 2}, "b": "keep", "c": []any{1}},
		map[string]any{"a": map[string]any{"y": 3}, "c": []any{2}},
		map[string]any{"b": nil},
	)
	a := got["a"].(map[string]any)
	if a["x"] != 1 || a["y"] != 3 || got["c"].([]any)[0] != 2 || got["b"] != nil {
		t.Fatalf("MergeValues = %v", got)
	}
}
