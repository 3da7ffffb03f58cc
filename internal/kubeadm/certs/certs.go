// Package certs is day two's certificates on a kubeadm cluster: what
// `deploy certs` reads from each host (ListCommand, ParseList), the script
// that renews a master's certificates and restarts its static pods so they
// serve the new ones (Script), the systemd timer that runs it when fewer
// than RenewDays days are left (ServiceUnit, TimerUnit), and the check that
// a TLS port serves the certificate a file holds (Served).
//
// kubeadm's certificates live one year; an air-gapped cluster nobody
// renews stops on its first birthday. KubeKey's renew script restarted
// the components with the wrong tool (kubekey #1147), so the renewal here
// ends by checking what the apiserver and etcd serve.
//
// Only certificates cross the wire: the listing prints CERTIFICATE blocks
// and kubeconfigs' client-certificate-data, never a key.
package certs

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/factory-appliance/appliance/internal/kubeadm"
	"github.com/factory-appliance/appliance/internal/sshx"
)

// RenewDays is how many days before expiry the timer renews, and below
// which deploy certs and deploy status warn.
const RenewDays = 30

// Files deploy installs on each master for the renewal.
const (
	// ScriptPath renews this master's certificates (Script).
	ScriptPath = "/usr/local/sbin/appliance-cert-renew"
	// Unit is the name of its service and timer.
	Unit        = "appliance-cert-renew"
	ServicePath = "/etc/systemd/system/" + Unit + ".service"
	TimerPath   = "/etc/systemd/system/" + Unit + ".timer"
	// AsideDir holds the static pod manifests while their pods stop; a
	// renewal cut off with manifests there puts them back first.
	AsideDir = "/etc/kubernetes/manifests.appliance-renew"
)

// StaticPods are the control plane's static pods, which the renewal
// restarts.
var StaticPods = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// crictl names containerd's socket: without it crictl 1.26 tries the
// sockets of other runtimes first, warning about each.
const crictl = "crictl --runtime-endpoint " + kubeadm.CRISocket

// Script is the renewal, as a bash script for ScriptPath. Without
// arguments it renews only when kubeadm certs check-expiration shows fewer
// than RENEW_DAYS days left on some certificate (the timer); with --now it
// renews at once (deploy certs renew). After kubeadm certs renew all, the
// static pods are restarted by moving their manifests aside until their
// containers are gone and back until new ones run; deploy renews one
// master at a time, so the other masters keep serving. Its output goes to the journal (the timer) or the
// host log (deploy).
func Script() string {
	var b strings.Builder
	fmt.Fprintf(&b, `#!/bin/bash
# Written by deploy: renews this master's kubeadm certificates when fewer
# than RENEW_DAYS (default %d) days are left, or at once with --now, then
# restarts the static pods so they serve the new certificates.
set -eu
days=${RENEW_DAYS:-%d}
manifests=/etc/kubernetes/manifests
aside=%s
# A renewal cut off while a manifest was aside puts it back first.
if [ -d "$aside" ]; then
  for f in "$aside"/*.yaml; do
    if [ -e "$f" ]; then mv -f "$f" "$manifests"/; echo "put back $f"; fi
  done
  rmdir "$aside"
fi
if [ "${1:-}" != --now ]; then
  # The fewest days left on any certificate: the first field of a row
  # that is a residual time (9y, 364d, 23h, 5m, 10s, <invalid>).
  left=$(kubeadm certs check-expiration 2>/dev/null | awk '
    { for (i = 2; i <= NF; i++) {
        if ($i == "<invalid>") { d = 0 } else if ($i ~ /^[0-9]+[smhdy]$/) {
          n = substr($i, 1, length($i) - 1) + 0; u = substr($i, length($i))
          d = (u == "y") ? n * 365 : (u == "d") ? n : 0
        } else continue
        if (min == "" || d < min) min = d
        break } }
    END { print min }')
  if [ -z "$left" ]; then
    echo "kubeadm certs check-expiration listed no certificate; see its output" >&2
    exit 1
  fi
  if [ "$left" -ge "$days" ]; then
    echo "certificates: $left days left on the nearest, renewal at fewer than $days"
    exit 0
  fi
  echo "certificates: $left days left on the nearest, fewer than $days: renewing"
fi
kubeadm certs renew all
mkdir -p "$aside"
`, RenewDays, RenewDays, AsideDir)
	// All of the master's static pods at once: the other masters serve
	// meanwhile, and one stop and start costs what four in a row would
	// cost one each.
	fmt.Fprintf(&b, `pods=""
for pod in %[1]s; do
  if [ -e "$manifests/$pod.yaml" ]; then mv "$manifests/$pod.yaml" "$aside/"; pods="$pods $pod"; fi
done
for pod in $pods; do
  for i in $(seq 1 120); do
    if [ -z "$(%[2]s ps -q --name "^$pod\$")" ]; then break; fi
    sleep 1
  done
done
for pod in $pods; do mv "$aside/$pod.yaml" "$manifests/"; done
for pod in $pods; do
  for i in $(seq 1 300); do
    if [ -n "$(%[2]s ps -q --name "^$pod\$")" ]; then break; fi
    sleep 1
  done
  if [ -z "$(%[2]s ps -q --name "^$pod\$")" ]; then
    echo "$pod did not start again within 300s; see journalctl -u kubelet" >&2
    exit 1
  fi
  echo "$pod restarted"
done
rmdir "$aside"
echo "certificates renewed; the static pods serve them"
`, strings.Join(StaticPods, " "), crictl)
	return b.String()
}

// ServiceUnit runs Script, as the timer does.
func ServiceUnit() string {
	return fmt.Sprintf(`[Unit]
Description=Renew kubeadm certificates with fewer than %d days left (written by deploy)
After=kubelet.service

[Service]
Type=oneshot
Environment=RENEW_DAYS=%d
ExecStart=%s
`, RenewDays, RenewDays, ScriptPath)
}

// TimerUnit runs the service daily at 03:MM, MM = 10 × index (the
// master's place among the masters, modulo 6), so two masters do not
// restart their control planes at once; Persistent catches up a run missed
// while the host was down.
func TimerUnit(index int) string {
	return fmt.Sprintf(`[Unit]
Description=Daily check of the kubeadm certificates (written by deploy)

[Timer]
OnCalendar=*-*-* 03:%02d:00
Persistent=true

[Install]
WantedBy=timers.target
`, 10*(index%6))
}

// kubeconfigs are the kubeconfigs kubeadm writes on a master with a client
// certificate of its own (super-admin.conf from 1.29).
var kubeconfigs = []string{"admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf"}

// KubeletClientCert is the kubelet's client certificate on every node,
// which the kubelet rotates itself.
const KubeletClientCert = "/var/lib/kubelet/pki/kubelet-client-current.pem"

// marker starts each file's section in ListCommand's output.
const marker = "@@ "

// ListCommand prints, for each of kubeadm's certificate files on a master
// (master) or node and each of extra (such as Harbor's), a line "@@ PATH"
// and the file's CERTIFICATE blocks; on a master also each kubeconfig's
// client-certificate-data. Files that are not there are left out.
func ListCommand(master bool, extra ...string) string {
	var files []string
	if master {
		files = append(files, "/etc/kubernetes/pki/*.crt", "/etc/kubernetes/pki/etcd/*.crt")
	}
	for _, e := range extra {
		files = append(files, sshx.Quote(e))
	}
	cmd := ListFilesCommand(append(files, KubeletClientCert)...)
	if master {
		var confs []string
		for _, c := range kubeconfigs {
			confs = append(confs, "/etc/kubernetes/"+c)
		}
		cmd += fmt.Sprintf(`; for f in %s; do if [ -f "$f" ]; then echo "%s$f"; sed -n 's/^ *client-certificate-data: *//p' "$f"; fi; done`,
			strings.Join(confs, " "), marker)
	}
	return cmd
}

// ListFilesCommand prints "@@ PATH" and the CERTIFICATE blocks of each of
// files (shell words: globs are expanded) that is there.
func ListFilesCommand(files ...string) string {
	return fmt.Sprintf(`for f in %s; do if [ -f "$f" ]; then echo "%s$f"; sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$f"; fi; done`,
		strings.Join(files, " "), marker)
}

// Cert is one certificate found on a host.
type Cert struct {
	Host     string    `json:"host"`
	Path     string    `json:"path"`
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"notAfter"`
	// CA is true for a certificate authority (kubeadm's CAs live ten
	// years and are not renewed by kubeadm certs renew).
	CA bool `json:"ca,omitempty"`
	// Raw is the DER of the certificate (Served compares it).
	Raw []byte `json:"-"`
}

// DaysLeft is how many whole days are left at now (negative: expired).
func (c Cert) DaysLeft(now time.Time) int {
	return int(c.NotAfter.Sub(now).Hours() / 24)
}

// maxSection bounds one file's section of the listing.
const maxSection = 256 << 10

// ParseList reads ListCommand's output from host: one Cert per file (its
// first certificate: a chain file's leaf). A section that holds no
// certificate is an error naming the file: the listing prints nothing
// else, so it is a file kubeadm did not write.
func ParseList(host string, out []byte) ([]Cert, error) {
	var certs []Cert
	sections := bytes.Split(out, []byte("\n"+marker))
	for i, s := range sections {
		if i == 0 {
			if len(bytes.TrimSpace(s)) == 0 {
				continue
			}
			if !bytes.HasPrefix(s, []byte(marker)) {
				return nil, fmt.Errorf("the certificate listing of %s does not start with a file name", host)
			}
			s = s[len(marker):]
		}
		if len(s) > maxSection {
			return nil, fmt.Errorf("the certificate listing of %s: a section longer than %d bytes", host, maxSection)
		}
		path, body, _ := bytes.Cut(s, []byte("\n"))
		c, err := parseCert(body)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", printable(string(path)), host, err)
		}
		c.Host, c.Path = host, string(path)
		if !validPath(c.Path) {
			return nil, fmt.Errorf("the certificate listing of %s names an unexpected file %q", host, printable(c.Path))
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// parseCert reads the first certificate of body: PEM, or the base64 of
// PEM (a kubeconfig's client-certificate-data).
func parseCert(body []byte) (Cert, error) {
	body = bytes.TrimSpace(body)
	if !bytes.HasPrefix(body, []byte("-----BEGIN")) {
		dec, err := base64.StdEncoding.DecodeString(string(body))
		if err != nil {
			return Cert{}, fmt.Errorf("no certificate (neither PEM nor base64 of PEM)")
		}
		body = dec
	}
	return ParsePEM(body)
}

// ParsePEM reads the first CERTIFICATE block of PEM data (a chain file's
// leaf), without its host and path.
func ParsePEM(body []byte) (Cert, error) {
	for {
		var b *pem.Block
		b, body = pem.Decode(body)
		if b == nil {
			return Cert{}, fmt.Errorf("no CERTIFICATE block")
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		x, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return Cert{}, err
		}
		return Cert{Subject: x.Subject.CommonName, NotAfter: x.NotAfter.UTC(), CA: x.IsCA, Raw: b.Bytes}, nil
	}
}

// validPath: an absolute path of printable characters.
func validPath(p string) bool {
	return strings.HasPrefix(p, "/") && len(p) < 512 && printable(p) == p
}

// printable replaces what a terminal could take for a control sequence.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

// Sort orders certificates by expiry, soonest first, then by host and path.
func Sort(certs []Cert) {
	sort.SliceStable(certs, func(i, j int) bool {
		a, b := certs[i], certs[j]
		if !a.NotAfter.Equal(b.NotAfter) {
			return a.NotAfter.Before(b.NotAfter)
		}
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		return a.Path < b.Path
	})
}

// Soon returns the certificates with fewer than RenewDays days left at now.
func Soon(certs []Cert, now time.Time) []Cert {
	var out []Cert
	for _, c := range certs {
		if c.DaysLeft(now) < RenewDays {
			out = append(out, c)
		}
	}
	return out
}
