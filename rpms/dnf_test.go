package rpms

import (
	"cmp"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/rpms/repodata"
	"github.com/factory-appliance/appliance/rpms/rpmfile"
)

// TestDNFInstallsClosure is the real-client check: the closure, laid out as
// a repository with our repodata, installs with Debian's dnf from that
// repository alone, with gpgcheck on and the fixture key.
func TestDNFInstallsClosure(t *testing.T) {
	if _, err := exec.LookPath("dnf"); err != nil {
		t.Fatal("this test needs dnf: install the Debian package dnf")
	}
	requests := []string{"chain-a", "cron-lite", "foo-viewer", "foo-wrapper", "app-v", "rich-dep", "extra-tool", "epoch-pkg"}
	store, set, fetched, err := resolveAndDownloadTo(t, fixtureDir, requests...)
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(t.TempDir(), "repo")
	layoutRepo(t, store, repoDir, fetched)
	pkgs, err := RepoPackages(store, fetched)
	if err != nil {
		t.Fatal(err)
	}
	if err := repodata.Write(repoDir, pkgs, repodata.Options{}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	key := filepath.Join(fixtureDir, "keys", "RPM-GPG-KEY-fixture")
	out, err := dnfInstall(t, root, repoDir, key, requests)
	if err != nil {
		t.Fatalf("dnf install: %v\n%s", err, out)
	}
	q, err := exec.Command("rpm", "--root", root, "-qa", "--qf", "%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\n").Output()
	if err != nil {
		t.Fatal(err)
	}
	installed := string(q)
	for _, p := range set {
		want := p.Name + "-" + cmp.Or(p.Epoch, "0") + ":" + p.Version + "-" + p.Release + "." + p.Arch
		if !strings.Contains(installed, want+"\n") {
			t.Errorf("%s not installed; rpm -qa:\n%s", want, installed)
		}
	}
}

// TestDNFRefusesOtherKey checks that the dnf setup above really enforces
// signatures: a package signed with the other key is refused.
func TestDNFRefusesOtherKey(t *testing.T) {
	repoDir := filepath.Join(t.TempDir(), "repo")
	if err := os.MkdirAll(filepath.Join(repoDir, "Packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(fixtureDir, "updates", "badsig-1.0-1.noarch.rpm")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(repoDir, "Packages", filepath.Base(src)), b, 0o644)
	pkgs, err := rpmfile.ReadPackagesDir(repoDir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := repodata.Write(repoDir, pkgs, repodata.Options{}); err != nil {
		t.Fatal(err)
	}
	out, err := dnfInstall(t, t.TempDir(), repoDir, filepath.Join(fixtureDir, "keys", "RPM-GPG-KEY-fixture"), []string{"badsig"})
	if err == nil {
		t.Fatalf("dnf installed a package signed by an untrusted key:\n%s", out)
	}
	if !strings.Contains(strings.ToLower(out), "gpg") {
		t.Fatalf("dnf failed, but not on the signature:\n%s", out)
	}
}

func dnfInstall(t *testing.T, root, repoDir, key string, pkgs []string) (string, error) {
	args := []string{
		"-y", "--installroot=" + root, "--releasever=7", "--forcearch=x86_64",
		"--setopt=reposdir=/nonexistent", "--setopt=cachedir=" + filepath.Join(root, ".dnf-cache"),
		"--setopt=install_weak_deps=0", "--nodocs", "--disablerepo=*",
		"--repofrompath=b,file://" + repoDir, "--setopt=b.gpgcheck=1", "--setopt=b.gpgkey=file://" + key,
		"install",
	}
	cmd := exec.Command("dnf", append(args, pkgs...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// layoutRepo copies the fetched packages from the cache to dir/Packages, as
// the bundle writer lays out repos/<id>/.
func layoutRepo(t *testing.T, store *cas.Store, dir string, fetched []Fetched) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "Packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range fetched {
		rc, _, err := store.Open(f.Digest)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, "Packages", f.FileName())
		out, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(out, rc)
		rc.Close()
		out.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}
