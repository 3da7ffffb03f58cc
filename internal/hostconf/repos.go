package hostconf

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// HostCA is where a host keeps the site CA certificate (EL's trust anchors).
const HostCA = "/etc/pki/ca-trust/source/anchors/appliance-site-ca.crt"

// RepoFile is the yum repo file the deployment writes on every host.
const RepoFile = "/etc/yum.repos.d/appliance.repo"

// RepoPrefix starts the id of every yum repo the deployment writes, so
// installs can enable only them: --disablerepo='*' --enablerepo='appliance-*'.
const RepoPrefix = "appliance-"

// GPGKeyDir is where the bundled RPM signing keys are kept on a host.
const GPGKeyDir = "/etc/pki/rpm-gpg"

// YumOnly makes yum use the bundle's repos and nothing else, so an offline
// host never waits on an unreachable mirror.
const YumOnly = "--disablerepo='*' --enablerepo='" + RepoPrefix + "*'"

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

// HostKeyPath is where repo id's key name is kept on a host.
func HostKeyPath(id, key string) string {
	return path.Join(GPGKeyDir, "appliance-"+id+"-"+key)
}

// RenderRepoFile is the yum repo file for the bundle's repos, served by the
// site server at seedURL: gpgcheck on with the bundled keys, TLS checked
// against the site CA, and never skipped when unreachable (a broken repo
// must fail the install, not be silently ignored).
func RenderRepoFile(idx *bundle.Index, repos []Repo, seedURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by deploy: the yum repositories of bundle %s %s, served by the site server.\n", idx.Name, idx.Version)
	fmt.Fprintf(&b, "# Installs use only these: yum %s install ...\n", YumOnly)
	for _, r := range repos {
		var keys []string
		for _, k := range r.Keys {
			keys = append(keys, "file://"+HostKeyPath(r.ID, k))
		}
		fmt.Fprintf(&b, "\n[%s%s]\n", RepoPrefix, r.ID)
		fmt.Fprintf(&b, "name=%s %s: %s\n", idx.Name, idx.Version, r.ID)
		fmt.Fprintf(&b, "baseurl=%s/repos/%s/\n", seedURL, r.ID)
		fmt.Fprintf(&b, "enabled=1\ngpgcheck=1\nrepo_gpgcheck=0\n")
		if len(keys) > 0 {
			fmt.Fprintf(&b, "gpgkey=%s\n", strings.Join(keys, " "))
		}
		fmt.Fprintf(&b, "sslverify=1\nsslcacert=%s\nskip_if_unavailable=0\nmetadata_expire=0\n", HostCA)
	}
	return b.String()
}

// FetchKeyCommand is the host command that fetches RPM key key of repo id
// from the site server at seedURL and imports it. Every value is quoted
// (the repo id and key name come from bundle.json, the URL from the
// inventory), so each stays one word whatever it holds; the id and key are
// also path-escaped in the URL.
func FetchKeyCommand(seedURL, id, key string) string {
	dst := HostKeyPath(id, key)
	src := seedURL + "/repos/" + url.PathEscape(id) + "/keys/" + url.PathEscape(key)
	q := sshx.Quote
	return fmt.Sprintf("mkdir -p -- %s && curl -fsS --max-time 60 --cacert %s -o %s %s && mv -f -- %s %s && rpm --import %s",
		q(GPGKeyDir), q(HostCA), q(dst+".tmp"), q(src), q(dst+".tmp"), q(dst), q(dst))
}
