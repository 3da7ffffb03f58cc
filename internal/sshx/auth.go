package sshx

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// ErrNoAuth is returned when a host has neither a usable key file nor an
// ssh-agent.
var ErrNoAuth = errors.New("no SSH authentication method")

// ErrAuth is returned when the host rejected every key offered.
var ErrAuth = errors.New("SSH authentication failed")

// authMethods returns the key file's signer (asking Passphrase for an
// encrypted key, once: the signer is kept in cfg) and then the agent's keys. The returned closer releases the
// agent connection; it is never nil.
func authMethods(cfg *Config) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	if cfg.KeyFile != "" {
		if cfg.signer == nil {
			s, err := loadKey(cfg)
			if err != nil {
				return nil, func() {}, err
			}
			cfg.signer = s
		}
		signers = append(signers, cfg.signer)
	}
	methods := []ssh.AuthMethod{}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	closeAgent := func() {}
	if sock := cfg.agentSocket(); sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil && len(methods) == 0 {
			return nil, closeAgent, fmt.Errorf("%w for %s: ssh-agent at %s: %v; start an agent with the key loaded, "+
				"or set keyFile in the inventory", ErrNoAuth, cfg.Name, sock, err)
		}
		if err == nil {
			methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
			closeAgent = func() { conn.Close() }
		}
	}
	if len(methods) == 0 {
		return nil, closeAgent, fmt.Errorf("%w for %s: set keyFile in the inventory or start ssh-agent (SSH_AUTH_SOCK)",
			ErrNoAuth, cfg.Name)
	}
	return methods, closeAgent, nil
}

// loadKey reads the private key file. An encrypted key is decrypted with the
// passphrase from cfg.Passphrase; the passphrase is never logged or kept.
func loadKey(cfg *Config) (ssh.Signer, error) {
	pem, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("SSH key for %s: %w; fix keyFile in the inventory or use ssh-agent", cfg.Name, err)
	}
	s, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		if err != nil {
			return nil, fmt.Errorf("SSH key %s: %w", cfg.KeyFile, err)
		}
		return s, nil
	}
	if cfg.Passphrase == nil {
		return nil, fmt.Errorf("SSH key %s is encrypted and no passphrase prompt is available; "+
			"load it into ssh-agent instead", cfg.KeyFile)
	}
	pass, err := cfg.Passphrase(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("passphrase for SSH key %s: %w", cfg.KeyFile, err)
	}
	defer clear(pass)
	s, err = ssh.ParsePrivateKeyWithPassphrase(pem, pass)
	if err != nil {
		return nil, fmt.Errorf("SSH key %s: wrong passphrase or damaged key: %w", cfg.KeyFile, err)
	}
	return s, nil
}
