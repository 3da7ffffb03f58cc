package harbor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/siteca"
	"gopkg.in/yaml.v3"
)

// TestRenderYML: what Harbor's prepare reads back is what deploy meant,
// whatever the passwords hold.
func TestRenderYML(t *testing.T) {
	in := Settings{Hostname: "harbor.factory.local", Port: 8443, Certificate: "/etc/appliance/harbor/tls.crt",
		PrivateKey: "/etc/appliance/harbor/tls.key", AdminPassword: `p@ss: "w#rd" 'x' \ {y}`, DBPassword: "- [z]", DataVolume: "/data"}
	var got struct {
		Hostname string `yaml:"hostname"`
		HTTPS    struct {
			Port        int    `yaml:"port"`
			Certificate string `yaml:"certificate"`
			PrivateKey  string `yaml:"private_key"`
		} `yaml:"https"`
		HTTP          any    `yaml:"http"`
		AdminPassword string `yaml:"harbor_admin_password"`
		Database      struct {
			Password string `yaml:"password"`
		} `yaml:"database"`
		DataVolume string `yaml:"data_volume"`
		Trivy      struct {
			SkipUpdate  bool `yaml:"skip_update"`
			OfflineScan bool `yaml:"offline_scan"`
		} `yaml:"trivy"`
		Version string `yaml:"_version"`
	}
	if err := yaml.Unmarshal([]byte(RenderYML(in)), &got); err != nil {
		t.Fatal(err)
	}
	if got.Hostname != in.Hostname || got.HTTPS.Port != in.Port || got.HTTPS.Certificate != in.Certificate ||
		got.HTTPS.PrivateKey != in.PrivateKey || got.AdminPassword != in.AdminPassword || got.Database.Password != in.DBPassword ||
		got.DataVolume != in.DataVolume {
		t.Errorf("harbor.yml reads back as %+v, want %+v", got, in)
	}
	if got.HTTP != nil {
		t.Error("harbor.yml serves plain HTTP")
	}
	if !got.Trivy.SkipUpdate || !got.Trivy.OfflineScan || got.Version == "" {
		t.Errorf("trivy %+v, _version %q: want offline and a version", got.Trivy, got.Version)
	}
}

func TestCertFits(t *testing.T) {
	ca, err := siteca.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	other, err := siteca.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"harbor.site", "10.0.0.30"}
	csr := testCSR(t)
	good, err := ca.SignCSR([]byte(csr), names)
	if err != nil {
		t.Fatal(err)
	}
	byOther, _ := other.SignCSR([]byte(csr), names)
	otherKey, _ := ca.SignCSR([]byte(testCSR(t)), names)
	now := time.Now()
	for _, tc := range []struct {
		name  string
		cert  string
		names []string
		now   time.Time
		want  bool
	}{
		{"matching", string(good), names, now, true},
		{"names in another order", string(good), []string{"10.0.0.30", "harbor.site"}, now, true},
		{"none yet", "", names, now, false},
		{"another CA", string(byOther), names, now, false},
		{"another key", string(otherKey), names, now, false},
		{"a name more", string(good), append(names, "harbor2.site"), now, false},
		{"expiring within 30 days", string(good), names, now.Add(380 * 24 * time.Hour), false},
	} {
		if got := CertFits(tc.cert, csr, ca.CACert(), tc.names, tc.now); got != tc.want {
			t.Errorf("%s: CertFits = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func testCSR(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "h"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}
