package deploy

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// RepoFile is the yum repo file the deployment writes on every host.
const RepoFile = "/etc/yum.repos.d/appliance.repo"

// RepoPrefix starts the id of every yum repo the deployment writes, so
// installs can enable only them: --disablerepo='*' --enablerepo='appliance-*'.
const RepoPrefix = "appliance-"

// gpgKeyDir is where the bundled RPM signing keys are kept on a host.
const gpgKeyDir = "/etc/pki/rpm-gpg"

// yumOnly makes yum use the bundle's repos and nothing else, so an offline
// host never waits on an unreachable mirror.
const yumOnly = "--disablerepo='*' --enablerepo='" + RepoPrefix + "*'"

// Repo is one yum repository of the bundle.
type Repo struct {
	ID   string   // the directory under repos/
	Keys []string // file names under repos/<id>/keys/
}

// BundleRepos lists the yum repositories in the bundle index, sorted by id:
// every repos/<id>/ that has repodata/repomd.xml.
func BundleRepos(idx *bundle.Index) []Repo {
	byID := map[string]*Repo{}
	hasMD := map[string]bool{}
	for _, a := range idx.Artifacts {
		rest, ok := strings.CutPrefix(a.Path, "repos/")
		if !ok {
			continue
		}
		id, sub, ok := strings.Cut(rest, "/")
		if !ok || id == "" {
			continue
		}
		r := byID[id]
		if r == nil {
			r = &Repo{ID: id}
			byID[id] = r
		}
		switch {
		case sub == "repodata/repomd.xml":
			hasMD[id] = true
		case strings.HasPrefix(sub, "keys/") && !strings.Contains(sub[len("keys/"):], "/"):
			r.Keys = append(r.Keys, sub[len("keys/"):])
		}
	}
	var out []Repo
	for id, r := range byID {
		if hasMD[id] {
			sort.Strings(r.Keys)
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// hostKeyPath is where repo id's key name is kept on a host.
func hostKeyPath(id, key string) string {
	return path.Join(gpgKeyDir, "appliance-"+id+"-"+key)
}

// RenderRepoFile is the yum repo file for the bundle's repos, served by the
// site server at seedURL: gpgcheck on with the bundled keys, TLS checked
// against the site CA, and never skipped when unreachable (a broken repo
// must fail the install, not be silently ignored).
func RenderRepoFile(idx *bundle.Index, repos []Repo, seedURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by deploy: the yum repositories of bundle %s %s, served by the site server.\n", idx.Name, idx.Version)
	fmt.Fprintf(&b, "# Installs use only these: yum %s install ...\n", yumOnly)
	for _, r := range repos {
		var keys []string
		for _, k := range r.Keys {
			keys = append(keys, "file://"+hostKeyPath(r.ID, k))
		}
		fmt.Fprintf(&b, "\n[%s%s]\n", RepoPrefix, r.ID)
		fmt.Fprintf(&b, "name=%s %s: %s\n", idx.Name, idx.Version, r.ID)
		fmt.Fprintf(&b, "baseurl=%s/repos/%s/\n", seedURL, r.ID)
		fmt.Fprintf(&b, "enabled=1\ngpgcheck=1\nrepo_gpgcheck=0\n")
		if len(keys) > 0 {
			fmt.Fprintf(&b, "gpgkey=%s\n", strings.Join(keys, " "))
		}
		fmt.Fprintf(&b, "sslverify=1\nsslcacert=%s\nskip_if_unavailable=0\nmetadata_expire=0\n", hostCA)
	}
	return b.String()
}

// repos installs the site CA in the host's trust store, fetches the bundled
// RPM signing keys from the site server, writes RepoFile and checks that
// yum reads the repos. Idempotent: every file is replaced whole.
func (d *Deployment) repos(ctx context.Context, h *remote) error {
	if err := h.put(ctx, hostCA, d.caCert(), 0o644); err != nil {
		return err
	}
	if err := h.sh(ctx, "update-ca-trust extract"); err != nil {
		return err
	}
	repos := BundleRepos(d.index)
	if len(repos) == 0 {
		plan.Logf(ctx, "the bundle has no yum repositories; nothing to point yum at")
		return nil
	}
	for _, r := range repos {
		for _, k := range r.Keys {
			if err := d.fetchKey(ctx, h, r.ID, k); err != nil {
				return err
			}
		}
	}
	if err := h.put(ctx, RepoFile, []byte(RenderRepoFile(d.index, repos, d.seedURL())), 0o644); err != nil {
		return err
	}
	if err := h.sh(ctx, "yum -y -q "+yumOnly+" clean expire-cache && yum -y -q "+yumOnly+" makecache"); err != nil {
		return fmt.Errorf("yum cannot read the bundle's repos from %s: %w", d.seedURL(), err)
	}
	plan.Logf(ctx, "yum uses %d repo(s) from %s", len(repos), d.seedURL())
	return nil
}

// fetchKey downloads one RPM signing key from the site server over TLS
// (trusting the site CA) and imports it into the rpm database.
func (d *Deployment) fetchKey(ctx context.Context, h *remote, id, key string) error {
	if err := h.sh(ctx, fetchKeyCommand(d.seedURL(), id, key)); err != nil {
		return fmt.Errorf("fetching RPM key %s of repo %s from the site server: %w", key, id, err)
	}
	return nil
}

// fetchKeyCommand is the host command of fetchKey. Every value is quoted
// (the repo id and key name come from bundle.json, the URL from the
// inventory), so each stays one word whatever it holds; the id and key are
// also path-escaped in the URL.
func fetchKeyCommand(seedURL, id, key string) string {
	dst := hostKeyPath(id, key)
	src := seedURL + "/repos/" + url.PathEscape(id) + "/keys/" + url.PathEscape(key)
	q := sshx.Quote
	return fmt.Sprintf("mkdir -p -- %s && curl -fsS --max-time 60 --cacert %s -o %s %s && mv -f -- %s %s && rpm --import %s",
		q(gpgKeyDir), q(hostCA), q(dst+".tmp"), q(src), q(dst+".tmp"), q(dst), q(dst))
}
