package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/factory-appliance/appliance/internal/signing"
	"github.com/spf13/cobra"
)

func newKeysCmd() *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Manage the cosign key pair that signs bundles",
	}
	keys.AddCommand(newKeysGenerateCmd())
	return keys
}

func newKeysGenerateCmd() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write a new cosign key pair: PREFIX.key (encrypted) and PREFIX.pub",
		Long: `generate writes a new ECDSA P-256 key pair in cosign's format:
PREFIX.key, the private key encrypted with a password (mode 0600), and
PREFIX.pub, the public key. It never overwrites an existing file. A
directory PREFIX names that does not exist yet is created, mode 0700.

The password comes from the COSIGN_PASSWORD environment variable when it is
set, otherwise from a prompt (asked twice) when standard input is a terminal.

Keep PREFIX.key and its password in CI; give PREFIX.pub to the sites, which
verify bundles with it. The cosign CLI reads both files too.`,
		Example: `  bundle keys generate
  COSIGN_PASSWORD=... bundle keys generate --prefix keys/release`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			created, err := keyDir(prefix)
			if err != nil {
				return err
			}
			if created != "" {
				fmt.Fprintf(out, "Created directory %s (mode 0700)\n", created)
			}
			keyPath, pubPath, fingerprint, err := signing.GenerateKeyPairFiles(prefix, signing.EnvOrTerminalPassword(true))
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Private key written to %s\n", keyPath)
			fmt.Fprintf(out, "Public key written to %s\n", pubPath)
			fmt.Fprintf(out, "Public key fingerprint: %s\n", fingerprint)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "cosign", "write the pair to PREFIX.key and PREFIX.pub")
	return cmd
}

// keyDir makes the directory of prefix when it does not exist (mode 0700:
// it is to hold a private key) and returns it, or "" when it was there.
func keyDir(prefix string) (string, error) {
	dir := filepath.Dir(prefix)
	st, err := os.Stat(dir)
	switch {
	case err == nil && st.IsDir():
		return "", nil
	case err == nil:
		return "", fmt.Errorf("--prefix %s: %s is not a directory; choose a prefix in a directory, such as keys/release", prefix, dir)
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("--prefix %s: %w", prefix, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("--prefix %s: creating %s: %w; create it yourself (mkdir -p %s) or choose another prefix", prefix, dir, err, dir)
	}
	return dir, nil
}
