package deploy

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
// unpacks into harbor/, so it ends up in HarborDir with harbor.yml beside
// its install.sh, as Harbor's documentation has it.
const (
	HarborDir     = "/opt/harbor"
	HarborCertDir = "/etc/appliance/harbor"
	harborStage   = "/opt/appliance"
	harborMarker  = HarborDir + "/.appliance-installer" // digest of the installer unpacked here
)

// HarborAdmin is Harbor's administrator account.
const HarborAdmin = "admin"

// harborURL is where nodes reach Harbor: https://HOSTNAME[:PORT].
func harborURL(h inventory.Harbor) string {
	if h.Port == 443 || h.Port == 0 {
		return "https://" + h.Hostname
	}
	return "https://" + net.JoinHostPort(h.Hostname, strconv.Itoa(h.Port))
}

// harborPhase is /harbor, after /kubernetes:
//
//	/harbor/install/<registry host>  Harbor from the bundle's offline installer
//	/harbor/load                     every image pushed in, under its own name
//	/harbor/mirrors/<node>...        containerd pulls from Harbor, not the seed
//
// After it, no node needs the deploy node. It is nil when the site has no
// registry host or the bundle no Harbor installer.
func (d *Deployment) harborPhase() *plan.Phase {
	reg, ok := d.inv.Registry()
	if !ok {
		return nil
	}
	if _, ok := harbor.Installer(d.index); !ok {
		return nil
	}
	return plan.Steps("/harbor", "Harbor on "+reg.Name+", loaded, and the nodes handed over to it", present(
		d.oneHost("/harbor/install", "Install Harbor", reg, "Harbor from its offline installer", d.installHarbor),
		&plan.Phase{
			ID:       "/harbor/load",
			Title:    "Push every image of the bundle into Harbor",
			Attempts: d.cfg.Attempts,
			Run:      d.loadHarbor,
			DryRun: func() []string {
				return []string{fmt.Sprintf("push every image of the bundle to %s (%s) as %s, trusting only the site CA; "+
					"create a public project per source registry (%s)", d.harborPushAddr(), harborURL(d.inv.Harbor), HarborAdmin,
					strings.Join(hostconf.SourceRegistries(d.index), " "))}
			},
		},
		d.eachHost("/harbor/mirrors", "containerd on every node pulls from Harbor", d.nodes, "Registry mirrors to Harbor", d.harborMirrors),
	)...)
}

// harborPushAddr is where the deploy node pushes: the registry host's
// address (the deploy node's own /etc/hosts may not know Harbor's name;
// Harbor's certificate names both).
func (d *Deployment) harborPushAddr() string {
	reg, _ := d.inv.Registry()
	return net.JoinHostPort(reg.Address, strconv.Itoa(d.inv.Harbor.Port))
}

// harborSecrets returns Harbor's admin and database passwords, registered
// with the redactor. The admin password is the first line of the
// inventory's harbor.adminPasswordFile, else of the state directory's
// HarborAdminPasswordFile, made (random) on first use; the database
// password is always the state directory's. In a dry run nothing is made.
func (d *Deployment) harborSecrets(dry bool) (admin, db string, err error) {
	if f := d.inv.Harbor.AdminPasswordFile; f != "" {
		admin, err = state.ReadSecretFile(f)
		if err != nil {
			return "", "", fmt.Errorf("inventory harbor.adminPasswordFile: %w", err)
		}
	} else if admin, err = d.secret(state.HarborAdminPasswordFile, state.RandomSecret, dry); err != nil {
		return "", "", err
	}
	if db, err = d.secret(state.HarborDBPasswordFile, state.RandomSecret, dry); err != nil {
		return "", "", err
	}
	d.red.Add(admin)
	d.red.Add(db)
	return admin, db, nil
}

// installHarbor installs Harbor on the registry host: its TLS key (made
// there, never leaving it) with a certificate from the site CA, the
// offline installer unpacked into HarborDir (again only when the bundle's
// differs), harbor.yml, and the installer's ./install.sh, run when any of
// them changed or Harbor does not answer; then Harbor must be healthy.
// Idempotent.
func (d *Deployment) installHarbor(ctx context.Context, h *remote.Host) error {
	inst, _ := harbor.Installer(d.index)
	admin, db, err := d.harborSecrets(h.Dry)
	if err != nil {
		return err
	}
	certChanged, err := d.harborCertificate(ctx, h)
	if err != nil {
		return err
	}
	instChanged, err := d.unpackHarbor(ctx, h, inst)
	if err != nil {
		return err
	}
	yml := harbor.RenderYML(harbor.Settings{
		Hostname: d.inv.Harbor.Hostname, Port: d.inv.Harbor.Port,
		Certificate: HarborCertDir + "/tls.crt", PrivateKey: HarborCertDir + "/tls.key",
		AdminPassword: admin, DBPassword: db, DataVolume: d.inv.Harbor.DataVolume,
	})
	ymlChanged, err := h.Install(ctx, HarborDir+"/harbor.yml", []byte(yml), 0o600, "")
	if err != nil {
		return err
	}
	health := fmt.Sprintf("curl -fsS --max-time 10 --cacert %s %s", sshx.Quote(hostconf.HostCA), sshx.Quote(harborURL(d.inv.Harbor)+harbor.APIPrefix+"/health"))
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
		if err := h.Sh(ctx, "cd "+HarborDir+" && ./install.sh"); err != nil {
			return fmt.Errorf("install.sh of Harbor on %s: %w; its output is in this phase's host log", h.Host.Name, err)
		}
	}
	wait := fmt.Sprintf("for i in $(seq 1 150); do %s && exit 0; sleep 2; done; %s", health, health)
	if err := h.Sh(ctx, wait); err != nil {
		return fmt.Errorf("the Harbor on %s does not answer %s after 5 min: %w; see %s/harbor.yml and the installer's logs on the host",
			h.Host.Name, harborURL(d.inv.Harbor)+harbor.APIPrefix+"/health", err, HarborDir)
	}
	plan.Logf(ctx, "Harbor answers at %s", harborURL(d.inv.Harbor))
	return nil
}

// harborNames are the names Harbor's certificate is for: its hostname
// (nodes) and the registry host's address (the deploy node pushes there).
func (d *Deployment) harborNames() []string {
	reg, _ := d.inv.Registry()
	return []string{d.inv.Harbor.Hostname, reg.Address}
}

// harborCertificate makes sure the registry host has a TLS key (made there
// by openssl, mode 0600) and a certificate from the site CA for that key
// and harborNames, valid for more than 30 days; otherwise the host makes a
// certificate request and the CA signs it. It reports whether the
// certificate changed. The key names its curve (ec_param_enc:named_curve):
// EL7's OpenSSL 1.0.2 otherwise writes explicit curve parameters, which
// Go's crypto/x509 refuses in the request.
func (d *Deployment) harborCertificate(ctx context.Context, h *remote.Host) (bool, error) {
	key, crt := HarborCertDir+"/tls.key", HarborCertDir+"/tls.crt"
	mk := fmt.Sprintf("install -d -m 0700 %[1]s && if [ ! -s %[2]s ]; then (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -pkeyopt ec_param_enc:named_curve -out %[2]s.tmp && mv -f %[2]s.tmp %[2]s); fi && openssl req -new -key %[2]s -subj %[3]s",
		HarborCertDir, key, sshx.Quote("/CN="+d.inv.Harbor.Hostname))
	csrPEM, err := h.Out(ctx, mk)
	if err != nil {
		return false, fmt.Errorf("making Harbor's key and certificate request on %s: %w", h.Host.Name, err)
	}
	if h.Dry {
		_ = h.Put(ctx, crt, nil, 0o644)
		return true, nil
	}
	ca, err := siteca.Open(d.cfg.StateDir)
	if err != nil {
		return false, err
	}
	current, err := h.Out(ctx, "cat "+crt+" 2>/dev/null || true")
	if err != nil {
		return false, err
	}
	if harbor.CertFits(current, csrPEM, ca.CACert(), d.harborNames(), time.Now()) {
		return false, nil
	}
	certPEM, err := ca.SignCSR([]byte(csrPEM), d.harborNames())
	if err != nil {
		return false, fmt.Errorf("certificate request for Harbor from %s: %w", h.Host.Name, err)
	}
	if err := h.Put(ctx, crt, certPEM, 0o644); err != nil {
		return false, err
	}
	plan.Logf(ctx, "Harbor's certificate for %s issued by the site CA", strings.Join(d.harborNames(), ", "))
	return true, nil
}

// unpackHarbor fetches the bundle's installer from the seed, checks its
// sha256 and unpacks it into HarborDir, unless the one there is the same
// (HarborDir's marker holds its digest). harbor.yml is rewritten after
// this. It reports whether HarborDir changed.
func (d *Deployment) unpackHarbor(ctx context.Context, h *remote.Host, inst bundle.Artifact) (bool, error) {
	have, err := h.Out(ctx, "cat "+harborMarker+" 2>/dev/null || true")
	if err != nil {
		return false, err
	}
	if have == inst.Digest && !h.Dry {
		return false, nil
	}
	hex := strings.TrimPrefix(inst.Digest, "sha256:")
	tgz := harborStage + "/" + path.Base(inst.Path)
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
		harborStage, q(hostconf.HostCA), q(tgz), q(d.seedURL()+"/"+inst.Path), q(hex+"  "+tgz+".part"), HarborDir, q(inst.Digest), harborMarker)
	if err := h.Sh(ctx, cmd); err != nil {
		return false, fmt.Errorf("unpacking Harbor's installer %s on %s: %w", inst.Path, h.Host.Name, err)
	}
	plan.Logf(ctx, "Harbor's installer %s unpacked into %s", path.Base(inst.Path), HarborDir)
	return true, nil
}

// loadHarbor pushes every image of the bundle into Harbor under its own
// name (HOST/<source registry>/<repository>), manifests byte for byte, so
// digests and signatures hold. Each source registry becomes a public
// Harbor project: the nodes pull anonymously, as they did from the seed
// (pushing still needs the admin password).
func (d *Deployment) loadHarbor(ctx context.Context) error {
	admin, _, err := d.harborSecrets(false)
	if err != nil {
		return err
	}
	ca, err := siteca.Open(d.cfg.StateDir)
	if err != nil {
		return err
	}
	w := plan.LogWriter(ctx)
	log := slog.New(slog.NewTextHandler(d.red.Writer(w), nil))
	rep, err := push.Push(ctx, d.bundle, d.harborPushAddr(),
		push.WithCAFile(ca.CACertPath()),
		push.WithBasicAuth(HarborAdmin, admin),
		push.WithHarbor(push.HarborOn),
		push.WithPublicProjects(true),
		push.WithLogger(log),
		push.WithProgress(d.red.Writer(w), progress.Plain))
	if rep != nil {
		_ = rep.WriteText(d.red.Writer(w))
	}
	if err != nil {
		return fmt.Errorf("loading Harbor at %s (%s): %w", d.harborPushAddr(), harborURL(d.inv.Harbor), err)
	}
	rec := state.HarborRecord{URL: harborURL(d.inv.Harbor), Address: d.harborPushAddr(), Images: rep.Images,
		Projects: hostconf.SourceRegistries(d.index), Time: time.Now().UTC()}
	if err := d.state.WriteHarborRecord(rec); err != nil {
		return err
	}
	plan.Logf(ctx, "Harbor holds the bundle's %d images (%d pushed, %d already there; projects created: %s)",
		rep.Images, rep.ImagesPushed, rep.ImagesPresent, strings.Join(rep.ProjectsCreated, " "))
	return nil
}

// harborMirrors hands a node over to Harbor: every source registry's
// hosts.toml points at Harbor's project for it, and a marker records the
// handover so that /containerd, run again, keeps it. Then the node must
// read, without credentials, one manifest of every project from Harbor,
// and containerd must pull the sandbox image through the new mirror.
func (d *Deployment) harborMirrors(ctx context.Context, h *remote.Host) error {
	url := harborURL(d.inv.Harbor)
	regs := hostconf.SourceRegistries(d.index)
	if err := hostsetup.WriteMirrors(ctx, h, d.index, d.seedURL(), url); err != nil {
		return err
	}
	for _, ref := range oneImagePerRegistry(d.index) {
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
	if img := hostsetup.SandboxImage(d.index); slices.ContainsFunc(d.index.Images, func(i bundle.Image) bool { return i.Name == img }) {
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
