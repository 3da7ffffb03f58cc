// Package sshx runs commands and copies files on the site's hosts over SSH.
//
// Trust: a host's key is checked against the inventory's pinned fingerprint
// when there is one, else against known_hosts (default ~/.ssh/known_hosts).
// An unknown key is refused with its fingerprint and the three ways to trust
// it, unless AcceptNewHostKeys is set, in which case it is recorded in
// known_hosts and the fingerprint logged. A changed key is always refused.
//
// A Client keeps one connection per host (through an optional jump host),
// sends keepalives, and reconnects with exponential backoff between
// commands. Only answers another attempt may change are retried (timeouts,
// resets; a refused port briefly, as sshd may be starting): no route to the
// host fails at once (see Config.DialAttempts and IsPermanent). A command that was running when the connection dropped returns
// ErrConnectionLost and is not re-run: the caller's phase is idempotent and
// decides. Non-root users run commands through sudo.
//
// Secrets (the sudo password, and anything added to the Redactor) never
// appear in logs or errors: every log line, streamed output and error text
// goes through the Redactor.
package sshx

import (
	"golang.org/x/crypto/ssh"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config describes how to reach one host. The zero values of the optional
// fields give the defaults listed.
type Config struct {
	// Name is the host's inventory name, used in logs and errors.
	Name string
	// Address is the host's IP address or DNS name; Port defaults to 22.
	Address string
	Port    int
	// User defaults to root.
	User string

	// KeyFile is a private key file; "~/" is expanded. Encrypted keys are
	// decrypted with the passphrase Passphrase returns, which is never
	// logged.
	KeyFile    string
	Passphrase func(keyFile string) ([]byte, error)
	// AgentSocket is the ssh-agent socket (default $SSH_AUTH_SOCK);
	// NoAgent disables the agent.
	AgentSocket string
	NoAgent     bool

	// KnownHostsFile defaults to ~/.ssh/known_hosts.
	KnownHostsFile string
	// HostKey pins the host key's SHA256 fingerprint ("SHA256:..."); it
	// replaces the known_hosts check.
	HostKey string
	// AcceptNewHostKeys records an unknown host key in known_hosts on first
	// contact instead of refusing it. A changed key is refused regardless.
	AcceptNewHostKeys bool

	// Sudo runs commands through sudo (for non-root users). SudoPassword is
	// given to sudo on stdin when set; it is added to the Redactor.
	Sudo         bool
	SudoPassword string

	// Jump is the jump host (ProxyJump); the connection to the host is
	// tunnelled through it.
	Jump *Config

	// DialTimeout bounds TCP connect plus SSH handshake (default 15s).
	DialTimeout time.Duration
	// CommandTimeout bounds each command (default: none; ctx still applies).
	CommandTimeout time.Duration
	// KeepaliveInterval is the time between keepalive@openssh.com requests
	// (default 15s; negative disables); after KeepaliveMaxMissed (default 3)
	// unanswered ones the connection is dropped.
	KeepaliveInterval  time.Duration
	KeepaliveMaxMissed int
	// DialAttempts is how many times a connection is tried (default 5),
	// waiting RetryBase (default 1s), doubling up to RetryMax (default 30s),
	// with jitter, between attempts. Only what another attempt may change
	// is retried: timeouts, resets, a handshake cut short. No route to the
	// host or its network, a name that does not resolve, a refused host
	// key or login fail at the first answer (IsPermanent). A refused
	// connection (nothing listens on the port: sshd may be starting) is
	// retried for RefusedGrace (default 10s) at most.
	DialAttempts int
	RetryBase    time.Duration
	RetryMax     time.Duration
	RefusedGrace time.Duration

	// Log receives the commands run and streamed output, through Redactor
	// (default: discarded).
	Log io.Writer
	// Redactor masks secrets in logs and errors (default: a new one).
	Redactor *Redactor

	// signer is KeyFile's key once loaded (and decrypted), so that the
	// passphrase is asked once per client, not at every connection attempt.
	signer ssh.Signer
}

// DefaultRefusedGrace is how long a refused connection is retried: long
// enough for sshd to start on a host that has just booted, short enough
// that a wrong port or a stopped sshd is reported at once.
const DefaultRefusedGrace = 10 * time.Second

func (c *Config) addr() string {
	return net.JoinHostPort(c.Address, strconv.Itoa(c.Port))
}

func (c *Config) agentSocket() string {
	if c.NoAgent {
		return ""
	}
	if c.AgentSocket != "" {
		return c.AgentSocket
	}
	return os.Getenv("SSH_AUTH_SOCK")
}

func (c *Config) rooted() bool { return c.User == "root" }

// withDefaults returns a copy with defaults filled in and paths expanded.
func (c Config) withDefaults() Config {
	if c.Port == 0 {
		c.Port = 22
	}
	if c.User == "" {
		c.User = "root"
	}
	if c.Name == "" {
		c.Name = c.Address
	}
	if c.KnownHostsFile == "" {
		c.KnownHostsFile = "~/.ssh/known_hosts"
	}
	c.KnownHostsFile = ExpandHome(c.KnownHostsFile)
	c.KeyFile = ExpandHome(c.KeyFile)
	c.AgentSocket = ExpandHome(c.AgentSocket)
	if c.DialTimeout <= 0 {
		c.DialTimeout = 15 * time.Second
	}
	if c.KeepaliveInterval == 0 {
		c.KeepaliveInterval = 15 * time.Second
	}
	if c.KeepaliveMaxMissed <= 0 {
		c.KeepaliveMaxMissed = 3
	}
	if c.DialAttempts <= 0 {
		c.DialAttempts = 5
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 30 * time.Second
	}
	if c.RefusedGrace <= 0 {
		c.RefusedGrace = DefaultRefusedGrace
	}
	if c.Redactor == nil {
		c.Redactor = NewRedactor()
	}
	c.Redactor.Add(c.SudoPassword)
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Jump != nil {
		j := *c.Jump
		if j.Redactor == nil {
			j.Redactor = c.Redactor
		}
		if j.Log == nil {
			j.Log = c.Log
		}
		j = j.withDefaults()
		c.Jump = &j
	}
	return c
}

// ExpandHome replaces a leading "~/" (or a lone "~") with the user's home
// directory.
func ExpandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~"))
}
