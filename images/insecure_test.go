package images

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
)

// loopbackDialer is a transport that dials the given loopback address
// whatever host a request names, so a non-loopback registry name can be
// tested without leaving the machine.
func loopbackDialer(addr string) http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	return tr
}

func TestPlainHTTPOnlyForLoopbackOrNamed(t *testing.T) {
	reg, pushed := demoRegistry(t)
	cases := []struct {
		host     string
		insecure []string
		ok       bool
	}{
		{"registry.example.test:5000", nil, false},
		{"10.1.2.3:5000", nil, false}, // go-containerregistry itself would allow HTTP to RFC 1918
		{"registry.example.test:5000", []string{"registry.example.test:5000"}, true},
		{"registry.example.test:5000", []string{"registry.example.test"}, true},
		{"registry.example.test:5000", []string{"other.example.test:5000"}, false},
	}
	for _, c := range cases {
		t.Run(c.host+"/"+strings.Join(c.insecure, ","), func(t *testing.T) {
			p := newTestPuller(t, newCache(t), WithTransport(loopbackDialer(reg.Addr())), WithInsecureRegistries(c.insecure...))
			img, err := p.Pull(context.Background(), c.host+"/library/app:1.0", "")
			if c.ok {
				if err != nil || img.Digest != pushed["library/app:1.0"].Digest {
					t.Fatalf("pull from a named insecure registry: %v", err)
				}
				return
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, ErrInsecureRegistry) {
				t.Fatalf("err = %v, want ErrInsecureRegistry", err)
			}
			if !strings.Contains(err.Error(), "--insecure-registry "+c.host) {
				t.Errorf("error does not name the flag: %v", err)
			}
		})
	}
}
