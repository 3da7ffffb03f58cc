// Package install puts Harbor on the site's registry host and hands the
// nodes over to it: the TLS key made on the host with a certificate from
// the site CA, the bundle's offline installer fetched from the site server,
// checked and unpacked into Dir, harbor.yml, and Harbor's install.sh when
// any of them changed (Install); every image of the bundle pushed in under
// its own name, one public project per source registry (Load); each node's
// containerd mirroring to Harbor, checked by an anonymous read and a pull
// (Mirrors). Each step is idempotent; the host steps take a *remote.Host,
// so they run over SSH and, against a recorder, for --dry-run. harbor.yml
// and the certificate check are internal/harbor's; what the steps need
// beyond the host is an explicit Site. internal/deploy runs them as
// /harbor.
package install

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/harbor"
	"github.com/factory-appliance/appliance/internal/hostconf"
	"github.com/factory-appliance/appliance/internal/hostsetup"
	"github.com/factory-appliance/appliance/internal/inventory"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/progress"
	"github.com/factory-appliance/appliance/internal/push"
	"github.com/factory-appliance/appliance/internal/remote"
	"github.com/factory-appliance/appliance/internal/siteca"
	"github.com/factory-appliance/appliance/internal/sshx"
	"github.com/factory-appliance/appliance/manifest"
)

// Where Harbor lives on the registry host. Harbor's offline installer
// unpacks into harbor/, so it ends up in Dir with harbor.yml beside
// its install.sh, as Harbor's documentation has it.
const (
	Dir     = "/opt/harbor"
	CertDir = "/etc/appliance/harbor"
	stage   = "/opt/appliance"
	marker  = Dir + "/.appliance-installer" // digest of the installer unpacked here
)

// Admin is Harbor's administrator account.
const Admin = "admin"

// URL is where nodes reach Harbor: https://HOSTNAME[:PORT].
func URL(h inventory.Harbor) string {
	if h.Port == 443 || h.Port == 0 {
		return "https://" + h.Hostname
	}
	return "https://" + net.JoinHostPort(h.Hostname, strconv.Itoa(h.Port))
}

// Site is what the steps know beyond the host they run on: explicit
// inputs, read from the inventory, the bundle and the state directory by
// internal/deploy.
type Site struct {
	// Harbor is the inventory's Harbor: hostname, port, data volume.
	Harbor inventory.Harbor
	// Registry is the host Harbor runs on (the registry role).
	Registry inventory.Host
	// Bundle is the verified bundle: its installer, its images (Load).
	Bundle *bundle.Reader
	// Index is Bundle's index.
	Index *bundle.Index
	// SeedURL is the site server's base URL, as hosts reach it.
	SeedURL string
	// State is the state directory: the site CA, and the record of what
	// Load pushed (state.HarborRecord).
	State state.Dir
	// Secrets returns Harbor's admin and database passwords, registered
	// with Redactor; in a dry run it makes none.
	Secrets func(dry bool) (admin, db string, err error)
	// Redactor masks the secrets in Load's log.
	Redactor *sshx.Redactor
}

// LoadDryRun is what Load would do, for --dry-run.
func (s *Site) LoadDryRun() []string {
	return []string{fmt.Sprintf("push every image of the bundle to %s (%s) as %s, trusting only the site CA; "+
		"create a public project per source registry (%s)", s.PushAddr(), URL(s.Harbor), Admin,
		strings.Join(hostconf.SourceRegistries(s.Index), " "))}
}

// PushAddr is where the deploy node pushes: the registry host's
// address (the deploy node's own /etc/hosts may not know Harbor's name;
// Harbor's certificate names both).
func (s *Site) PushAddr() string {
	reg := s.Registry
	return net.JoinHostPort(reg.Address, strconv.Itoa(s.Harbor.Port))
}

// Install installs Harbor on the registry host: its TLS key (made
// there, never leaving it) with a certificate from the site CA, the
// offline installer unpacked into Dir (again only when the bundle's
// differs), harbor.yml, and the installer's ./install.sh, run when any of
// them changed or Harbor does not answer; then Harbor must be healthy.
// Idempotent.
func (s *Site) Install(ctx context.Context, h *remote.Host) error {
	inst, _ := harbor.Installer(s.Index)
	admin, db, err := s.Secrets(h.Dry)
	if err != nil {
		return err
	}
	certChanged, err := s.certificate(ctx, h)
	if err != nil {
		return err
	}
	instChanged, err := s.unpack(ctx, h, inst)
	if err != nil {
		return err
	}
	yml := harbor.RenderYML(harbor.Settings{
		Hostname: s.Harbor.Hostname, Port: s.Harbor.Port,
		Certificate: CertDir + "/tls.crt", PrivateKey: CertDir + "/tls.key",
		AdminPassword: admin, DBPassword: db, DataVolume: s.Harbor.DataVolume,
	})
	ymlChanged, err := h.Install(ctx, Dir+"/harbor.yml", []byte(yml), 0o600, "")
	if err != nil {
		return err
	}
	health := fmt.Sprintf("curl -fsS --max-time 10 --cacert %s %s", sshx.Quote(hostconf.HostCA), sshx.Quote(URL(s.Harbor)+harbor.APIPrefix+"/health"))
	healthy := !h.Dry && h.Sh(ctx, health+" >/dev/null") == nil
	if certChanged || instChanged || ymlChanged || !healthy {
		plan.Logf(ctx, "running Harbor's installer (certificate changed %v, installer changed %v, harbor.yml changed %v, healthy %v)",
			certChanged, instChanged, ymlChanged, healthy)
		// Harbor's installer runs on Docker (docker-ce and its compose
		// plugin, from the stack's RPMs for the registry role): it must be
		// running first.
		if err := h.Sh(ctx, "if command -v docker >/dev/null; then systemctl enable --now docker; fi"); err != nil {
			return fmt.Errorf("starting Docker for Harbor on %s: %w; see journalctl -u docker", h.Host.Name, err)
		}
		if err := h.Sh(ctx, "cd "+Dir+" && ./install.sh"); err != nil {
			return fmt.Errorf("install.sh of Harbor on %s: %w; its output is in this phase's host log", h.Host.Name, err)
		}
	}
	wait := fmt.Sprintf("for i in $(seq 1 150); do %s && exit 0; sleep 2; done; %s", health, health)
	if err := h.Sh(ctx, wait); err != nil {
		return fmt.Errorf("the Harbor on %s does not answer %s after 5 min: %w; see %s/harbor.yml and the installer's logs on the host",
			h.Host.Name, URL(s.Harbor)+harbor.APIPrefix+"/health", err, Dir)
	}
	plan.Logf(ctx, "Harbor answers at %s", URL(s.Harbor))
	return nil
}

// Names are the names Harbor's certificate is for: its hostname
// (nodes) and the registry host's address (the deploy node pushes there).
func (s *Site) Names() []string {
	reg := s.Registry
	return []string{s.Harbor.Hostname, reg.Address}
}

// certificate makes sure the registry host has a TLS key (made there
// by openssl, mode 0600) and a certificate from the site CA for that key
// and harborNames, valid for more than 30 days; otherwise the host makes a
// certificate request and the CA signs it. It reports whether the
// certificate changed. The key names its curve (ec_param_enc:named_curve):
// EL7's OpenSSL 1.0.2 otherwise writes explicit curve parameters, which
// Go's crypto/x509 refuses in the request.
func (s *Site) certificate(ctx context.Context, h *remote.Host) (bool, error) {
	key, crt := CertDir+"/tls.key", CertDir+"/tls.crt"
	mk := fmt.Sprintf("install -d -m 0700 %[1]s && if [ ! -s %[2]s ]; then (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -pkeyopt ec_param_enc:named_curve -out %[2]s.tmp && mv -f %[2]s.tmp %[2]s); fi && openssl req -new -key %[2]s -subj %[3]s",
		CertDir, key, sshx.Quote("/CN="+s.Harbor.Hostname))
	csrPEM, err := h.Out(ctx, mk)
	if err != nil {
		return false, fmt.Errorf("making Harbor's key and certificate request on %s: %w", h.Host.Name, err)
	}
	if h.Dry {
		_ = h.Put(ctx, crt, nil, 0o644)
		return true, nil
	}
	ca, err := siteca.Open(string(s.State))
	if err != nil {
		return false, err
	}
	current, err := h.Out(ctx, "cat "+crt+" 2>/dev/null || true")
	if err != nil {
		return false, err
	}
	if harbor.CertFits(current, csrPEM, ca.CACert(), s.Names(), time.Now()) {
		return false, nil
	}
	certPEM, err := ca.SignCSR([]byte(csrPEM), s.Names())
	if err != nil {
		return false, fmt.Errorf("certificate request for Harbor from %s: %w", h.Host.Name, err)
	}
	if err := h.Put(ctx, crt, certPEM, 0o644); err != nil {
		return false, err
	}
	plan.Logf(ctx, "Harbor's certificate for %s issued by the site CA", strings.Join(s.Names(), ", "))
	return true, nil
}

// unpack fetches the bundle's installer from the seed, checks its
// sha256 and unpacks it into Dir, unless the one there is the same
// (Dir's marker holds its digest). harbor.yml is rewritten after
// this. It reports whether Dir changed.
func (s *Site) unpack(ctx context.Context, h *remote.Host, inst bundle.Artifact) (bool, error) {
	have, err := h.Out(ctx, "cat "+marker+" 2>/dev/null || true")
	if err != nil {
		return false, err
	}
	if have == inst.Digest && !h.Dry {
		return false, nil
	}
	hex := strings.TrimPrefix(inst.Digest, "sha256:")
	tgz := stage + "/" + path.Base(inst.Path)
	q := sshx.Quote
	cmd := fmt.Sprintf(`set -e
install -d -m 0755 %[1]s
curl -fsS --retry 3 --cacert %[2]s -o %[3]s.part %[4]s
echo %[5]s | sha256sum -c --quiet
mv -f %[3]s.part %[3]s
rm -rf %[1]s/unpack && mkdir %[1]s/unpack
tar -xzf %[3]s -C %[1]s/unpack
test -x %[1]s/unpack/harbor/install.sh || { echo "the installer has no harbor/install.sh" >&2; exit 1; }
rm -rf %[6]s && mv %[1]s/unpack/harbor %[6]s && rmdir %[1]s/unpack
echo %[7]s >%[8]s`,
		stage, q(hostconf.HostCA), q(tgz), q(s.SeedURL+"/"+inst.Path), q(hex+"  "+tgz+".part"), Dir, q(inst.Digest), marker)
	if err := h.Sh(ctx, cmd); err != nil {
		return false, fmt.Errorf("unpacking Harbor's installer %s on %s: %w", inst.Path, h.Host.Name, err)
	}
	plan.Logf(ctx, "Harbor's installer %s unpacked into %s", path.Base(inst.Path), Dir)
	return true, nil
}

// Load pushes every image of the bundle into Harbor under its own
// name (HOST/<source registry>/<repository>), manifests byte for byte, so
// digests and signatures hold. Each source registry becomes a public
// Harbor project: the nodes pull anonymously, as they did from the seed
// (pushing still needs the admin password).
func (s *Site) Load(ctx context.Context) error {
	admin, _, err := s.Secrets(false)
	if err != nil {
		return err
	}
	ca, err := siteca.Open(string(s.State))
	if err != nil {
		return err
	}
	w := plan.LogWriter(ctx)
	log := slog.New(slog.NewTextHandler(s.Redactor.Writer(w), nil))
	rep, err := push.Push(ctx, s.Bundle, s.PushAddr(),
		push.WithCAFile(ca.CACertPath()),
		push.WithBasicAuth(Admin, admin),
		push.WithHarbor(push.HarborOn),
		push.WithPublicProjects(true),
		push.WithLogger(log),
		push.WithProgress(s.Redactor.Writer(w), progress.Plain))
	if rep != nil {
		_ = rep.WriteText(s.Redactor.Writer(w))
	}
	if err != nil {
		return fmt.Errorf("loading Harbor at %s (%s): %w", s.PushAddr(), URL(s.Harbor), err)
	}
	rec := state.HarborRecord{URL: URL(s.Harbor), Address: s.PushAddr(), Images: rep.Images,
		Projects: hostconf.SourceRegistries(s.Index), Time: time.Now().UTC()}
	if err := s.State.WriteHarborRecord(rec); err != nil {
		return err
	}
	plan.Logf(ctx, "Harbor holds the bundle's %d images (%d pushed, %d already there; projects created: %s)",
		rep.Images, rep.ImagesPushed, rep.ImagesPresent, strings.Join(rep.ProjectsCreated, " "))
	return nil
}

// Mirrors hands a node over to Harbor: every source registry's
// hosts.toml points at Harbor's project for it, and a marker records the
// handover so that /containerd, run again, keeps it. Then the node must
// read, without credentials, one manifest of every project from Harbor,
// and containerd must pull the sandbox image through the new mirror.
func (s *Site) Mirrors(ctx context.Context, h *remote.Host) error {
	url := URL(s.Harbor)
	regs := hostconf.SourceRegistries(s.Index)
	if err := hostsetup.WriteMirrors(ctx, h, s.Index, s.SeedURL, url); err != nil {
		return err
	}
	for _, ref := range oneImagePerRegistry(s.Index) {
		id := ref.Tag
		if ref.Digest != "" {
			id = ref.Digest
		}
		u := url + "/v2/" + ref.Registry + "/" + ref.Repository + "/manifests/" + id
		cmd := fmt.Sprintf("curl -sS --max-time 20 --cacert %s -o /dev/null -w '%%{http_code}' -I -H %s %s",
			sshx.Quote(hostconf.HostCA), sshx.Quote("Accept: "+manifestAccept), sshx.Quote(u))
		code, err := h.Out(ctx, cmd)
		if err != nil {
			return fmt.Errorf("%s cannot reach Harbor at %s: %w", h.Host.Name, url, err)
		}
		switch {
		case h.Dry || code == "200":
		case code == "401" || code == "403":
			return fmt.Errorf("%s may not pull %s from Harbor without credentials (HTTP %s): Harbor project %s is private; make it public in Harbor (Projects → %s → Configuration) and run deploy --resume", h.Host.Name, ref.Canonical, code, ref.Registry, ref.Registry)
		default:
			return fmt.Errorf("%s: Harbor answers HTTP %s for %s; was /harbor/load completed? (deploy --phase /harbor/load)", h.Host.Name, code, ref.Canonical)
		}
	}
	if img := hostsetup.SandboxImage(s.Index); slices.ContainsFunc(s.Index.Images, func(i bundle.Image) bool { return i.Name == img }) {
		if err := h.Sh(ctx, "ctr -n k8s.io images pull --hosts-dir "+hostconf.ContainerdCertsDir+" "+sshx.Quote(img)+" >/dev/null"); err != nil {
			return fmt.Errorf("containerd on %s cannot pull %s through Harbor: %w", h.Host.Name, img, err)
		}
	}
	plan.Logf(ctx, "containerd pulls %d registr(ies) from Harbor %s: %s", len(regs), url, strings.Join(regs, " "))
	return nil
}

// manifestAccept lists the manifest types a HEAD asks for.
const manifestAccept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"

// oneImagePerRegistry is the bundle's first image of each source registry,
// as parsed references (registry, repository, tag or digest).
func oneImagePerRegistry(idx *bundle.Index) []manifest.ImageRef {
	seen := map[string]bool{}
	var out []manifest.ImageRef
	for _, img := range idx.Images {
		ref, err := manifest.ParseImageRef(img.Name)
		if err != nil || seen[ref.Registry] {
			continue
		}
		seen[ref.Registry] = true
		out = append(out, ref)
	}
	return out
}
