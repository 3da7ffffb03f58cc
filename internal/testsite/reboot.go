package testsite

import (
	"fmt"
	"strings"
	"time"
)

// RebootTimeout bounds Reboot.
const RebootTimeout = 2 * time.Minute

// Reboot restarts host's container, which boots it again: systemd starts
// the services that are enabled, and files written to the host survive, as
// on a real reboot. It returns when sshd answers again. The host keeps its
// SSH host keys, so known_hosts stays valid, and site-init restores the air
// gap (Docker gives a restarted container its default route back).
func (s *Site) Reboot(host string) error {
	h, err := s.Host(host)
	if err != nil {
		return err
	}
	if err := docker("restart", "--time", "30", h.Container); err != nil {
		return fmt.Errorf("reboot test host %s: %w", host, err)
	}
	deadline := time.Now().Add(RebootTimeout)
	for {
		out, err := s.Exec(host, "systemctl", "is-active", "ssh.service")
		if err == nil && strings.TrimSpace(out) == "active" {
			return s.checkNoDefaultRoute(host)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reboot test host %s: sshd not active after %v (%v); see docker logs %s", host, RebootTimeout, err, h.Container)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkNoDefaultRoute fails if host has an IPv4 default route.
func (s *Site) checkNoDefaultRoute(host string) error {
	out, err := s.Exec(host, "ip", "-4", "route", "show", "default")
	if err != nil {
		return err
	}
	if r := strings.TrimSpace(out); r != "" {
		return fmt.Errorf("air gap: test host %s has a default route after boot: %s", host, r)
	}
	return nil
}
