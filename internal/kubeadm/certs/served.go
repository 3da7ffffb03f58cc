package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"
)

// Ports a master serves kubeadm's certificates on, with the file each
// serves: the apiserver's and etcd's client port. Served checks them after
// a renewal.
var ServedFiles = []struct {
	Port int
	Path string
}{
	{6443, "/etc/kubernetes/pki/apiserver.crt"},
	{2379, "/etc/kubernetes/pki/etcd/server.crt"},
}

// errGotLeaf ends a handshake once the server's certificate is in hand.
var errGotLeaf = errors.New("got the server certificate")

// ServedLeaf returns the DER of the certificate addr serves. It only reads
// it: the handshake is ended as soon as the server's certificate arrives,
// so nothing is trusted, and etcd, which asks for a client certificate,
// answers too.
func ServedLeaf(ctx context.Context, addr string) ([]byte, error) {
	var leaf []byte
	cfg := &tls.Config{
		InsecureSkipVerify: true, // only read: the handshake is ended in VerifyPeerCertificate
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) > 0 {
				leaf = append([]byte(nil), raw[0]...)
			}
			return errGotLeaf
		},
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if c != nil {
		c.Close()
	}
	if leaf != nil {
		return leaf, nil
	}
	if err == nil {
		err = errors.New("no certificate")
	}
	return nil, fmt.Errorf("reading the certificate %s serves: %w", addr, err)
}

// WaitServed waits, up to timeout, until addr serves the certificate want
// (DER).
func WaitServed(ctx context.Context, addr string, want []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		got, err := ServedLeaf(ctx, addr)
		switch {
		case err != nil:
			last = err
		case bytes.Equal(got, want):
			return nil
		default:
			last = fmt.Errorf("%s serves another certificate than the renewed one", addr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
