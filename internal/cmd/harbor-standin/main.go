// Command harbor-standin is a stand-in for Harbor, for the test site only:
// real Harbor's images cannot run on this machine (see scripts/site/README.md,
// "What cannot run here"). It reads the same harbor.yml as Harbor's
// installer and serves, on Harbor's HTTPS port with Harbor's certificate:
//
//   - Harbor's REST API calls the deployment makes (health, projects),
//     answered by harbortest.Fake, which stands in for Harbor's API;
//   - the registry under /v2/, which is the real distribution registry
//     (Debian's docker-registry, given with --registry), started by this
//     program on loopback with its storage under data_volume, behind
//     Harbor's access rules (public projects readable without credentials).
//
// The admin password is harbor.yml's harbor_admin_password, as Harbor's
// first start takes it; it is never logged. Projects are kept in
// data_volume/standin/projects.json, as Harbor keeps them in its database.
//
// scripts/site/harbor-standin/install.sh runs it as a systemd service, in
// place of Harbor's install.sh, from the same directory layout (harbor/ with
// harbor.yml next to install.sh), so the deploy phase's commands are the
// same for both.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/factory-appliance/appliance/internal/harbor/harbortest"
)

// config is the part of Harbor's harbor.yml the stand-in uses.
type config struct {
	Hostname string `yaml:"hostname"`
	HTTPS    struct {
		Port        int    `yaml:"port"`
		Certificate string `yaml:"certificate"`
		PrivateKey  string `yaml:"private_key"`
	} `yaml:"https"`
	AdminPassword string `yaml:"harbor_admin_password"`
	DataVolume    string `yaml:"data_volume"`
}

func main() {
	cfgPath := flag.String("config", "harbor.yml", "Harbor's harbor.yml")
	registry := flag.String("registry", "registry", "the distribution registry program (docker-registry)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("harbor-standin: ")
	if err := run(*cfgPath, *registry); err != nil {
		log.Fatal(err)
	}
}

func run(cfgPath, registry string) error {
	c, err := readConfig(cfgPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pair, err := tls.LoadX509KeyPair(c.HTTPS.Certificate, c.HTTPS.PrivateKey)
	if err != nil {
		return fmt.Errorf("https certificate: %w", err)
	}
	state := filepath.Join(c.DataVolume, "standin")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	regURL, wait, err := startRegistry(ctx, registry, c.DataVolume, state)
	if err != nil {
		return err
	}
	fake, err := harbortest.New("admin", c.AdminPassword, regURL, nil)
	if err != nil {
		return err
	}
	if err := fake.Persist(filepath.Join(state, "projects.json")); err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              ":" + strconv.Itoa(c.HTTPS.Port),
		Handler:           fake,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}},
		ReadHeaderTimeout: 30 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServeTLS("", "") }()
	log.Printf("serving %s on :%d (registry %s)", c.Hostname, c.HTTPS.Port, regURL)
	select {
	case err = <-errc:
	case err = <-wait:
		err = fmt.Errorf("the registry stopped: %v", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = srv.Shutdown(sctx)
	}
	return err
}

func readConfig(path string) (*config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case c.Hostname == "":
		return nil, fmt.Errorf("%s: hostname is not set", path)
	case c.HTTPS.Port == 0 || c.HTTPS.Certificate == "" || c.HTTPS.PrivateKey == "":
		return nil, fmt.Errorf("%s: https port, certificate and private_key must be set", path)
	case c.AdminPassword == "":
		return nil, fmt.Errorf("%s: harbor_admin_password is not set", path)
	case !filepath.IsAbs(c.DataVolume):
		return nil, fmt.Errorf("%s: data_volume must be an absolute directory", path)
	}
	return &c, nil
}

// startRegistry runs the distribution registry on a free loopback port
// with its storage under dataVolume/registry, and waits until it answers.
// The returned channel receives its exit.
func startRegistry(ctx context.Context, program, dataVolume, state string) (string, <-chan error, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf(`version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: %q}
  delete: {enabled: true}
http:
  addr: %q
  relativeurls: true
`, filepath.Join(dataVolume, "registry"), addr)
	confPath := filepath.Join(state, "registry.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, program, "serve", confPath)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting the registry %s: %w", program, err)
	}
	wait := make(chan error, 1)
	go func() { wait <- cmd.Wait() }()
	url := "http://" + addr
	for i := 0; i < 100; i++ {
		resp, err := http.Get(url + "/v2/")
		if err == nil {
			resp.Body.Close()
			return url, wait, nil
		}
		select {
		case err := <-wait:
			return "", nil, fmt.Errorf("the registry exited: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return "", nil, errors.New("the registry did not answer in 10 s")
}
