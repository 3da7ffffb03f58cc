package main

import (
	"fmt"
	"io"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/bundle/extract"
	"github.com/factory-appliance/appliance/internal/bundle/inspect"
	"github.com/factory-appliance/appliance/internal/progress"
	"github.com/factory-appliance/appliance/internal/trust"
	"github.com/spf13/cobra"
)

// noKeyWarning is what verify, cat and extract write to stderr when they
// run without --key: they still check every digest, but not who made the
// bundle, and they never skip the signature silently.
const noKeyWarning = "WARNING: no --key: the signature is not checked, only the digests"

func warnNoKey(w io.Writer, key string) {
	if key == "" {
		fmt.Fprintln(w, noKeyWarning)
	}
}

// openWithBase opens a bundle with trust.OpenOptionalKey: with --key its
// signature is checked before anything in its index is trusted; without,
// only its integrity, on every read (bundle's read commands are tools for
// CI and inspection, while deploy refuses a bundle it cannot verify). When
// base is not empty, the bundle it was built against is layered under it,
// checked with the same key.
func openWithBase(path, base, key string) (*bundle.Reader, error) {
	open := func(p string, opts ...bundle.OpenOption) (*bundle.Reader, error) {
		return trust.OpenOptionalKey(p, key, opts...)
	}
	if base == "" {
		return open(path)
	}
	return trust.OpenLayered(path, base, open)
}

func newInspectCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect BUNDLE",
		Short: "Show a bundle's components, artifacts, sizes, dedup savings and compression",
		Long: `inspect reads only the bundle's index (it takes the same time for any
size of bundle) and prints its components, the artifacts by kind, the bytes
saved by storing shared layers once, and the compression ratio. The index is
not authenticated here: use ` + "`bundle verify --key`" + ` for that.`,
		Example: `  bundle inspect stack.bundle
  bundle inspect stack.bundle --json | jq .dedupSavedBytes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := bundle.Open(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			s, err := inspect.Inspect(r)
			if err != nil {
				return err
			}
			if asJSON {
				return s.WriteJSON(cmd.OutOrStdout())
			}
			return s.WriteText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func newVerifyCmd() *cobra.Command {
	var (
		key   string
		base  string
		quiet bool
	)
	cmd := &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Check a bundle's signature and every digest",
		Long: `verify checks the cosign signature over bundle.json with --key, then
decompresses every frame and checks every artifact's sha256, size and chunk
digests, and walks the tar stream as tar would, refusing anything the index
does not list. It exits non-zero and names each broken artifact.

Without --key the signature is not checked (a warning says so): the digests
then prove only that the file is intact, not who made it.`,
		Example: `  bundle verify stack.bundle --key cosign.pub
  bundle verify stack-1.1.bundle --key cosign.pub --base stack-1.0.bundle   # a delta with its base
  bundle verify stack.bundle            # integrity only`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			errOut := cmd.ErrOrStderr()
			warnNoKey(errOut, key)
			r, err := openWithBase(args[0], base, key)
			if err != nil {
				return err
			}
			defer r.Close()
			ctx, stop := signalContext()
			defer stop()
			mode := progress.Auto
			if quiet {
				mode = progress.Quiet
			}
			idx := r.Index()
			rep := progress.New(errOut, mode, 0)
			var total int64
			for _, a := range r.Artifacts() {
				total += a.Size
			}
			rep.Start("verify", "verify "+args[0], total)
			err = r.Verify(ctx, func(a bundle.Artifact, err error) { rep.Add("verify", a.Size) })
			if err == nil {
				err = r.Scan(ctx, nil)
			}
			rep.Done("verify", err, "")
			rep.Close()
			if err != nil {
				return err
			}
			sig := "signature verified with " + key
			if key == "" {
				sig = "signature NOT checked"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: %s %s, %d artifacts, %d images; %s\n", args[0], idx.Name, idx.Version, len(r.Artifacts()), len(idx.Images), sig)
			if delta, hasBase := r.IsDelta(); delta && !hasBase {
				fmt.Fprintf(cmd.OutOrStdout(), "a delta bundle: the blobs it leaves to its base %s %s were not checked; add --base FILE\n", idx.Base.Name, idx.Base.Version)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign public `KEY` the bundle must be signed with")
	cmd.Flags().StringVar(&base, "base", "", "for a delta bundle: the bundle `FILE` it was built against, checked too")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only errors and the result")
	return cmd
}

func newCatCmd() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "cat BUNDLE PATH",
		Short: "Write one entry of a bundle to stdout, verified",
		Long: `cat decompresses only the frames of one entry and writes it to stdout. The
entry's sha256 is checked as it streams: on a mismatch cat exits non-zero
(the bytes already written must then be discarded).

Without --key the signature is not checked (a warning on stderr says so).`,
		Example: `  bundle cat stack.bundle index.json | jq .
  bundle cat stack.bundle bundle.json --key cosign.pub
  bundle cat stack.bundle files/core/app.conf > app.conf`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			warnNoKey(cmd.ErrOrStderr(), key)
			r, err := trust.OpenOptionalKey(args[0], key)
			if err != nil {
				return err
			}
			defer r.Close()
			switch args[1] {
			case bundle.IndexName:
				_, err := cmd.OutOrStdout().Write(r.IndexBytes())
				return err
			case bundle.SignatureName:
				if r.Signature() == nil {
					return fmt.Errorf("%s is unsigned: it has no %s", args[0], bundle.SignatureName)
				}
				_, err := cmd.OutOrStdout().Write(r.Signature())
				return err
			}
			a, ok := r.Lookup(args[1])
			if !ok {
				return fmt.Errorf("%s has no entry %q; list them with `bundle cat %s bundle.json`", args[0], args[1], args[0])
			}
			rc, err := r.Open(a)
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(cmd.OutOrStdout(), rc)
			return err
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "check the signature with this cosign public `KEY` first")
	return cmd
}

func newExtractCmd() *cobra.Command {
	var (
		dir string
		key string
	)
	cmd := &cobra.Command{
		Use:   "extract BUNDLE -C DIR",
		Short: "Unpack a bundle safely into a directory",
		Long: `extract writes every entry into DIR, as ` + "`zstd -dc BUNDLE | tar -x`" + ` would, but
refuses absolute paths, "..", links and device files, and renames each file
into place only after its digest matched.

Without --key the signature is not checked (a warning says so).`,
		Example: `  bundle extract stack.bundle -C /tmp/stack
  bundle extract stack.bundle -C /tmp/stack --key cosign.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return fmt.Errorf("no target directory: pass -C DIR")
			}
			warnNoKey(cmd.ErrOrStderr(), key)
			r, err := trust.OpenOptionalKey(args[0], key)
			if err != nil {
				return err
			}
			defer r.Close()
			ctx, stop := signalContext()
			defer stop()
			if err := extract.Extract(ctx, r, dir, nil); err != nil {
				return err
			}
			sig := "signature verified with " + key
			if key == "" {
				sig = "signature NOT checked"
			}
			n := len(r.Artifacts()) + 1 // and bundle.json
			if r.Signature() != nil {
				n++
			}
			fmt.Fprintf(cmd.OutOrStdout(), "extracted %d entries into %s; %s\n", n, dir, sig)
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "directory", "C", "", "target `DIR` (created if needed)")
	cmd.Flags().StringVar(&key, "key", "", "check the signature with this cosign public `KEY` first")
	return cmd
}
