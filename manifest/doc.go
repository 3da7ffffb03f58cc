// Package manifest holds the stack schema (apiVersion appliance/v1, kind
// Stack): parsing with file:line errors, and the stacks embedded in the
// binary (manifest/stacks).
//
// # Using it
//
// Load (a file on disk), ParseFS (any fs.FS) and Builtin (an embedded stack)
// return a *Stack whose every field has been checked. All problems are
// reported at once, as an ErrorList, one "file:line: message; fix" per line.
// Relative paths resolve in the manifest's directory through Stack.FS (use
// Stack.Open), so disk and embedded stacks behave alike.
//
// The sub-packages own the rest, each importing manifest (never the
// reverse), except decode, which manifest imports:
//
//   - manifest/decode: Pos, Error and ErrorList, and the strict YAML node
//     decoder that reports every problem at its place;
//   - manifest/lint: the offline checks of the local files a manifest
//     names (lint.Check) and the unmarked-template warnings;
//   - manifest/template: the template language, its bounded Render, and
//     the data a template sees;
//   - manifest/lock: the lock file `bundle lock` writes, and drift.
//
// # The manifest
//
// Every field is listed here; any other field, at any level, is an error.
// Paths are relative to the manifest's directory and may not leave it
// (absolute paths and "../" are refused). YAML anchors, aliases and merge
// keys are refused, and a file holds exactly one document.
//
//	apiVersion: appliance/v1        # required, exactly this
//	kind: Stack                     # required, exactly this
//	metadata:
//	  name: demo                    # required; lower-case letters, digits, '-' (≤63)
//	  version: 0.1.0                # required; letters, digits, '.', '-', '+', '_'
//	  description: text             # optional
//	spec:
//	  platform: linux/amd64         # os/arch[/variant]; default linux/amd64; os must be linux
//	  allPlatforms: false           # true: keep every platform of multi-platform images, so their
//	                                # index digests survive a push into Harbor (costs every platform's layers)
//	  registryMirrors:              # source registry → mirror host[:port][/path]
//	    docker.io: 127.0.0.1:5000   # images keep their canonical names; only fetches go here
//	  insecureRegistries:           # hosts other than loopback allowed over plain HTTP (registries, chart and RPM repositories, file URLs)
//	    - registry.lan:5000
//	  verify:                       # cosign signature required for every image of a registry
//	    - {registry: docker.io, key: keys/vendor.pub}
//	  rpmRepos:                     # upstream yum repos, in priority order (first wins)
//	    - id: base                  # required, unique; letters, digits, '.', '_', '-'
//	      baseurl: http://127.0.0.1:8082/el7/base  # required; http, https or file URL
//	      gpgkey: keys/RPM-GPG-KEY-base  # a path or http(s)/file URL, or a list of them
//	      gpgcheck: true            # default true; then gpgkey is required
//	  rpmBase: rpms/centos7-minimal.txt  # packages assumed installed on the hosts
//	  components:                   # required, at least one
//	    - name: core                # required, unique; lower-case letters, digits, '-'
//	      roles: [master, worker]   # hosts that install this component's rpms (master, worker, registry)
//	      images:
//	        - 127.0.0.1:5000/library/app:1.0           # a reference
//	        - {ref: docker.io/calico/node:v3.26.4, verify: {key: keys/calico.pub}}
//	        - {list: images/kubesphere-v3.4.1.txt}      # an image list file
//	      files:
//	        - path: files/app.conf                     # a local file
//	          sha256: <64 hex>                         # optional (lint.Check checks it)
//	        - url: https://example.com/tool.tar.gz     # a remote file (http or https)
//	          sha256: <64 hex>                         # optional: without it, `bundle lock` pins it
//	          verify:                                  # optional: require the upstream's OpenPGP signature
//	            gpgkey: keys/vendor.asc                # required; the signer's armored public key, a path
//	            signature: https://example.com/tool.tar.gz.asc  # default: the url + ".asc"
//	            fingerprint: <40 hex>                  # optional: the one key of gpgkey trusted
//	        - {path: templates/kubeadm.yaml.tmpl, template: true}
//	        - files/short.conf                         # a string is a path
//	      rpms: [keepalived, haproxy-1.5.18]           # name, or name-version[-release]
//	      rpmFiles: [extra/custom-agent-1.0-1.x86_64.rpm]
//	      charts:
//	        - {name: kube-prometheus-stack, repo: http://127.0.0.1:8081/charts, version: "45.x"}
//	        - {oci: oci://127.0.0.1:5000/charts/harbor, version: 1.14.0}
//	        - {path: charts/factory-app}
//	      values: [values/monitoring.yaml]             # Helm values for every chart of the component
//	      manifests: [manifests/calico.yaml]           # plain Kubernetes manifests
//	      allowMissingImages: [docker.io/library/busybox:1.36]
//	      podNetwork: true   # this component is the cluster's CNI (at most one)
//
// # Images
//
// An image entry is a reference string, {ref: REF, verify: {key: PUB}}, or
// {list: FILE, verify: {key: PUB}}. References must be pinned by a tag, a
// digest (sha256 only) or both; an implicit :latest is refused because it
// cannot be reproduced. The registry may be omitted and then means Docker
// Hub, because KubeSphere's image lists are written that way. Each image
// keeps its reference as written (its name in the bundle and its lock key)
// and a canonical form: "calico/node:v3.26.4" → "docker.io/calico/node:v3.26.4",
// "busybox:1.36" → "docker.io/library/busybox:1.36", and "index.docker.io"
// is written "docker.io". An image listed twice anywhere in the stack, even
// spelled differently, is an error that names the first place.
//
// An image list file is KubeSphere's images-list.txt format: one reference
// per line, "##name" lines starting a section, "#" comments and blank lines
// (ParseImageList). Its images belong to the component that names it, and
// errors point at the list file's own lines.
//
// Signatures: an image's verify key is its entry's verify.key, else the key
// of the spec.verify rule for its registry, else none (ImageRef.VerifyKey).
//
// # Files and templates
//
// A file is a local path or an http(s) URL. Files of one component must
// have distinct base names. The bundle stores a component's file as
// files/<component>/<name>, and at the site the site server serves it at
// https://<deploy node>:5443/files/<component>/<name> (hosts reach it as
// seed.appliance.internal once /system ran) while deploy or deploy serve
// runs. deploy places no file on a host: it reads one file itself (Harbor's
// offline installer, harbor-offline-installer-*.tgz, which /harbor
// installs); for the others, a host fetches what it needs from the site
// server (curl https://seed.appliance.internal:5443/files/..., trusting the
// site CA that /repos installs). A workload's configuration belongs in the
// cluster instead: a manifest (a ConfigMap or Secret) or a chart's values,
// which /stack applies and which may be templates.
//
// Values files and manifests with template: true are Go text/template,
// rendered in /stack with the site inventory (template.Data, package
// manifest/template) and stored unrendered in the bundle; they must be
// local. Missing keys are errors; the functions available are those of
// template.Funcs. A file (files:) may
// be marked template: true too: lint and build then check it by rendering
// it with sample data, but the site server serves it as written.
//
// A URL file is pinned like an image's tag. With sha256, every download
// must hash to it. Without, `bundle lock` downloads the file and records
// its sha256 and size in the lock; `bundle build --locked` then accepts
// only those bytes (other bytes, or more of them, are a drift naming the
// file), and an unlocked build downloads the file, hashes it as it is
// written and records that digest in bundle.json. Downloads stream into
// the content cache (never into memory), bounded by the locked size, or
// else by urlfile.MaxFileSize (internal/build/urlfile).
//
// verify requires a URL file to carry a detached OpenPGP signature, as
// upstreams publish one beside each release asset (Harbor's
// "<asset>.asc"): signature is its URL (default: the file's URL with
// ".asc" appended to the path), gpgkey the signer's armored public key
// (`gpg --armor --export KEYID`), which must be a path in the manifest's
// tree, never a URL: a key fetched beside the file would prove nothing.
// fingerprint, the primary key fingerprint as `gpg --fingerprint` prints
// it (spaces allowed), restricts the trusted keys to that one, and `bundle
// lint` refuses a gpgkey file that lacks it. verify is for URL files only.
// `bundle lock` and every build check the signature against the bytes
// (also when the cache already holds them) before the file is used, and
// fail naming the file, the key and the fix when it is missing, is not a
// signature, does not match, or was made by another key.
//
// # Charts
//
// A chart entry has exactly one source: name + repo (a Helm chart repository
// URL), oci (oci://host/path/chart) or path (a local chart directory). Remote
// charts need version, an exact version or a constraint; local charts take
// theirs from Chart.yaml and may not set one. Optional: release (default
// the chart's name), namespace (default the component's name) and values
// (files applied after the component's values).
//
// # RPMs
//
// rpms names packages whose dependency closure the bundle carries; packages
// in rpmBase (one name per line, '#' comments) satisfy requirements but are
// not bundled. rpmFiles are local .rpm files added as they are.
//
// # The lock file
//
// `bundle lock` pins every remote artifact of a stack in a lock file next
// to the manifest; package manifest/lock owns its format and its checks.
//
// # Built-in stacks
//
// manifest/stacks/*.yaml are embedded in the binary (Builtin, BuiltinNames)
// with the files they name. "demo" is the stack `make demo` builds: fixture
// images under registry.factory.example, mirrored to 127.0.0.1:5000.
package manifest
