// Package build is the bundle pipeline: manifest → lock → fetch into the
// content cache → gates → one signed bundle file.
//
// Build writes the bundle to a temporary file next to the output and renames
// it into place only when every step succeeded, so a failed build never
// leaves a partial bundle behind and never replaces a good one. Everything
// fetched stays in the content cache, so a rerun after a failure fetches
// only what was missing.
package build

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/factory-appliance/appliance/images"
	"github.com/factory-appliance/appliance/internal/build/chartset"
	"github.com/factory-appliance/appliance/internal/build/installplan"
	"github.com/factory-appliance/appliance/internal/build/packcache"
	"github.com/factory-appliance/appliance/internal/build/rpmrepo"
	"github.com/factory-appliance/appliance/internal/build/urlfile"
	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/gate"
	"github.com/factory-appliance/appliance/internal/progress"
	"github.com/factory-appliance/appliance/internal/signing"
	"github.com/factory-appliance/appliance/manifest"
	"github.com/factory-appliance/appliance/manifest/lock"
)

// MinSplit is the smallest part size a bundle can be split at.
const MinSplit = 16 << 20

// minSplit is MinSplit; tests of small bundles lower it.
var minSplit int64 = MinSplit

// Options configure a build. Stack and Output are required.
type Options struct {
	Stack  *manifest.Stack
	Output string
	// Split, when above 0, writes the bundle as parts of at most Split
	// bytes (Output.001, Output.002, ...), cut at frame boundaries, for
	// removable media. bundle.Open reads them as one file.
	Split int64
	// Base, when set, is the bundle file (or split bundle) this one is a
	// delta against: image blobs the base holds are left out, and
	// bundle.json names the base. Deploying the delta then needs the base.
	Base     string
	CacheDir string // default cas.DefaultDir()

	// Mirrors override or add to the manifest's registryMirrors.
	Mirrors manifest.Mirrors
	// Insecure adds to the manifest's insecureRegistries.
	Insecure []string

	// Lock, when set with Locked, pins every remote artifact; upstream
	// drift fails the build with a *lock.DriftError.
	Lock   *lock.Lock
	Locked bool

	// AllowMissing are images the completeness gate accepts as referenced
	// but not bundled (--allow-missing-image), besides the manifest's
	// allowMissingImages. They are recorded in bundle.json.
	AllowMissing []string

	// AllowIncompatible names rows of the compatibility matrix
	// (internal/compat) the stack may break (--allow-incompatible): they
	// are warned about on Warn and recorded in bundle.json, and deploy
	// warns about them again.
	AllowIncompatible []string

	// Signer signs bundle.json. Nil builds an unsigned bundle, which
	// deploy refuses; the command line asks for that by name.
	Signer *signing.Signer

	// Concurrency bounds parallel image pulls (0: a default).
	Concurrency int
	// Workers bounds parallel frame compression (0: GOMAXPROCS).
	Workers int

	Progress  *progress.Reporter // nil: no progress
	Logger    *slog.Logger       // nil: discard
	Transport http.RoundTripper  // nil: the default transport
	// Warn receives warnings (nil: discarded).
	Warn io.Writer
}

// Result describes a written bundle.
type Result struct {
	Path string
	// Parts are the files written: Path alone, or its parts when split.
	Parts []string
	// IndexDigest is the sha256 of bundle.json, which the signature covers
	// and which covers every entry.
	IndexDigest string
	Size        int64 // bytes of the bundle file
	Images      int
	Blobs       int
	Files       int
	Content     int64 // bytes of all entries, uncompressed
	Signed      bool
	Fetched     int // blobs downloaded by this build
	Cached      int // blobs found in the cache
	// Base names the base of a delta bundle; BaseBlobs and BaseBytes count
	// the image blobs left out because the base holds them.
	Base      *bundle.BaseRef
	BaseBlobs int
	BaseBytes int64
	// HashedOnce counts the entries written with the digests computed
	// while this build downloaded them (not hashed a second time).
	HashedOnce int
	Duration   time.Duration
	Signatures int // signature artifacts carried
}

// builder carries the state of one build from step to step.
type builder struct {
	o       Options
	cache   *cas.Store
	puller  *images.Puller
	log     *slog.Logger
	prog    *progress.Reporter
	pins    map[string]string // ref as written → digest (from the lock or the ref)
	pulls   *pullProgress
	images  []*pulledImage
	sigs    []*images.Image
	urls    *urlfile.Fetcher
	files   []fileEntry
	rpms    *rpmrepo.Repo // nil when the stack asks for no RPM
	charts  *chartset.Set
	report  *gate.Report      // the completeness gate's findings
	install *installplan.Plan // what deploy's /stack phase installs
	out     *output
	base    *baseSet // nil unless Options.Base

	// stream is set when the cache can keep the bundle (packs): layers
	// then stream from the registry into the bundle (stream.go), which
	// deferLayers asks the puller for while the stack's images are pulled.
	stream      bool
	deferLayers atomic.Bool
	packs       *packcache.Packs
}

// baseSet is what a delta's base holds.
type baseSet struct {
	ref   *bundle.BaseRef
	blobs map[string]bool // digests of every image blob in the base
	bytes int64           // left out of this bundle
	count int
}

// openBase reads the base bundle's index. It is not authenticated here: a
// forged base could only make the delta leave blobs out, and the site
// opens the real base, signature checked, and refuses one whose bundle.json
// is not the one recorded here.
func (b *builder) openBase(context.Context) error {
	if b.o.Base == "" {
		return nil
	}
	r, err := bundle.Open(b.o.Base)
	if err != nil {
		return fmt.Errorf("base bundle: %w", err)
	}
	defer r.Close()
	if delta, _ := r.IsDelta(); delta {
		return fmt.Errorf("base bundle %s is itself a delta; build against a full bundle", b.o.Base)
	}
	b.base = &baseSet{ref: r.BaseRef(), blobs: map[string]bool{}}
	for _, a := range r.Index().Artifacts {
		if strings.HasPrefix(a.Path, "blobs/") {
			b.base.blobs[a.Digest] = true
		}
	}
	return nil
}

// inBase reports whether the base holds e, an image blob, so this delta
// leaves it out.
func (b *builder) inBase(e entry) bool {
	return b.base != nil && strings.HasPrefix(e.path, "blobs/") && b.base.blobs[e.digest]
}

// Build runs the whole pipeline and writes the bundle to o.Output. The steps,
// in order, are the table of contents of a build. Image layers stream into
// the bundle while later images are still being pulled; nothing is renamed
// into place at o.Output unless every step succeeded.
func Build(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	b, err := newBuilder(o)
	if err != nil {
		return nil, err
	}
	defer b.prog.Close()
	defer b.packs.Close()
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"check compatibility", func(context.Context) error { return b.checkCompat() }},
		{"check the lock", b.checkLock},
		{"read the base bundle", b.openBase},
		{"fetch files", b.fetchFiles},
		{"fetch rpms", b.fetchRPMs},
		{"fetch charts", b.fetchCharts},
		{"plan the install", b.planInstall},
		{"open the bundle", b.openOutput},
		{"pull images", b.pullImages}, // each image's blobs go into the bundle as soon as it is cached
		{"verify image signatures", b.verifySignatures},
		{"check completeness", b.checkCompleteness},
		{"write the bundle", b.writeRest},
		{"sign and finish", b.finish},
	}
	for _, s := range steps {
		if err := s.run(ctx); err != nil {
			b.abortOutput()
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	res := b.result()
	res.Duration = time.Since(start)
	return res, nil
}

// check refuses options no build can run with (DryRun checks them too).
func (o *Options) check() error {
	if o.Stack == nil {
		return fmt.Errorf("build: no stack manifest")
	}
	if o.Split != 0 && o.Split < minSplit {
		return fmt.Errorf("build: --split %d: parts must hold at least %d bytes, since a part ends only where a 4 MiB frame ends; for FAT32 media use --split 4000MiB", o.Split, minSplit)
	}
	if o.Locked && o.Lock == nil {
		return fmt.Errorf("build: --locked needs a lock file: run `bundle lock` first")
	}
	return nil
}

func newBuilder(o Options) (*builder, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.Output == "" {
		return nil, fmt.Errorf("build: no output path: pass -o FILE")
	}
	if o.CacheDir == "" {
		o.CacheDir = cas.DefaultDir()
	}
	cache, err := cas.Open(o.CacheDir)
	pk := packcache.New(o.CacheDir)
	if err == nil {
		cache.SetExternal(pk)
		// Hash each download's 4 MiB chunks as it streams in, so the
		// writer need not hash fresh content again (see builder.add).
		cache.HashChunks(bundle.ChunkSize, bundle.NewChunkHash, bundle.ChunkDigestOf)
	}
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	prog := o.Progress
	if prog == nil {
		prog = progress.Discard()
	}
	b := &builder{o: o, cache: cache, log: log, prog: prog, pins: map[string]string{}, pulls: newPullProgress(prog), packs: pk}
	b.urls = &urlfile.Fetcher{Cache: cache, Transport: b.transport(), Insecure: b.insecureHosts(), Stack: o.Stack, Log: log}
	b.puller, err = images.NewPuller(cache, b.pullerOptions()...)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (b *builder) pullerOptions() []images.Option {
	s := b.o.Stack
	opts := []images.Option{
		images.WithMirrors(s.Spec.RegistryMirrors.With(b.o.Mirrors)),
		images.WithPlatform(s.Spec.Platform.String()),
		images.WithAllPlatforms(s.Spec.AllPlatforms),
		images.WithLogger(b.log),
		images.WithProgress(b.pulls),
		// A delta does not download the layers its base holds.
		images.WithSkipLayers(func(d string) bool {
			return b.base != nil && b.base.blobs[d]
		}),
		images.WithDeferLayers(func(string) bool { return b.deferLayers.Load() }),
	}
	if ins := b.insecureHosts(); len(ins) > 0 {
		opts = append(opts, images.WithInsecureRegistries(ins...))
	}
	if b.o.Concurrency > 0 {
		opts = append(opts, images.WithConcurrency(b.o.Concurrency, 2*b.o.Concurrency))
	}
	if b.o.Transport != nil {
		opts = append(opts, images.WithTransport(b.o.Transport))
	}
	return opts
}
