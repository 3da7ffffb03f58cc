package main

import (
	"fmt"

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
PREFIX.pub, the public key. It never overwrites an existing file.

The password comes from the COSIGN_PASSWORD environment variable when it is
set, otherwise from a prompt (asked twice) when standard input is a terminal.

Keep PREFIX.key and its password in CI; give PREFIX.pub to the sites, which
verify bundles with it. The cosign CLI reads both files too.`,
		Example: `  bundle keys generate
  COSIGN_PASSWORD=... bundle keys generate --prefix keys/release`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keyPath, pubPath, fingerprint, err := signing.GenerateKeyPairFiles(prefix, signing.EnvOrTerminalPassword(true))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Private key written to %s\n", keyPath)
			fmt.Fprintf(out, "Public key written to %s\n", pubPath)
			fmt.Fprintf(out, "Public key fingerprint: %s\n", fingerprint)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "cosign", "write the pair to PREFIX.key and PREFIX.pub")
	return cmd
}
