package testsite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Disconnect cuts host off the site network, as when its cable is pulled:
// the machine's end of the host's link (the veth port on the site bridge)
// goes down, so nothing reaches the host and nothing leaves it. The host
// keeps running with its interface, name, address and MAC, exactly as a
// host whose cable is pulled does. Idempotent.
//
// It does not use `docker network disconnect`: Docker gives a reconnected
// container a new interface (eth1, eth2, ...), which breaks configuration
// naming eth0 (keepalived's interface) and is not what a real drop does.
func (s *Site) Disconnect(host string) error {
	return s.setLink(host, "down")
}

// Reconnect plugs host back in: the link that Disconnect took down comes up
// again. Idempotent.
func (s *Site) Reconnect(host string) error {
	return s.setLink(host, "up")
}

func (s *Site) setLink(host, state string) error {
	port, err := s.bridgePort(host)
	if err != nil {
		return err
	}
	if err := run("ip", "link", "set", "dev", port, state); err != nil {
		return fmt.Errorf("set the link of test host %s %s: %w", host, state, err)
	}
	return nil
}

// bridgePort names the machine's end of host's eth0: the veth whose
// interface index is eth0's iflink.
func (s *Site) bridgePort(host string) (string, error) {
	out, err := s.Exec(host, "cat", "/sys/class/net/eth0/iflink")
	if err != nil {
		return "", fmt.Errorf("find the link of test host %s: %w", host, err)
	}
	index := strings.TrimSpace(out)
	if _, err := strconv.Atoi(index); err != nil {
		return "", fmt.Errorf("test host %s: eth0 iflink %q is not an interface index", host, index)
	}
	links, err := filepath.Glob("/sys/class/net/*/ifindex")
	if err != nil {
		return "", err
	}
	for _, f := range links {
		b, err := os.ReadFile(f)
		if err == nil && strings.TrimSpace(string(b)) == index {
			return filepath.Base(filepath.Dir(f)), nil
		}
	}
	return "", fmt.Errorf("test host %s: no interface %s on this machine for its eth0 (is the test running on the Docker host?)", host, index)
}

// docker runs a docker CLI command on the machine, bounded by a minute.
func docker(args ...string) error { return run("docker", args...) }

// run runs a command on the machine, bounded by a minute.
func run(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
