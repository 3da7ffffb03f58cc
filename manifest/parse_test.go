package manifest

import (
	"cmp"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// testFS is the manifest directory the table tests parse in.
func testFS() fstest.MapFS {
	return fstest.MapFS{
		"files/app.conf":   {Data: []byte("listen = 1\n")},
		"images/list.txt":  {Data: []byte("##core\ncalico/node:v3.26.4\n\n# comment\nbusybox:1.36\n")},
		"images/bad.txt":   {Data: []byte("##x\nok/image:1\nBad/Upper:1\n")},
		"images/words.txt": {Data: []byte("a/b:1 c/d:2\n")},
	}
}

// header is four lines; a body given to stack starts at line 5.
const header = "apiVersion: appliance/v1\nkind: Stack\nmetadata: {name: t, version: \"1\"}\nspec:\n"

func stack(body string) string { return header + body }

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		file string // "" means m.yaml
		line int
		msg  string // substring of the message
		fix  string // substring of the fix
	}{
		{"unknown top-level field", header + "  components: [{name: a}]\nextra: 1\n", "", 6, `unknown field "extra" in the manifest`, "valid fields are"},
		{"unknown field suggests", stack("  components: [{name: a}]\n  registryMirror: {}\n"), "", 6, `unknown field "registryMirror" in spec`, `did you mean "registryMirrors"?`},
		{"unknown field case", stack("  components:\n    - name: a\n      Images: []\n"), "", 7, `unknown field "Images" in a component`, `did you mean "images"? (field names are case-sensitive)`},
		{"unknown field deep", stack("  components:\n    - name: a\n      charts:\n        - {path: c, valuez: [x]}\n"), "", 8, `unknown field "valuez" in a chart entry`, `did you mean "values"?`},
		{"unknown image field", stack("  components:\n    - name: a\n      images:\n        - {ref: a/b:1, key: k}\n"), "", 8, `unknown field "key" in an image entry`, `did you mean "ref"?`},
		{"duplicate key", stack("  components: [{name: a}]\n  platform: linux/amd64\n  platform: linux/arm64\n"), "", 7, `field "platform" appears twice in spec (first at line 6)`, "remove one"},
		{"wrong type list", stack("  components: {name: a}\n"), "", 5, "spec.components must be a list, not a mapping", "write a list there"},
		{"wrong type string", stack("  components:\n    - name: [a]\n"), "", 6, "component name must be a string, not a list", "write a string"},
		{"wrong type bool", stack("  components:\n    - name: a\n      files:\n        - {path: files/app.conf, template: yes}\n"), "", 8, "file template must be true or false, not a string", "write true or false"},
		{"boolean as string", stack("  components:\n    - name: true\n"), "", 6, "component name must be a string, not a boolean", `quote it ("true")`},
		{"pod network installing nothing", stack("  components:\n    - name: a\n      podNetwork: true\n"), "", 7, `component "a" is the pod network but installs nothing`, "manifests: or charts:"},
		{"two pod networks", stack("  components:\n    - {name: a, manifests: [m.yaml], podNetwork: true}\n    - {name: b, manifests: [n.yaml], podNetwork: true}\n"), "", 7, `components "a" and "b" are both the pod network`, "on one component"},
		{"missing apiVersion", "kind: Stack\nmetadata: {name: t, version: \"1\"}\nspec: {components: [{name: a}]}\n", "", 1, `the manifest is missing required field "apiVersion"`, "add apiVersion:"},
		{"unknown apiVersion", "apiVersion: appliance/v2\nkind: Stack\nmetadata: {name: t, version: \"1\"}\nspec: {components: [{name: a}]}\n", "", 1, `unknown apiVersion "appliance/v2"`, "write apiVersion: appliance/v1"},
		{"unknown kind", "apiVersion: appliance/v1\nkind: Manifest\nmetadata: {name: t, version: \"1\"}\nspec: {components: [{name: a}]}\n", "", 2, `unknown kind "Manifest"`, "write kind: Stack"},
		{"missing metadata name", "apiVersion: appliance/v1\nkind: Stack\nmetadata: {version: \"1\"}\nspec: {components: [{name: a}]}\n", "", 3, `metadata is missing required field "name"`, "add name:"},
		{"bad metadata name", "apiVersion: appliance/v1\nkind: Stack\nmetadata: {name: My_Stack, version: \"1\"}\nspec: {components: [{name: a}]}\n", "", 3, `metadata.name "My_Stack" is not a valid name`, "lower-case"},
		{"missing components", stack("  platform: linux/amd64\n"), "", 5, `spec is missing required field "components"`, "add components:"},
		{"empty components", stack("  components: []\n"), "", 5, "spec.components is empty", "add at least one component"},
		{"missing component name", stack("  components:\n    - images: [a/b:1]\n"), "", 6, `component is missing required field "name"`, "add name:"},
		{"duplicate component", stack("  components:\n    - name: a\n    - name: a\n"), "", 7, `component "a" is defined twice (first at m.yaml:6)`, "give each component its own name"},
		{"bad platform os", stack("  platform: windows/amd64\n  components: [{name: a}]\n"), "", 5, `spec.platform "windows/amd64": os "windows" is not supported`, "write os/arch"},
		{"bad platform arch", stack("  platform: linux/x86_64\n  components: [{name: a}]\n"), "", 5, `unknown architecture "x86_64"`, "linux/amd64"},
		{"bad platform shape", stack("  platform: amd64\n  components: [{name: a}]\n"), "", 5, "want os/arch[/variant]", "write os/arch"},
		{"bad platform variant", stack("  platform: linux/arm\n  components: [{name: a}]\n"), "", 5, `variant "" is not valid for arm`, "write os/arch"},
		{"tag contains slash", stack("  components:\n    - name: a\n      images: [app:1.0/extra]\n"), "", 7, `bad image reference "app:1.0/extra": tag "1.0/extra" contains '/'`, "move the '/' into the repository path"},
		{"no tag", stack("  components:\n    - name: a\n      images: [docker.io/library/nginx]\n"), "", 7, "it has no tag or digest", "pin it with a tag"},
		{"upper-case repo", stack("  components:\n    - name: a\n      images: [docker.io/Calico/node:v1]\n"), "", 7, `repository "Calico/node" has upper-case letters`, "write calico/node"},
		{"bad digest", stack("  components:\n    - name: a\n      images: [\"a/b@sha256:abc\"]\n"), "", 7, `digest "sha256:abc" is not sha256:<64 lowercase hex digits>`, "copy the digest exactly"},
		{"bad tag chars", stack("  components:\n    - name: a\n      images: [\"a/b:-x\"]\n"), "", 7, `tag "-x" is invalid`, "a tag is 1-128"},
		{"url scheme in ref", stack("  components:\n    - name: a\n      images: [\"http://r.lan/a:1\"]\n"), "", 7, "it contains a URL scheme", "spec.insecureRegistries"},
		{"bad registry", stack("  components:\n    - name: a\n      images: [\"r_x.lan:99999999/a:1\"]\n"), "", 7, "is not a valid host[:port]", "registry as host"},
		{"duplicate image across components", stack("  components:\n    - name: a\n      images: [docker.io/calico/node:v3.26.4]\n    - name: b\n      images: [calico/node:v3.26.4]\n"), "", 9, `image docker.io/calico/node:v3.26.4 is listed twice: first as "docker.io/calico/node:v3.26.4" at m.yaml:7 (component "a")`, "remove one of them"},
		{"duplicate image via list", stack("  components:\n    - name: a\n      images:\n        - busybox:1.36\n        - {list: images/list.txt}\n"), "images/list.txt", 5, `image docker.io/library/busybox:1.36 is listed twice: first as "busybox:1.36" at m.yaml:8`, "remove one"},
		{"image entry needs one of", stack("  components:\n    - name: a\n      images:\n        - {ref: a/b:1, list: images/list.txt}\n"), "", 8, "exactly one of ref and list", "{ref: IMAGE} or {list: FILE}"},
		{"missing list file", stack("  components:\n    - name: a\n      images:\n        - {list: images/none.txt}\n"), "", 8, "image list images/none.txt", "create the file"},
		{"bad ref in list", stack("  components:\n    - name: a\n      images:\n        - {list: images/bad.txt}\n"), "images/bad.txt", 3, `bad image reference "Bad/Upper:1"`, "repositories are lower-case"},
		{"list line with two words", stack("  components:\n    - name: a\n      images:\n        - {list: images/words.txt}\n"), "images/words.txt", 1, "holds more than one word", ""},
		{"verify without key", stack("  components:\n    - name: a\n      images:\n        - {ref: a/b:1, verify: {}}\n"), "", 8, `image verify is missing required field "key"`, "add key:"},
		{"verify on a local file", stack("  components:\n    - name: a\n      files:\n        - path: files/app.conf\n          verify: {gpgkey: keys/v.asc}\n"), "", 9, "verify is for URL files, and files/app.conf is a local file", "remove verify:"},
		{"verify without gpgkey", stack("  components:\n    - name: a\n      files:\n        - url: https://h/x.tgz\n          verify: {signature: \"https://h/x.tgz.sig\"}\n"), "", 9, `file verify is missing required field "gpgkey"`, "add gpgkey:"},
		{"verify gpgkey URL", stack("  components:\n    - name: a\n      files:\n        - url: https://h/x.tgz\n          verify: {gpgkey: \"https://h/key.asc\"}\n"), "", 9, `verify.gpgkey "https://h/key.asc" is a URL`, "ship the signer's public key"},
		{"verify gpgkey escapes", stack("  components:\n    - name: a\n      files:\n        - url: https://h/x.tgz\n          verify: {gpgkey: ../key.asc}\n"), "", 9, `verify.gpgkey "../key.asc" escapes`, "'../' is not allowed"},
		{"verify signature scheme", stack("  components:\n    - name: a\n      files:\n        - url: https://h/x.tgz\n          verify: {gpgkey: k.asc, signature: \"ftp://h/x.tgz.asc\"}\n"), "", 9, `verify.signature "ftp://h/x.tgz.asc" has scheme "ftp"`, "use one of http, https"},
		{"verify bad fingerprint", stack("  components:\n    - name: a\n      files:\n        - url: https://h/x.tgz\n          verify: {gpgkey: k.asc, fingerprint: 644FF454C0B4115C}\n"), "", 9, `verify.fingerprint "644FF454C0B4115C" is not an OpenPGP fingerprint`, "40 hex digits"},
		{"verify unknown field", stack("  components:\n    - name: a\n      files:\n        - url: https://h/x.tgz\n          verify: {key: k.asc}\n"), "", 9, `unknown field "key" in file verify`, "valid fields are gpgkey, signature, fingerprint"},
		{"verify not a mapping", stack("  components:\n    - name: a\n      files:\n        - url: https://h/x.tgz\n          verify: k.asc\n"), "", 9, "file verify must be a mapping, not a string", "write a mapping"},
		{"bad sha256", stack("  components:\n    - name: a\n      files:\n        - {url: \"http://h/x\", sha256: abc123}\n"), "", 8, `sha256 "abc123" is not 64 hex digits`, "sha256sum"},
		{"file needs path or url", stack("  components:\n    - name: a\n      files:\n        - {template: true}\n"), "", 8, "exactly one of path and url", "give either path:"},
		{"file url scheme", stack("  components:\n    - name: a\n      files:\n        - {url: \"ftp://h/x\", sha256: " + strings.Repeat("a", 64) + "}\n"), "", 8, `has scheme "ftp"`, "use one of http, https"},
		{"url template", stack("  components:\n    - name: a\n      files:\n        - {url: \"http://h/x\", sha256: " + strings.Repeat("a", 64) + ", template: true}\n"), "", 8, "a URL file cannot be a template", "local"},
		{"url with credentials", stack("  components:\n    - name: a\n      files:\n        - {url: \"http://u:p@h/x\", sha256: " + strings.Repeat("a", 64) + "}\n"), "", 8, "holds credentials", "remove the credentials"},
		{"url without file name", stack("  components:\n    - name: a\n      files:\n        - {url: \"http://h/\", sha256: " + strings.Repeat("a", 64) + "}\n"), "", 8, "file http://h/ has no file name", "point the URL at a file"},
		{"duplicate file name", stack("  components:\n    - name: a\n      files: [files/app.conf, files/app.conf]\n"), "", 7, `file name "app.conf" is used twice in component "a"`, "rename one"},
		{"path escapes", stack("  components:\n    - name: a\n      files: [../secret]\n"), "", 7, `file path "../secret" escapes the manifest's directory`, "'../' is not allowed"},
		{"path escapes after clean", stack("  components:\n    - name: a\n      values: [values/../../x.yaml]\n"), "", 7, "escapes the manifest's directory", "'../' is not allowed"},
		{"absolute path", stack("  components:\n    - name: a\n      manifests: [/etc/passwd]\n"), "", 7, `manifests entry "/etc/passwd" is absolute`, "relative to the manifest's directory"},
		{"chart two sources", stack("  components:\n    - name: a\n      charts:\n        - {path: c, oci: \"oci://h/c\", version: 1}\n"), "", 8, "needs exactly one source, found 2", "{name, repo}"},
		{"chart no source", stack("  components:\n    - name: a\n      charts:\n        - {version: 1}\n"), "", 8, "needs exactly one source, found 0", "{oci}"},
		{"chart name without repo", stack("  components:\n    - name: a\n      charts:\n        - {name: x, version: 1}\n"), "", 8, "needs both name and repo", "{path}"},
		{"chart missing version", stack("  components:\n    - name: a\n      charts:\n        - {oci: \"oci://127.0.0.1:5000/charts/harbor\"}\n"), "", 8, "a remote chart needs a version", "add version:"},
		{"local chart with version", stack("  components:\n    - name: a\n      charts:\n        - {path: charts/x, version: 1.0.0}\n"), "", 8, "a local chart cannot pin a version", "read from its Chart.yaml"},
		{"chart oci scheme", stack("  components:\n    - name: a\n      charts:\n        - {oci: \"127.0.0.1:5000/charts/harbor\", version: 1}\n"), "", 8, "does not start with oci://", "oci://host"},
		{"chart oci tag", stack("  components:\n    - name: a\n      charts:\n        - {oci: \"oci://h.lan/charts/harbor:1.0\", version: 1}\n"), "", 8, "has a tag", "version:"},
		{"rpm repo without key", stack("  rpmRepos:\n    - {id: base, baseurl: \"http://127.0.0.1:8082/el7\"}\n  components: [{name: a}]\n"), "", 6, `rpm repo "base" checks signatures (gpgcheck is on by default) but names no gpgkey`, "gpgcheck: false"},
		{"rpm repo bad url", stack("  rpmRepos:\n    - {id: base, baseurl: \"127.0.0.1:8082/el7\", gpgcheck: false}\n  components: [{name: a}]\n"), "", 6, `rpm repo baseurl "127.0.0.1:8082/el7" is not a valid URL`, "write a URL"},
		{"rpm repo duplicate id", stack("  rpmRepos:\n    - {id: base, baseurl: \"file:///r\", gpgcheck: false}\n    - {id: base, baseurl: \"file:///s\", gpgcheck: false}\n  components: [{name: a}]\n"), "", 7, `rpm repo id "base" is used twice (first at m.yaml:6)`, "its own id"},
		{"rpm glob", stack("  components:\n    - name: a\n      rpms: [\"kube*\"]\n"), "", 7, `rpm "kube*" is not a valid package name`, "without globs"},
		{"rpm file not rpm", stack("  components:\n    - name: a\n      rpmFiles: [extra/x.tar]\n"), "", 7, `rpmFiles entry "extra/x.tar" is not an .rpm file`, "name an .rpm"},
		{"mirror with scheme", stack("  registryMirrors: {docker.io: \"http://127.0.0.1:5000\"}\n  components: [{name: a}]\n"), "", 5, `mirror "http://127.0.0.1:5000" has a URL scheme`, "write host[:port][/path]"},
		{"mirror key with path", stack("  registryMirrors: {docker.io/library: \"127.0.0.1:5000\"}\n  components: [{name: a}]\n"), "", 5, `registry "docker.io/library" has a path`, "write only host[:port]"},
		{"mirror duplicate alias", stack("  registryMirrors:\n    docker.io: a.lan\n    index.docker.io: b.lan\n  components: [{name: a}]\n"), "", 7, "registry docker.io has a second mirror (first at line 6)", "one mirror per registry"},
		{"insecure registry with scheme", stack("  insecureRegistries: [\"http://r.lan\"]\n  components: [{name: a}]\n"), "", 5, "has a URL scheme", "host[:port]"},
		{"verify rule duplicate", stack("  verify:\n    - {registry: docker.io, key: k.pub}\n    - {registry: index.docker.io, key: j.pub}\n  components: [{name: a}]\n"), "", 7, "registry docker.io has a second verify rule", "one key per registry"},
		{"allow missing bad", stack("  components:\n    - name: a\n      allowMissingImages: [\"Foo/Bar\"]\n"), "", 7, `bad image reference "Foo/Bar"`, "lower-case"},
		{"anchor", stack("  components:\n    - &c {name: a}\n"), "", 6, "YAML anchors and aliases are not supported", "write the value out"},
		{"syntax error", stack("  components:\n    - name: a\n     bad: [\n"), "", 5, "invalid YAML", "fix the YAML syntax"},
		{"two documents", stack("  components: [{name: a}]\n---\nfoo: 1\n"), "", 6, "more than one YAML document", "remove the '---'"},
		{"empty", "", "", 0, "manifest is empty", "start with apiVersion"},
		{"not a mapping", "- a\n- b\n", "", 1, "the manifest must be a mapping, not a list", "write a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFS(testFS(), "m.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error for:\n%s", tt.yaml)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, not ErrorList: %v", err, err)
			}
			for _, e := range list {
				if e.Pos.File == cmp.Or(tt.file, "m.yaml") && e.Pos.Line == tt.line && strings.Contains(e.Msg, tt.msg) && strings.Contains(e.Fix, tt.fix) {
					return
				}
			}
			t.Errorf("want an error at %s:%d containing %q with fix %q; got:\n%v", cmp.Or(tt.file, "m.yaml"), tt.line, tt.msg, tt.fix, err)
		})
	}
}

// TestFileVerify: a URL file may omit sha256 (bundle lock pins it) and may
// require a detached OpenPGP signature, by default at its URL + ".asc".
func TestFileVerify(t *testing.T) {
	const fp = "7722 D168 DAEC 4578 06C9  6FF9 644F F454 C0B4 115C"
	s, err := ParseFS(testFS(), "m.yaml", []byte(stack(`  components:
    - name: a
      files:
        - url: https://h/rel/x.tgz
          verify: {gpgkey: ./keys/x.asc, fingerprint: "`+fp+`"}
        - url: "https://h/dl?f=y.tgz"
          verify: {gpgkey: keys/y.asc}
        - url: https://h/z.tgz
          verify: {gpgkey: keys/y.asc, signature: "https://sigs.h/z.tgz.sig"}
        - url: https://h/plain.tgz
`)))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		sha, key, sig, fp string
		verify            bool
	}{
		{"", "keys/x.asc", "https://h/rel/x.tgz.asc", "7722D168DAEC457806C96FF9644FF454C0B4115C", true},
		{"", "keys/y.asc", "https://h/dl.asc?f=y.tgz", "", true},
		{"", "keys/y.asc", "https://sigs.h/z.tgz.sig", "", true},
		{"", "", "", "", false},
	}
	files := s.Files()
	if len(files) != len(want) {
		t.Fatalf("%d files, want %d", len(files), len(want))
	}
	for i, w := range want {
		f := files[i]
		if f.SHA256 != w.sha || (f.Verify != nil) != w.verify {
			t.Errorf("file %d: sha256 %q, verify %+v", i, f.SHA256, f.Verify)
			continue
		}
		if v := f.Verify; v != nil && (v.Key != w.key || v.Signature != w.sig || v.Fingerprint != w.fp || v.Pos.Line == 0) {
			t.Errorf("file %d: verify %+v, want key %s, signature %s, fingerprint %s", i, v, w.key, w.sig, w.fp)
		}
	}
}
