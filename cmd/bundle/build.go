package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/factory-appliance/appliance/internal/build"
	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/progress"
	"github.com/factory-appliance/appliance/internal/signing"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// defaultStack is the stack `bundle build` builds when no -f is given.
const defaultStack = "kubesphere"

// stackFlags choose a manifest: a file, or a stack built into the binary.
type stackFlags struct {
	file  string
	stack string
}

func (s *stackFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&s.file, "file", "f", "", "stack manifest `FILE`")
	cmd.Flags().StringVar(&s.stack, "stack", "", "a stack built into the binary (see `bundle stacks`), used when -f is not given")
}

func (s *stackFlags) load() (*manifest.Stack, error) {
	if s.file != "" && s.stack != "" {
		return nil, fmt.Errorf("give either -f FILE or --stack NAME, not both")
	}
	if s.file != "" {
		return manifest.Load(s.file)
	}
	name := s.stack
	if name == "" {
		name = defaultStack
	}
	return manifest.Builtin(name)
}

// lockPath is where the lock of the chosen manifest lives.
func (s *stackFlags) lockPath(flag string, st *manifest.Stack) string {
	if flag != "" {
		return flag
	}
	if s.file != "" {
		return lock.DefaultPath(s.file)
	}
	return st.Metadata.Name + ".lock.yaml"
}

// fetchFlags configure where content is fetched from.
type fetchFlags struct {
	cacheDir    string
	mirrors     []string
	insecure    []string
	concurrency int
	quiet       bool
	verbose     bool
}

func (f *fetchFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.cacheDir, "cache-dir", cas.DefaultDir(), "content cache `DIR`; a rebuild fetches nothing already in it")
	cmd.Flags().StringArrayVar(&f.mirrors, "registry-mirror", nil, "pull REGISTRY's images from MIRROR: `REGISTRY=HOST[:PORT]` (repeatable; overrides the manifest's registryMirrors)")
	cmd.Flags().StringArrayVar(&f.insecure, "insecure-registry", nil, "allow plain HTTP to `HOST[:PORT]` (loopback never needs it; repeatable)")
	cmd.Flags().IntVar(&f.concurrency, "concurrency", 0, "images pulled at once (default 8)")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "print only errors and the summary")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "log each registry decision")
}

// parseMirrors reads the --registry-mirror flags.
func (f *fetchFlags) parseMirrors() (manifest.Mirrors, error) {
	mirrors := manifest.Mirrors{}
	for _, m := range f.mirrors {
		reg, host, err := manifest.ParseMirror(m)
		if err != nil {
			return nil, fmt.Errorf("--registry-mirror %q: %w", m, err)
		}
		mirrors[reg] = host
	}
	return mirrors, nil
}

func (f *fetchFlags) options(cmd *cobra.Command, st *manifest.Stack) (build.Options, error) {
	mirrors, err := f.parseMirrors()
	if err != nil {
		return build.Options{}, err
	}
	mode := progress.Auto
	if f.quiet {
		mode = progress.Quiet
	}
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	errOut := cmd.ErrOrStderr()
	return build.Options{
		Stack:       st,
		CacheDir:    f.cacheDir,
		Mirrors:     mirrors,
		Insecure:    f.insecure,
		Concurrency: f.concurrency,
		Progress:    progress.New(errOut, mode, len(st.Images())),
		Logger:      slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: level})),
	}, nil
}

// signalContext is cancelled by SIGINT or SIGTERM, so a build stops cleanly
// and removes its temporary file.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func newBuildCmd() *cobra.Command {
	var (
		sf           stackFlags
		ff           fetchFlags
		output       string
		locked       bool
		lockFile     string
		signKey      string
		unsigned     bool
		dryRun       bool
		workers      int
		allow        []string
		incompatible []string
		split        string
		base         string
	)
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build a signed bundle from a stack manifest",
		Long: `build resolves every image and file of the stack, fetches what the content
cache lacks (in parallel, each byte checked against its digest), and writes one
seekable, compressed bundle file, signed with --sign-key.

The file is written next to OUT under a temporary name and renamed into place
only when everything succeeded: a failed build leaves no partial bundle.
--split SIZE writes it as parts of at most SIZE (OUT.001, OUT.002, ...) for
removable media, cut where a frame ends: each part is a valid zstd file, cat
joins them into the bundle, and every bundle and deploy command opens them as
one file, given OUT or OUT.001, without joining them. With
--locked the build fetches exactly the digests of the lock file and fails,
listing each one, if upstream has drifted.

Without -f it builds the stack built into the binary (--stack, default
"kubesphere").`,
		Example: `  bundle build -f stack.yaml -o stack.bundle --sign-key cosign.key
  bundle build -f stack.yaml -o stack.bundle --sign-key cosign.key --locked
  bundle build --stack demo -o demo.bundle --registry-mirror registry.factory.example=127.0.0.1:5000 --unsigned
  bundle build -f stack.yaml -o stack.bundle --sign-key cosign.key --split 4000MiB   # FAT32 media
  bundle build -f stack.yaml -o stack-1.1.bundle --sign-key cosign.key --base stack-1.0.bundle   # delta
  bundle build -f stack.yaml --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := sf.load()
			if err != nil {
				return err
			}
			warnTemplates(cmd.ErrOrStderr(), st)
			var o build.Options
			if dryRun {
				o.Stack = st
				if o.Mirrors, err = ff.parseMirrors(); err != nil {
					return err
				}
			} else if o, err = ff.options(cmd, st); err != nil {
				return err
			}
			o.Output, o.Workers, o.Locked, o.AllowMissing, o.Base = output, workers, locked, allow, base
			o.AllowIncompatible, o.Warn = incompatible, cmd.ErrOrStderr()
			if split != "" {
				if o.Split, err = progress.ParseBytes(split); err != nil {
					return fmt.Errorf("--split: %w", err)
				}
			}
			if o.Output == "" {
				o.Output = st.Metadata.Name + "-" + st.Metadata.Version + ".bundle"
			}
			if locked {
				if o.Lock, err = lock.Load(sf.lockPath(lockFile, st)); err != nil {
					return err
				}
			}
			if dryRun {
				// The checks a build makes before it fetches anything; it fails
				// where lint and build would.
				return build.DryRun(cmd.OutOrStdout(), o)
			}
			if o.Signer, err = loadSigner(cmd.ErrOrStderr(), signKey, unsigned); err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			res, err := build.Build(ctx, o)
			if err != nil {
				return err
			}
			printResult(cmd.OutOrStdout(), res)
			return nil
		},
	}
	sf.register(cmd)
	ff.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "bundle `FILE` to write (default NAME-VERSION.bundle)")
	cmd.Flags().BoolVar(&locked, "locked", false, "fetch exactly what the lock file pins; fail if upstream drifted")
	cmd.Flags().StringVar(&lockFile, "lock-file", "", "lock `FILE` (default: next to the manifest, NAME.lock.yaml)")
	cmd.Flags().StringVar(&signKey, "sign-key", "", "cosign private `KEY` that signs bundle.json (password from COSIGN_PASSWORD or a prompt)")
	cmd.Flags().BoolVar(&unsigned, "unsigned", false, "write an unsigned bundle (deploy refuses it without --insecure-skip-verify)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "run the checks that need no network (as lint does, and --locked, --base, --split), print what would be fetched, and fetch nothing")
	cmd.Flags().StringArrayVar(&incompatible, "allow-incompatible", nil, "build although the stack breaks `ROW` of the compatibility matrix (such as kubesphere-kubernetes); unsupported, warned about and recorded in the bundle (repeatable)")
	cmd.Flags().StringArrayVar(&allow, "allow-missing-image", nil, "accept `REF` as referenced by a chart or manifest but not bundled; recorded in the bundle (repeatable)")
	cmd.Flags().StringVar(&base, "base", "", "build a delta against the bundle `FILE`: leave out the image blobs it holds (deploy then needs --base FILE)")
	cmd.Flags().StringVar(&split, "split", "", "write parts of at most `SIZE` (e.g. 4000MiB for FAT32): OUT.001, OUT.002, ...")
	cmd.Flags().IntVar(&workers, "compress-workers", 0, "frames compressed at once (default: the number of CPUs); the output does not depend on it")
	return cmd
}

// loadSigner loads the signing key, or warns about an unsigned bundle when
// that was asked for by name. Neither is an error only with exactly one.
func loadSigner(warn io.Writer, key string, unsigned bool) (*signing.Signer, error) {
	switch {
	case key != "" && unsigned:
		return nil, fmt.Errorf("give either --sign-key or --unsigned, not both")
	case unsigned:
		fmt.Fprintln(warn, "WARNING: writing an UNSIGNED bundle: deploy refuses it unless run with --insecure-skip-verify")
		return nil, nil
	case key == "":
		return nil, fmt.Errorf("no signing key: pass --sign-key cosign.key (make a pair with `bundle keys generate`), or --unsigned for a test bundle")
	}
	return signing.LoadSigner(key, signing.EnvOrTerminalPassword(false))
}

func printResult(w io.Writer, r *build.Result) {
	sig := "signed"
	if !r.Signed {
		sig = "UNSIGNED"
	}
	fmt.Fprintf(w, "wrote %s (%s, %s)\n", r.Path, progress.HumanBytes(r.Size), sig)
	if r.Base != nil {
		fmt.Fprintf(w, "  delta:      against %s %s; %d blobs (%s) left to the base\n", r.Base.Name, r.Base.Version, r.BaseBlobs, progress.HumanBytes(r.BaseBytes))
	}
	if len(r.Parts) > 1 {
		fmt.Fprintf(w, "  parts:      %d: %s ... %s (open it as %s or %s)\n", len(r.Parts), r.Parts[0], r.Parts[len(r.Parts)-1], r.Path, r.Parts[0])
	}
	fmt.Fprintf(w, "  index:      bundle.json %s (what the signature covers)\n", r.IndexDigest)
	fmt.Fprintf(w, "  images:     %d (%d blobs, %d fetched, %d from cache, %d signatures)\n", r.Images, r.Blobs, r.Fetched, r.Cached, r.Signatures)
	fmt.Fprintf(w, "  files:      %d\n", r.Files)
	ratio := 0.0
	if r.Size > 0 {
		ratio = float64(r.Content) / float64(r.Size)
	}
	fmt.Fprintf(w, "  content:    %s, compressed %.2fx\n", progress.HumanBytes(r.Content), ratio)
	fmt.Fprintf(w, "  took:       %s\n", r.Duration.Round(1e6))
}
