package lint

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/template"
)

// header is four lines; a body given to stack starts at line 5.
const header = "apiVersion: appliance/v1\nkind: Stack\nmetadata: {name: t, version: \"1\"}\nspec:\n"

func stack(body string) string { return header + body }

// lintFS holds valid and broken files for the lint table.
func lintFS(t *testing.T) fstest.MapFS {
	t.Helper()
	pub, err := os.ReadFile("../testdata/full/keys/vendor.pub")
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
		"values/site.yaml":     {Data: []byte("nfs: {server: {{ quote .Storage.NFS.Server }}, path: {{ quote .Storage.NFS.Path }}}\n")},
		"values/nokey.yaml":    {Data: []byte("a: {{ .Storage.NFS.Port }}\n")},
		"values/tolist.yaml":   {Data: []byte("{{ range .Storage.Ceph.Monitors }}- {{ . }}\n{{ end }}")},
		"manifests/site.yaml":  {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {registry: {{ quote .Site.Registry }}}\n")},
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
		{"values template with an unknown key", "  components:\n    - name: a\n      values: [{path: values/nokey.yaml, template: true}]\n", 7, `can't evaluate field Port`, ".Stack, .Site, .Network, .Storage"},
		{"values template rendering a list", "  components:\n    - name: a\n      values: [{path: values/tolist.yaml, template: true}]\n", 7, "once rendered: ", "mapping of keys"},
		{"values template not marked", "  components:\n    - name: a\n      values: [values/site.yaml]\n", 7, "line 1 holds a template expression", "values: [{path: values/site.yaml, template: true}]"},
		{"not an rpm", "  components:\n    - name: a\n      rpmFiles: [extra/fake.rpm]\n", 7, "not an RPM package", "rpmbuild"},
		{"values not a mapping", "  components:\n    - name: a\n      values: [values/list.yaml]\n", 7, "is not a YAML mapping", "mapping of keys"},
		{"values broken", "  components:\n    - name: a\n      values: [values/broken.yaml]\n", 7, "invalid YAML", "fix the YAML syntax"},
		{"manifest not an object", "  components:\n    - name: a\n      manifests: [manifests/two.yaml]\n", 7, "document 2 is not a Kubernetes object", "apiVersion and kind"},
		{"chart without Chart.yaml", "  components:\n    - name: a\n      charts: [{path: charts/nometa}]\n", 7, "chart m/charts/nometa/Chart.yaml: file does not exist", "create it"},
		{"chart values missing", "  components:\n    - name: a\n      charts: [{path: charts/nometa, values: [values/none.yaml]}]\n", 7, "values file m/values/none.yaml", "create it"},
		{"verify key not PEM", "  verify: [{registry: docker.io, key: keys/not.pub}]\n  components: [{name: a}]\n", 5, "not a PEM public key", "cosign generate-key-pair"},
		{"image verify key missing", "  components:\n    - name: a\n      images: [{ref: a/b:1, verify: {key: keys/none.pub}}]\n", 7, "verify key m/keys/none.pub", "create it"},
		{"file verify key not armored", "  components:\n    - name: a\n      files:\n        - url: https://h/x.tgz\n          verify: {gpgkey: keys/not.gpg}\n", 9, "verify.gpgkey m/keys/not.gpg: not an armored PGP public key", "gpg --armor --export"},
		{"file verify key missing", "  components:\n    - name: a\n      files:\n        - url: https://h/x.tgz\n          verify: {gpgkey: keys/none.asc}\n", 9, "verify.gpgkey m/keys/none.asc: file does not exist", "create it"},
		{"gpg key not armored", "  rpmRepos: [{id: r, baseurl: \"file:///r\", gpgkey: keys/not.gpg}]\n  components: [{name: a}]\n", 5, "not an armored PGP public key", "gpg --armor --export"},
		{"rpmBase bad line", "  rpmBase: rpms/base.txt\n  components: [{name: a}]\n", 5, `rpmBase m/rpms/base.txt:3: "not valid name" is not a package name`, "one package name per line"},
		{"rpmBase missing", "  rpmBase: rpms/none.txt\n  components: [{name: a}]\n", 5, "rpmBase m/rpms/none.txt: file does not exist", "create or fix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := manifest.ParseFS(lintFS(t), "m/stack.yaml", []byte(stack(tt.body)))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err = Check(s)
			var list manifest.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Lint = %v, want an ErrorList", err)
			}
			for _, e := range list {
				// A problem inside a named file is placed at its line in
				// that file, and names the manifest line.
				at := e.Pos.File == "m/stack.yaml" && e.Pos.Line == tt.line ||
					e.Pos.File != "m/stack.yaml" && e.Pos.Line > 0 && strings.Contains(e.Msg, fmt.Sprintf("(named at m/stack.yaml:%d)", tt.line))
				if at && strings.Contains(e.Msg, tt.msg) && strings.Contains(e.Fix, tt.fix) {
					return
				}
			}
			t.Errorf("want m/stack.yaml:%d %q; %q, got:\n%v", tt.line, tt.msg, tt.fix, err)
		})
	}
}

func TestLintPasses(t *testing.T) {
	body := "  verify: [{registry: docker.io, key: keys/ok.pub}]\n  components:\n    - name: a\n      images: [a/b:1]\n      files:\n        - {path: t/ok.tmpl, template: true}\n        - files/ok.conf\n" +
		"      values: [{path: values/site.yaml, template: true}]\n      manifests: [{path: manifests/site.yaml, template: true}]\n"
	s, err := manifest.ParseFS(lintFS(t), "m/stack.yaml", []byte(stack(body)))
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(s); err != nil {
		t.Errorf("Lint: %v", err)
	}
	if got := s.Images()[0].VerifyKey; got != "keys/ok.pub" {
		t.Errorf("registry rule key = %q", got)
	}
}

// TestConfigTemplates: values files and manifests marked template: true
// parse as such, render with the site's data (missing settings stop with
// required's message), and ReadConfig renders them with the sample data
// while leaving other files as they are.
func TestConfigTemplates(t *testing.T) {
	body := "  components:\n    - name: a\n      values: [{path: values/site.yaml, template: true}, values/list.yaml]\n" +
		"      charts: [{path: charts/nometa, values: [{path: values/nokey.yaml, template: false}]}]\n"
	s, err := manifest.ParseFS(lintFS(t), "m/stack.yaml", []byte(stack(body)))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Spec.Components[0]
	if !c.Values[0].Template || c.Values[1].Template || c.Charts[0].Values[0].Template {
		t.Fatalf("template flags %v %v %v, want true false false", c.Values[0].Template, c.Values[1].Template, c.Charts[0].Values[0].Template)
	}
	got, err := ReadConfig(s, c.Values[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := `nfs: {server: "nfs.site.example", path: "/export/kubernetes"}` + "\n"; string(got) != want {
		t.Errorf("rendered with the sample data: %q, want %q", got, want)
	}
	if raw, _ := ReadConfig(s, c.Values[1]); string(raw) != "- a\n- b\n" {
		t.Errorf("a plain values file came back as %q", raw)
	}
	src := []byte(`server: {{ required "storage.nfs.server is not set" .Storage.NFS.Server }}`)
	if _, err := template.Render("nfs.yaml", src, template.Data{}); err == nil || !strings.Contains(err.Error(), "storage.nfs.server is not set") {
		t.Errorf("required on an empty setting: %v", err)
	}
	mons := []byte(`{{ range required "no monitors" .Storage.Ceph.Monitors }}{{ . }};{{ end }}`)
	if _, err := template.Render("m", mons, template.Data{}); err == nil || !strings.Contains(err.Error(), "no monitors") {
		t.Errorf("required on an empty list: %v", err)
	}
	out, err := template.Render("m", mons, template.Data{Storage: template.Storage{Ceph: template.Ceph{Monitors: []string{"a:1", "b:2"}}}})
	if err != nil || string(out) != "a:1;b:2;" {
		t.Errorf("Render = %q, %v", out, err)
	}
	if _, err := manifest.ParseFS(lintFS(t), "m/stack.yaml", []byte(stack("  components:\n    - name: a\n      values: [{template: true}]\n"))); err == nil ||
		!strings.Contains(err.Error(), `missing required field "path"`) {
		t.Errorf("a values entry without a path: %v", err)
	}
}

// TestLintPlacesProblemsInTheirFile: a problem inside a values file or
// manifest is reported at its own line in that file (the manifest line
// that names it is in the message): a template's error at the line the
// template error names, a YAML error at the line YAML names, and a file
// that holds {{ }} without being marked a template at the line of the
// first {{, with the fix of marking it.
func TestLintPlacesProblemsInTheirFile(t *testing.T) {
	fsys := fstest.MapFS{
		"values/unmarked.yaml": {Data: []byte("# {{ in a comment does not count\nreplicas: 1\nimage: {{ .Site.Registry }}/app\n")},
		"values/broken.yaml":   {Data: []byte("replicas: 1\nfoo: [\n")},
		"values/badkey.yaml":   {Data: []byte("replicas: 1\n\nimage: \"{{ .Site.Registy }}/app\"\n")},
		"manifests/cm.yaml":    {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {registry: {{ .Site.Registry }}}\n")},
	}
	body := "  components:\n    - name: a\n      values:\n        - values/unmarked.yaml\n        - values/broken.yaml\n" +
		"        - {path: values/badkey.yaml, template: true}\n      manifests: [manifests/cm.yaml]\n"
	s, err := manifest.ParseFS(fsys, "m/stack.yaml", []byte(stack(body)))
	if err != nil {
		t.Fatal(err)
	}
	var list manifest.ErrorList
	if err := Check(s); !errors.As(err, &list) {
		t.Fatalf("Lint = %v, want an ErrorList", err)
	}
	want := []struct {
		at       string
		msg, fix string
	}{
		{"m/values/unmarked.yaml:3", "(named at m/stack.yaml:8)", "values: [{path: values/unmarked.yaml, template: true}]"},
		{"m/values/broken.yaml:2", "invalid YAML: line 2", "fix the YAML syntax"},
		{"m/values/badkey.yaml:3", "can't evaluate field Registy", "fix the template"},
		{"m/manifests/cm.yaml:4", "line 4 holds a template expression", "manifests: [{path: manifests/cm.yaml, template: true}]"},
	}
	for _, w := range want {
		found := false
		for _, e := range list {
			found = found || e.Pos.String() == w.at && strings.Contains(e.Msg, w.msg) && strings.Contains(e.Fix, w.fix)
		}
		if !found {
			t.Errorf("no problem at %s with %q; %q in:\n%v", w.at, w.msg, w.fix, list)
		}
	}
	if len(list) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(list), len(want), list)
	}
}

// TestTemplateWarnings: a values file or manifest that is valid YAML but
// holds {{ }} without template: true is warned about at that line (deploy
// would pass the text on unrendered); a marked one, or one with {{ only in
// a comment, is not.
func TestTemplateWarnings(t *testing.T) {
	fsys := fstest.MapFS{
		"values/quoted.yaml":  {Data: []byte("replicas: 1\nimage: \"{{ .Site.Registry }}/app\"\n")},
		"values/marked.yaml":  {Data: []byte("image: \"{{ .Site.Registry }}/app\"\n")},
		"values/comment.yaml": {Data: []byte("# image: {{ .Site.Registry }}\nreplicas: 1\n")},
		"manifests/cm.yaml":   {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {registry: \"{{ .Site.Registry }}\"}\n")},
	}
	body := "  components:\n    - name: a\n      values:\n        - values/quoted.yaml\n        - {path: values/marked.yaml, template: true}\n" +
		"        - values/comment.yaml\n      manifests: [manifests/cm.yaml]\n"
	s, err := manifest.ParseFS(fsys, "m/stack.yaml", []byte(stack(body)))
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(s); err != nil {
		t.Fatalf("Lint: %v (the files are valid YAML)", err)
	}
	ws := TemplateWarnings(s)
	var got []string
	for _, w := range ws {
		got = append(got, w.Pos.String())
		if !strings.Contains(w.Msg, "not marked template: true") || !strings.Contains(w.Fix, "template: true}]") {
			t.Errorf("warning %v lacks the cause or the fix", w)
		}
	}
	if strings.Join(got, " ") != "m/values/quoted.yaml:2 m/manifests/cm.yaml:4" {
		t.Errorf("warnings at %v, want the unmarked values file and manifest", got)
	}
}

// TestLintRefusesUnboundedTemplates: bundle lint refuses a values template
// whose render hits a limit, naming the file, the line and the limit, and
// a file template ranging over a huge literal (files are parsed, not
// rendered, by lint).
func TestLintRefusesUnboundedTemplates(t *testing.T) {
	fsys := fstest.MapFS{
		"values/spin.yaml":  {Data: []byte("a: 1\n{{range 100000000000}}{{end}}\n")},
		"values/grow.yaml":  {Data: []byte("a: 1\n{{$x := \"ab\"}}{{range 40}}{{$x = print $x $x}}{{end}}\n")},
		"files/spin.tmpl":   {Data: []byte("x\n\n{{range 100000000000}}{{end}}\n")},
		"values/fine.yaml":  {Data: []byte("a: [{{range 3}}{{.}},{{end}}]\n")},
		"files/fine.tmpl":   {Data: []byte("{{range .Storage.Ceph.Monitors}}{{.}}{{end}}")},
		"files/plain.tmpl":  {Data: []byte("x")},
		"values/plain.yaml": {Data: []byte("a: 1\n")},
	}
	body := "  components:\n    - name: a\n      values: [{path: values/spin.yaml, template: true}, {path: values/grow.yaml, template: true}, {path: values/fine.yaml, template: true}]\n" +
		"      files: [{path: files/spin.tmpl, template: true}, {path: files/fine.tmpl, template: true}]\n"
	s, err := manifest.ParseFS(fsys, "m/stack.yaml", []byte(stack(body)))
	if err != nil {
		t.Fatal(err)
	}
	err = Check(s)
	if err == nil {
		t.Fatal("Lint accepted unbounded templates")
	}
	msg := err.Error()
	for _, want := range []string{
		"values/spin.yaml:2:", "values/grow.yaml:2:", "files/spin.tmpl: template spin.tmpl:3:",
		"MaxTemplateRange", "MaxTemplateString",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("lint's error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "fine") {
		t.Errorf("lint refused a bounded template:\n%s", msg)
	}
}
