package manifest

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// lintFS holds valid and broken files for the lint table.
func lintFS(t *testing.T) fstest.MapFS {
	t.Helper()
	pub, err := os.ReadFile("testdata/full/keys/vendor.pub")
	if err != nil {
		t.Fatal(err)
	}
	return fstest.MapFS{
		"files/ok.conf":        {Data: []byte("ok\n")},
		"files/dir/inner":      {Data: []byte("x")},
		"t/bad.tmpl":           {Data: []byte("{{ .Site.VIP ")},
		"t/unknown-func.tmpl":  {Data: []byte("{{ toJson .Site }}")},
		"t/ok.tmpl":            {Data: []byte("{{ .Site.VIP | upper }} {{ join \",\" .Site.Hosts }}")},
		"extra/fake.rpm":       {Data: []byte("not an rpm")},
		"values/list.yaml":     {Data: []byte("- a\n- b\n")},
		"values/broken.yaml":   {Data: []byte("a: [\n")},
		"manifests/two.yaml":   {Data: []byte("kind: A\n---\n- not an object\n")},
		"charts/nometa/README": {Data: []byte("x")},
		"keys/ok.pub":          {Data: pub},
		"keys/not.pub":         {Data: []byte("ssh-ed25519 AAAA")},
		"keys/not.gpg":         {Data: []byte("hello")},
		"rpms/base.txt":        {Data: []byte("# base\nbash\nnot valid name\n")},
	}
}

func TestLintErrors(t *testing.T) {
	okSum := "sha256: " + strings.Repeat("0", 64)
	tests := []struct {
		name string
		body string
		line int
		msg  string
		fix  string
	}{
		{"missing file", "  components:\n    - name: a\n      files: [files/none.conf]\n", 7, "file m/files/none.conf: file does not exist", "create it, or fix the path"},
		{"directory as file", "  components:\n    - name: a\n      files: [files/dir]\n", 7, "file m/files/dir is not a regular file", "name a regular file"},
		{"sha256 mismatch", "  components:\n    - name: a\n      files:\n        - {path: files/ok.conf, " + okSum + "}\n", 8, "sha256 is ", "update sha256"},
		{"template syntax", "  components:\n    - name: a\n      files:\n        - {path: t/bad.tmpl, template: true}\n", 8, "template does not parse", "fix the template syntax"},
		{"template unknown function", "  components:\n    - name: a\n      files:\n        - {path: t/unknown-func.tmpl, template: true}\n", 8, `function "toJson" not defined`, "text/template"},
		{"not an rpm", "  components:\n    - name: a\n      rpmFiles: [extra/fake.rpm]\n", 7, "not an RPM package", "rpmbuild"},
		{"values not a mapping", "  components:\n    - name: a\n      values: [values/list.yaml]\n", 7, "is not a YAML mapping", "mapping of keys"},
		{"values broken", "  components:\n    - name: a\n      values: [values/broken.yaml]\n", 7, "invalid YAML", "fix the YAML syntax"},
		{"manifest not an object", "  components:\n    - name: a\n      manifests: [manifests/two.yaml]\n", 7, "document 2 is not a Kubernetes object", "apiVersion and kind"},
		{"chart without Chart.yaml", "  components:\n    - name: a\n      charts: [{path: charts/nometa}]\n", 7, "chart m/charts/nometa/Chart.yaml: file does not exist", "create it"},
		{"chart values missing", "  components:\n    - name: a\n      charts: [{path: charts/nometa, values: [values/none.yaml]}]\n", 7, "values file m/values/none.yaml", "create it"},
		{"verify key not PEM", "  verify: [{registry: docker.io, key: keys/not.pub}]\n  components: [{name: a}]\n", 5, "not a PEM public key", "cosign generate-key-pair"},
		{"image verify key missing", "  components:\n    - name: a\n      images: [{ref: a/b:1, verify: {key: keys/none.pub}}]\n", 7, "verify key m/keys/none.pub", "create it"},
		{"gpg key not armored", "  rpmRepos: [{id: r, baseurl: \"file:///r\", gpgkey: keys/not.gpg}]\n  components: [{name: a}]\n", 5, "not an armored PGP public key", "gpg --armor --export"},
		{"rpmBase bad line", "  rpmBase: rpms/base.txt\n  components: [{name: a}]\n", 5, `rpmBase m/rpms/base.txt:3: "not valid name" is not a package name`, "one package name per line"},
		{"rpmBase missing", "  rpmBase: rpms/none.txt\n  components: [{name: a}]\n", 5, "rpmBase m/rpms/none.txt: file does not exist", "create or fix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseFS(lintFS(t), "m/stack.yaml", []byte(stack(tt.body)))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err = s.Lint()
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Lint = %v, want an ErrorList", err)
			}
			for _, e := range list {
				if e.Pos.File == "m/stack.yaml" && e.Pos.Line == tt.line && strings.Contains(e.Msg, tt.msg) && strings.Contains(e.Fix, tt.fix) {
					return
				}
			}
			t.Errorf("want m/stack.yaml:%d %q; %q, got:\n%v", tt.line, tt.msg, tt.fix, err)
		})
	}
}

func TestLintPasses(t *testing.T) {
	body := "  verify: [{registry: docker.io, key: keys/ok.pub}]\n  components:\n    - name: a\n      images: [a/b:1]\n      files:\n        - {path: t/ok.tmpl, template: true}\n        - files/ok.conf\n"
	s, err := ParseFS(lintFS(t), "m/stack.yaml", []byte(stack(body)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Lint(); err != nil {
		t.Errorf("Lint: %v", err)
	}
	if got := s.Images()[0].VerifyKey; got != "keys/ok.pub" {
		t.Errorf("registry rule key = %q", got)
	}
}

func TestTemplateStrict(t *testing.T) {
	tmpl, err := NewTemplate("x").Parse("{{ .Site.VIP }} {{ quote .Name }} {{ indent 2 .Body }}")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	data := map[string]any{"Site": map[string]any{"VIP": "10.0.0.10"}, "Name": `a"b`, "Body": "x\ny"}
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	if want := `10.0.0.10 "a\"b"   x` + "\n  y"; b.String() != want {
		t.Errorf("rendered %q, want %q", b.String(), want)
	}
	if err := tmpl.Execute(&b, map[string]any{"Site": map[string]any{}}); err == nil {
		t.Error("a missing key rendered without error")
	}
}
