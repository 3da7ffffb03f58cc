package harbor

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"path"
	"regexp"
	"slices"
	"time"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// What deploy installs Harbor from: the bundle's offline installer, the
// harbor.yml rendered for the site, and a certificate from the site CA
// that must fit the key on the registry host. All are pure; deploy's
// /harbor phases run them on the registry host.

// installerRE matches the file name of Harbor's offline installer
// (its release asset name); the test site's stand-in installer has the same
// layout and a matching name.
var installerRE = regexp.MustCompile(`^harbor-offline-installer-[A-Za-z0-9._-]+\.tgz$`)

// Installer returns the bundle's Harbor offline installer: the file
// entry named harbor-offline-installer-*.tgz (a stack declares Harbor by
// listing it among a component's files, with the role registry).
func Installer(idx *bundle.Index) (bundle.Artifact, bool) {
	for _, a := range idx.Artifacts {
		if a.Kind == bundle.KindFile && installerRE.MatchString(path.Base(a.Path)) {
			return a, true
		}
	}
	return bundle.Artifact{}, false
}

// Settings is what harbor.yml is rendered from.
type Settings struct {
	Hostname      string
	Port          int
	Certificate   string // path on the registry host
	PrivateKey    string // path on the registry host
	AdminPassword string
	DBPassword    string
	DataVolume    string
}

// RenderYML is Harbor's harbor.yml (the offline installer's
// configuration, Harbor 2.8's layout): HTTPS only, with the site CA's
// certificate, Trivy offline (an air-gapped site has no vulnerability
// database to download). Strings are written JSON-quoted, which YAML reads
// as the same string whatever they hold.
func RenderYML(s Settings) string {
	q := func(v string) string { b, _ := json.Marshal(v); return string(b) }
	return fmt.Sprintf(`# Written by deploy: Harbor's configuration (harbor.yml of its offline installer).
hostname: %s
https:
  port: %d
  certificate: %s
  private_key: %s
harbor_admin_password: %s
database:
  password: %s
  max_idle_conns: 100
  max_open_conns: 900
  conn_max_lifetime: 5m
  conn_max_idle_time: 0
data_volume: %s
trivy:
  ignore_unfixed: false
  skip_update: true
  skip_java_db_update: true
  offline_scan: true
  security_check: vuln
  insecure: false
jobservice:
  max_job_workers: 10
  job_loggers: [STD_OUTPUT, FILE]
  logger_sweeper_duration: 1
notification:
  webhook_job_max_retry: 3
  webhook_job_http_client_timeout: 3
log:
  level: info
  local:
    rotate_count: 50
    rotate_size: 200M
    location: /var/log/harbor
_version: 2.8.0
proxy:
  http_proxy:
  https_proxy:
  no_proxy:
  components: [core, jobservice, trivy]
upload_purging:
  enabled: true
  age: 168h
  interval: 24h
  dryrun: false
cache:
  enabled: false
  expire_hours: 24
`, q(s.Hostname), s.Port, q(s.Certificate), q(s.PrivateKey), q(s.AdminPassword), q(s.DBPassword), q(s.DataVolume))
}

// CertFits reports whether certPEM is a certificate from ca for the key of
// csrPEM, for exactly names, valid for more than 30 days after now.
func CertFits(certPEM, csrPEM string, ca *x509.Certificate, names []string, now time.Time) bool {
	cb, _ := pem.Decode([]byte(certPEM))
	rb, _ := pem.Decode([]byte(csrPEM))
	if cb == nil || rb == nil {
		return false
	}
	cert, err1 := x509.ParseCertificate(cb.Bytes)
	csr, err2 := x509.ParseCertificateRequest(rb.Bytes)
	if err1 != nil || err2 != nil || cert.CheckSignatureFrom(ca) != nil {
		return false
	}
	if pk, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pk.Equal(csr.PublicKey) {
		return false
	}
	if cert.NotAfter.Sub(now) < 30*24*time.Hour {
		return false
	}
	var have []string
	have = append(have, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		have = append(have, ip.String())
	}
	want := slices.Clone(names)
	slices.Sort(have)
	slices.Sort(want)
	return slices.Equal(have, want)
}
