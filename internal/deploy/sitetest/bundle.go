// Package sitetest builds the fixture bundles the deploy tests deploy, and
// (build tag "site") runs the deployer end to end on the air-gapped test site
// of scripts/site (see scripts/site-test.sh).
//
// WriteBundle makes small synthetic bundles for the deploy package's unit
// tests (entries that need not be real RPMs, chosen annotations): it copies
// every entry of an optional base bundle, each verified as it is read, adds
// the given files, and signs the new bundle.json. The site test deploys a
// bundle made by `bundle build` instead.
//
// # The site test
//
// site_test.go (go test -tags site, driven by scripts/site-test.sh, which
// prepares its inputs) deploys a bundle made by `bundle build` (the demo
// images, the closure of signed fixture RPMs with each role's packages)
// onto the test site and checks, in this order:
//
//   - --dry-run lists every host's commands and changes neither a host nor
//     the state directory;
//   - an empty known_hosts refuses every host, showing each key's fingerprint;
//   - without --test-site-hosts, preflight refuses the Debian hosts, all three
//     reported in one run, and names the flag (the hosts carry the
//     test-site marker);
//   - SIGKILL as soon as each phase starts (the journal shows it in_progress),
//     in turn, each in a deployment started over: --resume completes, and the
//     hosts end in the same state every time (/verify is made long enough to
//     be hit by a padding entry);
//   - a host cut off during /packages: its phase fails after its attempts
//     with an error naming it, the others complete, --resume completes once
//     it is back;
//   - an uninterrupted deploy on a fresh site leaves the hosts exactly as the
//     interrupted ones (files, packages, services);
//   - on the hosts: the role packages installed by dnf from the served repo
//     (from_repo appliance-fixture), /etc/hosts, host names, chrony, haproxy
//     listening on the VIP and passing haproxy -c, keepalived's config test,
//     the VIP on master-1 alone, containerd running, and an image pulled on a
//     host through the hosts.toml mirror to the seed (ctr --hosts-dir: the
//     CRI plugin reads the same files through config_path, which only kubelet
//     exercises, and kubelet cannot run on the test site);
//   - forcing /ha and /containerd again restarts no service (same main PIDs)
//     and leaves the VIP where it was;
//   - no log, journal or output holds the sudo password of the non-root
//     user (worker-1 is reached as "admin" through sudo). It is the only
//     secret these phases use: SSH is by key and the seed has no login.
//
// Nothing is faked: sshd, dnf, rpm, haproxy, keepalived, containerd and
// chrony are Debian's real programs (scripts/site/README.md).
package sitetest

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/signing"
)

// File is one entry to add to a bundle.
type File struct {
	Path string // bundle path, such as repos/fixture/Packages/x-1-1.noarch.rpm
	Kind string // bundle.KindRPM, KindRepodata, KindKey, KindFile...
	Data []byte
}

// Spec is what WriteBundle writes.
type Spec struct {
	// Base is a bundle file whose entries (and index fields) are copied;
	// empty starts from an empty OCI layout.
	Base string
	// Files are added after the base's entries.
	Files []File
	// Component, when set, is a component added to the index listing the
	// RPM package names of Files.
	Component string
	// Annotations are merged into the index's.
	Annotations map[string]string
	// Signer signs bundle.json; nil leaves the bundle unsigned.
	Signer *signing.Signer
}

// WriteBundle writes the bundle described by s to path, atomically (a
// temporary file renamed into place).
func WriteBundle(path string, s Spec) (err error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bundle.NewWriter(f)
	idx, err := addAll(w, s)
	if err != nil {
		w.Abort()
		return err
	}
	raw, err := idx.Marshal()
	if err != nil {
		w.Abort()
		return err
	}
	var sig []byte
	if s.Signer != nil {
		if sig, err = s.Signer.SignBlob(raw); err != nil {
			w.Abort()
			return err
		}
	}
	if err := w.Finish(raw, sig); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func addAll(w *bundle.Writer, s Spec) (*bundle.Index, error) {
	idx := &bundle.Index{SchemaVersion: bundle.SchemaVersion, Name: "fixture", Version: "0.0.0", Platform: "linux/amd64"}
	if s.Base != "" {
		r, err := bundle.Open(s.Base)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		base := *r.Index()
		idx = &base
		idx.Artifacts = nil
		if err := copyEntries(w, r, idx); err != nil {
			return nil, err
		}
	} else if err := addLayout(w, idx); err != nil {
		return nil, err
	}
	for _, f := range s.Files {
		e, err := w.Add(f.Path, int64(len(f.Data)), bytes.NewReader(f.Data))
		if err != nil {
			return nil, err
		}
		idx.Artifacts = append(idx.Artifacts, e.Artifact(f.Kind, filepath.Base(f.Path)))
	}
	if s.Component != "" {
		idx.Components = append(idx.Components, bundle.Component{Name: s.Component, RPMs: rpmNames(s.Files)})
	}
	if len(s.Annotations) > 0 {
		idx.Annotations = maps.Clone(idx.Annotations)
		if idx.Annotations == nil {
			idx.Annotations = map[string]string{}
		}
		maps.Copy(idx.Annotations, s.Annotations)
	}
	return idx, nil
}

// copyEntries copies every entry of r, in file order, keeping its artifact
// fields; each is verified against its digest as it is read.
func copyEntries(w *bundle.Writer, r *bundle.Reader, idx *bundle.Index) error {
	arts := append([]bundle.Artifact(nil), r.Index().Artifacts...)
	sort.Slice(arts, func(i, j int) bool { return arts[i].Offset < arts[j].Offset })
	for _, a := range arts {
		rc, err := r.Open(a)
		if err != nil {
			return err
		}
		e, err := w.Add(a.Path, a.Size, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("copying %s: %w", a.Path, err)
		}
		n := e.Artifact(a.Kind, a.Name)
		n.MediaType, n.Component, n.Annotations = a.MediaType, a.Component, a.Annotations
		idx.Artifacts = append(idx.Artifacts, n)
	}
	return nil
}

// addLayout writes an empty OCI image layout.
func addLayout(w *bundle.Writer, idx *bundle.Index) error {
	for _, f := range []struct{ path, data string }{
		{"oci-layout", `{"imageLayoutVersion":"1.0.0"}`},
		{"index.json", `{"schemaVersion":2,"manifests":[]}`},
	} {
		e, err := w.Add(f.path, int64(len(f.data)), io.NopCloser(strings.NewReader(f.data)))
		if err != nil {
			return err
		}
		idx.Artifacts = append(idx.Artifacts, e.Artifact(bundle.KindLayout, f.path))
	}
	return nil
}

func rpmNames(files []File) []string {
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f.Path, ".rpm") {
			out = append(out, strings.TrimSuffix(filepath.Base(f.Path), ".rpm"))
		}
	}
	return out
}

// RepoFiles reads a yum repository directory laid out as the bundle wants
// it (Packages/*.rpm, repodata/*, keys/*) into Files under repos/<id>/.
func RepoFiles(dir, id string) ([]File, error) {
	var out []File
	for _, sub := range []struct{ dir, kind string }{
		{"Packages", bundle.KindRPM}, {"repodata", bundle.KindRepodata}, {"keys", bundle.KindKey},
	} {
		ents, err := os.ReadDir(filepath.Join(dir, sub.dir))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, sub.dir, e.Name()))
			if err != nil {
				return nil, err
			}
			out = append(out, File{Path: "repos/" + id + "/" + sub.dir + "/" + e.Name(), Kind: sub.kind, Data: b})
		}
	}
	return out, nil
}
