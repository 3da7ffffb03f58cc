package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/siteca"
)

// newClientCertCmd is deploy client-cert: a client certificate from the
// site CA, for deploy serve --client-certs.
func newClientCertCmd() *cobra.Command {
	var stateDir, out string
	cmd := &cobra.Command{
		Use:   "client-cert NAME [--out DIR]",
		Short: "Issue a client certificate from the site CA (for deploy serve --client-certs)",
		Long: `client-cert issues a certificate for TLS client authentication, signed by
the site CA in --state-dir (created on first use), named NAME, valid for 397
days. It writes NAME.crt and NAME.key (mode 0600) into --out and never
overwrites a file. Give both to the client, over a channel you trust; the
site CA keeps no copy and has no revocation list: a certificate stops working
when it expires or when the site gets a new CA.`,
		Example: `  deploy client-cert worker-1 --out /root/certs
  curl --cacert ca.crt --cert /root/certs/worker-1.crt --key /root/certs/worker-1.key https://10.0.0.5:5443/v2/
  # dnf: sslcacert=, sslclientcert= and sslclientkey= in the .repo file
  # containerd: client = [["worker-1.crt", "worker-1.key"]] in hosts.toml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return issueClientCert(args[0], stateDir, out, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", defaultStateDir(), "directory of the site CA")
	cmd.Flags().StringVar(&out, "out", ".", "directory to write NAME.crt and NAME.key into")
	return cmd
}

func issueClientCert(name, stateDir, out string, stdout io.Writer) error {
	if err := siteca.CheckClientName(name); err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(out, name+".crt"), filepath.Join(out, name+".key")
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s exists; remove it or choose another --out or NAME", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	ca, err := siteca.Open(stateDir)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.IssueClientCertificate(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return err
	}
	// The key first: a certificate without its key is never left behind.
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(certPath, certPEM, 0o644); err != nil {
		os.Remove(keyPath)
		return err
	}
	fmt.Fprintf(stdout, "client certificate %s for %q (site CA %s), key %s\n", certPath, name, ca.CACertPath(), keyPath)
	return nil
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}
