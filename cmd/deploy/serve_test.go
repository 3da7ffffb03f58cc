package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/lockedio"
)

var servingRE = regexp.MustCompile(`serving on https://(\S+)`)

// startServe runs deploy serve with args until the test ends and returns
// its address and output sinks.
func startServe(t *testing.T, args ...string) (addr string, stdout, stderr *lockedio.Buffer) {
	t.Helper()
	stdout, stderr = &lockedio.Buffer{}, &lockedio.Buffer{}
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("deploy serve: %v", err)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := servingRE.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], stdout, stderr
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("deploy serve exited: %v\n%s", err, stderr.String())
		default:
		}
	}
	t.Fatalf("deploy serve did not start:\n%s\n%s", stdout.String(), stderr.String())
	return "", nil, nil
}

// httpsClient trusts the CA in stateDir, dials from the loopback address
// from, and presents the client certificate in certDir/name.{crt,key} if
// name is not empty.
func httpsClient(t *testing.T, stateDir, from, certDir, name string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(filepath.Join(stateDir, "ca.crt"))
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("site CA: %v", err)
	}
	conf := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if name != "" {
		c, err := tls.LoadX509KeyPair(filepath.Join(certDir, name+".crt"), filepath.Join(certDir, name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		conf.Certificates = []tls.Certificate{c}
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	tr := &http.Transport{TLSClientConfig: conf, DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

func httpStatus(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeAllow: deploy serve --allow 127.0.0.1 serves a client from
// 127.0.0.1 and refuses one from 127.0.0.2 with 403 naming the flag.
func TestServeAllow(t *testing.T) {
	cb := makeCLIBundle(t)
	state := t.TempDir() + "/state"
	addr, stdout, _ := startServe(t, "--bundle", cb.signed, "--key", cb.pub, "--state-dir", state, "--allow", "127.0.0.1")
	if !strings.Contains(stdout.String(), "clients allowed: 127.0.0.1/32") {
		t.Errorf("deploy serve does not say who may read:\n%s", stdout.String())
	}
	if code, body := httpStatus(t, httpsClient(t, state, "127.0.0.1", "", ""), "https://"+addr+"/v2/"); code != http.StatusOK {
		t.Errorf("from 127.0.0.1: %d %s", code, body)
	}
	if code, body := httpStatus(t, httpsClient(t, state, "127.0.0.2", "", ""), "https://"+addr+"/v2/"); code != http.StatusForbidden || !strings.Contains(body, "--allow") {
		t.Errorf("from 127.0.0.2: %d %s, want 403 naming --allow", code, body)
	}
}

// TestServeClientCerts: with --client-certs, a client certificate from
// deploy client-cert is served, a client without one is refused; the
// default admits loopback only.
func TestServeClientCerts(t *testing.T) {
	cb := makeCLIBundle(t)
	state, certs := t.TempDir()+"/state", t.TempDir()
	out, _, err := runDeploy([]string{"client-cert", "worker-1", "--state-dir", state, "--out", certs}, "")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(certs, "worker-1.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("worker-1.key: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if !strings.Contains(out, "worker-1.crt") {
		t.Errorf("client-cert output: %q", out)
	}
	if _, _, err := runDeploy([]string{"client-cert", "worker-1", "--state-dir", state, "--out", certs}, ""); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a second client-cert over the same files: %v, want a refusal", err)
	}
	addr, stdout, _ := startServe(t, "--bundle", cb.signed, "--key", cb.pub, "--state-dir", state, "--client-certs")
	if !strings.Contains(stdout.String(), "clients allowed: 127.0.0.0/8, ::1/128, with a client certificate from the site CA") {
		t.Errorf("deploy serve does not say who may read:\n%s", stdout.String())
	}
	url := "https://" + addr + "/v2/"
	if code, body := httpStatus(t, httpsClient(t, state, "127.0.0.1", certs, "worker-1"), url); code != http.StatusOK {
		t.Errorf("with a site-CA client certificate: %d %s", code, body)
	}
	if code, body := httpStatus(t, httpsClient(t, state, "127.0.0.1", "", ""), url); code != http.StatusForbidden || !strings.Contains(body, "deploy client-cert NAME") {
		t.Errorf("without a client certificate: %d %s, want 403 naming deploy client-cert", code, body)
	}
}

// TestServeAllowAnyWarns: --allow-any serves every address and warns;
// 0.0.0.0/0 in --allow is refused in favour of --allow-any.
func TestServeAllowAnyWarns(t *testing.T) {
	cb := makeCLIBundle(t)
	state := t.TempDir() + "/state"
	_, _, stderr := startServe(t, "--bundle", cb.signed, "--key", cb.pub, "--state-dir", state, "--allow-any")
	if !strings.Contains(stderr.String(), "SERVING TO ANY ADDRESS") {
		t.Errorf("--allow-any without a warning:\n%s", stderr.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--allow", "0.0.0.0/0"}, "--allow-any"},
		{[]string{"--allow", "seed.site.local"}, "host names are not accepted"},
		{[]string{"--allow", "10.0.0.1", "--allow-any"}, "none of the others can be"},
		{[]string{"--client-certs", "--plain-http"}, "none of the others can be"},
	} {
		args := append([]string{"serve", "--bundle", cb.signed, "--key", cb.pub, "--state-dir", state, "--addr", "127.0.0.1:0"}, c.args...)
		if _, _, err := runDeploy(args, ""); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("deploy %v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
}
