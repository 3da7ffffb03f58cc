package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestManifestMediaType(t *testing.T) {
	cases := []struct {
		body, header, want string
		ok                 bool
	}{
		{`{"mediaType":"application/vnd.oci.image.manifest.v1+json"}`, "", "application/vnd.oci.image.manifest.v1+json", true},
		{`{"schemaVersion":2,"config":{}}`, "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8", "application/vnd.docker.distribution.manifest.v2+json", true},
		{`{"schemaVersion":2,"manifests":[]}`, "application/json", "application/vnd.oci.image.index.v1+json", true},
		{`{"schemaVersion":2,"layers":[]}`, "", "application/vnd.oci.image.manifest.v1+json", true},
		{`{"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}`, "", "", false},
		{`{"mediaType":"application/vnd.example.thing"}`, "", "", false},
		{`not json`, "", "", false},
	}
	for _, c := range cases {
		got, err := manifestMediaType([]byte(c.body), c.header, "test")
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("manifestMediaType(%s, %q) = %q, %v; want %q (ok=%v)", c.body, c.header, got, err, c.want, c.ok)
		}
	}
}

func TestCheckManifestDigest(t *testing.T) {
	const a = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	const b = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	cases := []struct {
		got, want, header string
		ok                bool
	}{
		{a, "", "", true},
		{a, a, a, true},
		{a, b, "", false},
		{a, "", b, false},
		{a, "", "sha512:whatever", true}, // another algorithm is not comparable
	}
	for _, c := range cases {
		err := checkManifestDigest(c.got, c.want, c.header, "test")
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrDigestMismatch)) {
			t.Errorf("checkManifestDigest(%s, %q, %q) = %v", c.got, c.want, c.header, err)
		}
	}
}

func TestTransient(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"503", context.Background(), &transport.Error{StatusCode: http.StatusServiceUnavailable}, true},
		{"429", context.Background(), &transport.Error{StatusCode: http.StatusTooManyRequests}, true},
		{"401", context.Background(), &transport.Error{StatusCode: http.StatusUnauthorized}, false},
		{"404", context.Background(), fmt.Errorf("x: %w", &transport.Error{StatusCode: http.StatusNotFound}), false},
		{"reset", context.Background(), fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"truncated", context.Background(), io.ErrUnexpectedEOF, true},
		{"timeout", context.Background(), &net.DNSError{IsTimeout: true}, true},
		{"refused", context.Background(), syscall.ECONNREFUSED, false},
		{"our cancel", cancelled, io.ErrUnexpectedEOF, false},
	}
	for _, c := range cases {
		if got := transient(c.ctx, c.err); got != c.want {
			t.Errorf("%s: transient = %v, want %v", c.name, got, c.want)
		}
	}
}
