package sshx

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Sentinels for host key refusals; a *HostKeyError matches one of them with
// errors.Is.
var (
	ErrHostKeyUnknown = errors.New("host key is not known")
	ErrHostKeyChanged = errors.New("host key has changed")
)

// HostKeyError refuses a host key: unknown (not in known_hosts, no pin, and
// accepting new keys was not asked for) or changed (known_hosts or the
// inventory pin names a different key). It carries the offered key's
// fingerprint so an operator can check it out of band.
type HostKeyError struct {
	Host        string // the host's inventory name
	Address     string // host:port as dialed
	KeyType     string
	Fingerprint string // SHA256:... of the key the host offered
	Changed     bool
	Pinned      string // the inventory pin, when one was checked
	KnownHosts  string // the known_hosts file consulted
	Known       string // file:line of the conflicting known_hosts entry
}

func (e *HostKeyError) Is(target error) bool {
	return (e.Changed && target == ErrHostKeyChanged) || (!e.Changed && target == ErrHostKeyUnknown)
}

func (e *HostKeyError) Error() string {
	host, port := splitAddr(e.Address)
	if e.Changed {
		what := "the inventory pins " + e.Pinned
		fix := "if the host was reinstalled, verify the new key on the host " +
			"(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and update hostKey in the inventory"
		if e.Pinned == "" {
			what = "known_hosts has a different key at " + e.Known
			fix = fmt.Sprintf("if the host was reinstalled, verify the new key on the host "+
				"(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then remove the old entry "+
				"(ssh-keygen -R %s -f %s) and connect again", knownhosts.Normalize(e.Address), e.KnownHosts)
		}
		return fmt.Sprintf("WARNING: REMOTE HOST KEY CHANGED for %s (%s): it offered %s %s but %s. "+
			"Someone may be intercepting the connection (man-in-the-middle); refused. %s",
			e.Host, e.Address, e.KeyType, e.Fingerprint, what, fix)
	}
	return fmt.Sprintf("host key of %s (%s) is not known: %s %s. Verify it on the host "+
		"(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then either add it to %s "+
		"(ssh-keyscan -p %s %s >> %s), pin it in the inventory (hostKey: %q), "+
		"or run with --accept-new-host-keys to record it on first contact",
		e.Host, e.Address, e.KeyType, e.Fingerprint, e.KnownHosts, port, host, e.KnownHosts, e.Fingerprint)
}

func splitAddr(addr string) (string, string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, "22"
	}
	return host, port
}

// hostKeyPolicy decides whether to trust the key a host offers.
type hostKeyPolicy struct {
	name       string
	knownHosts string
	pin        string
	acceptNew  bool
	log        io.Writer
}

// preferredAlgos orders host key algorithms so that, on a host with several
// keys, the ed25519 key is the one checked and shown.
var preferredAlgos = [][]string{
	{ssh.KeyAlgoED25519},
	{ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521},
	{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256},
}

func flatten(groups [][]string) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// algorithms returns the host key algorithms to offer for addr: those of the
// keys known_hosts holds for it, so a host with several keys is checked with
// the one we know, or all of them, ed25519 first.
func (p *hostKeyPolicy) algorithms(addr string) []string {
	if p.pin != "" {
		return flatten(preferredAlgos)
	}
	cb, err := p.load()
	if err != nil || cb == nil {
		return flatten(preferredAlgos)
	}
	var ke *knownhosts.KeyError
	if err := cb(addr, dummyRemote(addr), zeroKey()); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return flatten(preferredAlgos)
	}
	var algos []string
	for _, k := range ke.Want {
		t := k.Key.Type()
		if t == ssh.KeyAlgoRSA {
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
			continue
		}
		algos = append(algos, t)
	}
	return algos
}

func zeroKey() ssh.PublicKey {
	k, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	return k
}

func dummyRemote(addr string) net.Addr {
	host, port := splitAddr(addr)
	n, _ := strconv.Atoi(port)
	return &net.TCPAddr{IP: net.ParseIP(host), Port: n}
}

// load reads known_hosts; a missing file is an empty one (nil callback).
func (p *hostKeyPolicy) load() (ssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(p.knownHosts)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("known_hosts %s: %w", p.knownHosts, err)
	}
	return cb, nil
}

// callback checks the offered key: against the pin when there is one, else
// against known_hosts, recording an unknown key only when acceptNew is set.
func (p *hostKeyPolicy) callback(addr string) ssh.HostKeyCallback {
	return func(_ string, remote net.Addr, key ssh.PublicKey) error {
		kerr := &HostKeyError{Host: p.name, Address: addr, KeyType: key.Type(),
			Fingerprint: ssh.FingerprintSHA256(key), KnownHosts: p.knownHosts}
		if p.pin != "" {
			if kerr.Fingerprint == p.pin {
				return nil
			}
			kerr.Changed, kerr.Pinned = true, p.pin
			return kerr
		}
		cb, err := p.load()
		if err != nil {
			return err
		}
		if cb != nil {
			err = cb(addr, remote, key)
			var ke *knownhosts.KeyError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &ke) && len(ke.Want) > 0:
				kerr.Changed = true
				kerr.Known = fmt.Sprintf("%s:%d", ke.Want[0].Filename, ke.Want[0].Line)
				return kerr
			case !errors.As(err, &ke):
				return fmt.Errorf("host key of %s (%s): %w", p.name, addr, err)
			}
		}
		if !p.acceptNew {
			return kerr
		}
		return p.record(addr, key)
	}
}

// record appends the key to known_hosts (creating it 0600, its directory
// 0700) with one write, and logs the fingerprint it trusted.
func (p *hostKeyPolicy) record(addr string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(p.knownHosts), 0o700); err != nil {
		return fmt.Errorf("recording the host key of %s: %w", p.name, err)
	}
	f, err := os.OpenFile(p.knownHosts, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("recording the host key of %s: %w", p.name, err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recording the host key of %s in %s: %w", p.name, p.knownHosts, err)
	}
	fmt.Fprintf(p.log, "warning: accepted NEW host key of %s (%s): %s %s; recorded in %s (--accept-new-host-keys)\n",
		p.name, addr, key.Type(), ssh.FingerprintSHA256(key), p.knownHosts)
	return nil
}

// ValidFingerprint reports whether s looks like an OpenSSH SHA256
// fingerprint ("SHA256:" and 43 characters of unpadded base64).
func ValidFingerprint(s string) bool {
	rest, ok := strings.CutPrefix(s, "SHA256:")
	if !ok || len(rest) != 43 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
