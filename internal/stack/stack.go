// Package stack installs a bundle's install plan (bundle.Component.Releases
// and .Manifests) onto a cluster, from the deploy node, through the
// cluster-admin kubeconfig:
//
//   - a release is installed with the Helm SDK (action.Install, or
//     action.Upgrade when the release exists) from the chart entry of the
//     bundle with its values files merged in order; Helm keeps it in its
//     default storage, one Secret per revision in the release's namespace,
//     which is created when missing;
//   - a component's manifests are applied by server-side apply (field
//     manager FieldManager, conflicts forced) in file order, except that
//     CustomResourceDefinitions go first and must be Established, and
//     Namespaces second, before anything else is applied;
//   - then it waits, within a timeout, until every Deployment, StatefulSet
//     and DaemonSet the step made has rolled out and every Job has
//     completed. A step that does not get there fails with an *Error that
//     names the release or manifest, the workloads not ready and their
//     pods that are not, each with its reason (a container's waiting or
//     terminated reason and message, an unschedulable pod's condition, the
//     pod's last warning event).
//
// Every step is idempotent: a release whose latest revision is deployed
// from the same chart and values (the fingerprint label) is not upgraded
// again, only waited for; a release an interrupted run left pending is
// marked failed and upgraded; server-side apply of the same manifests
// changes nothing. Nothing is rewritten: images keep their names, and the
// nodes pull them through containerd's mirrors.
//
// Chart archives and values files are read from the bundle whole (a chart
// is at most a few MiB, bounded by MaxChartSize); every byte read has
// matched its digest in the signed bundle.json (bundle.Reader.Open).
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/kube"
	"github.com/factory-appliance/appliance/manifest/template"
)

// FieldManager owns the fields of everything the manifests apply.
const FieldManager = "appliance-deploy"

// DefaultTimeout bounds the wait of one step for its workloads.
const DefaultTimeout = 10 * time.Minute

// Size limits of what is read from the bundle into memory.
const (
	MaxChartSize    = 20 << 20
	MaxValuesSize   = 4 << 20
	MaxManifestSize = 32 << 20
)

// Bundle is what the installer reads from a bundle: *bundle.Reader.
type Bundle interface {
	Lookup(path string) (bundle.Artifact, bool)
	Open(a bundle.Artifact) (io.ReadCloser, error)
}

// Step is one step of the install plan: one release, or the manifests of
// one component.
type Step struct {
	Component string
	Release   *bundle.Release // nil for manifests
	Manifests []string        // entry paths, when Release is nil
}

// Name is the step's name, unique in a bundle (bundle.ParseIndex checks
// it): the release's name, or "<component>-manifests".
func (s Step) Name() string {
	if s.Release != nil {
		return s.Release.Name
	}
	return s.Component + bundle.ManifestsSuffix
}

// What names the step in messages: "release nfs (namespace storage)",
// "manifests of component calico".
func (s Step) What() string {
	if s.Release != nil {
		return fmt.Sprintf("release %s (namespace %s)", s.Release.Name, s.Release.Namespace)
	}
	return "manifests of component " + s.Component
}

// Steps lists the install plan of the index in order: components in the
// stack's order, each component's releases, then its manifests. The pod
// network's component is left out: NetworkSteps lists it.
func Steps(x *bundle.Index) []Step { return steps(x, false) }

// NetworkSteps lists the steps of the component that is the cluster's pod
// network (bundle.Component.PodNetwork), which deploy installs while it
// brings up Kubernetes; none when the bundle carries no CNI.
func NetworkSteps(x *bundle.Index) []Step { return steps(x, true) }

func steps(x *bundle.Index, network bool) []Step {
	var out []Step
	for _, c := range x.Components {
		if c.PodNetwork != network {
			continue
		}
		for i := range c.Releases {
			out = append(out, Step{Component: c.Name, Release: &c.Releases[i]})
		}
		if len(c.Manifests) > 0 {
			out = append(out, Step{Component: c.Name, Manifests: c.Manifests})
		}
	}
	return out
}

// Installer installs steps into one cluster. It is safe for concurrent
// use, but steps of one plan are meant to run one after another.
type Installer struct {
	bundle  Bundle
	cluster *kube.Cluster
	dynamic dynamic.Interface                       // cluster.Dynamic
	mapper  *restmapper.DeferredDiscoveryRESTMapper // cluster.Mapper
	o       options
}

type options struct {
	endpoint string
	timeout  time.Duration
	poll     time.Duration
	logf     func(format string, args ...any)
	data     *template.Data
}

// Option configures an Installer.
type Option func(*options)

// WithTimeout bounds each step's wait for its workloads (default
// DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithAPIServer pins the API server: the kubeconfig's server must be
// https://endpoint (HOST:PORT), the endpoint deploy configured, so a
// kubeconfig from a master cannot send the installer elsewhere.
func WithAPIServer(endpoint string) Option { return func(o *options) { o.endpoint = endpoint } }

// WithPoll sets how often a wait reads the workloads again (default 1s).
func WithPoll(d time.Duration) Option { return func(o *options) { o.poll = d } }

// WithTemplateData renders the values files and manifests the bundle marks
// as templates (bundle.AnnotationTemplate) with d, the site's data; without
// it such a step fails.
func WithTemplateData(d template.Data) Option { return func(o *options) { o.data = &d } }

// WithLogf sends progress lines to logf (default: discarded).
func WithLogf(logf func(format string, args ...any)) Option {
	return func(o *options) { o.logf = logf }
}

// Open returns an installer for the cluster of the admin kubeconfig file
// at path that reads charts, values and manifests from b. It contacts
// nothing. The cluster is reached through internal/kube: the kubeconfig
// must be of kubeadm's shape (kubeconfig.Load: the
// client certificate inline; no plugin, file path or proxy), and the
// client configuration is built from its fields, never by clientcmd.
func Open(path string, b Bundle, opts ...Option) (*Installer, error) {
	o := options{timeout: DefaultTimeout, poll: time.Second, logf: func(string, ...any) {}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.timeout <= 0 || o.poll <= 0 {
		return nil, errors.New("stack: the timeout and the poll interval must be positive")
	}
	// Helm and the waits issue many small requests; client-go's default
	// of 5 per second would make a stack install crawl.
	// The API server's warnings (a deprecated API in a chart) go to the
	// progress lines, escaped by internal/kube.
	c, err := kube.Open(path, o.endpoint, kube.Options{UserAgent: "appliance-deploy", QPS: 50, Burst: 100, Warnings: logfWriter(o.logf)})
	if err != nil {
		return nil, err
	}
	return &Installer{bundle: b, cluster: c, dynamic: c.Dynamic, mapper: c.Mapper, o: o}, nil
}

// logfWriter writes each Write as one progress line.
type logfWriter func(format string, args ...any)

func (l logfWriter) Write(p []byte) (int, error) {
	l("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Run runs one step: InstallRelease or ApplyManifests.
func (in *Installer) Run(ctx context.Context, s Step) error {
	if s.Release != nil {
		return in.InstallRelease(ctx, *s.Release)
	}
	return in.ApplyManifests(ctx, s.Component, s.Manifests)
}

// read reads a whole entry of the bundle, of at most limit bytes.
func (in *Installer) read(path, kind string, limit int64) ([]byte, error) {
	a, ok := in.bundle.Lookup(path)
	if !ok {
		return nil, fmt.Errorf("%s %s is not in the bundle; the bundle is damaged: get an intact copy", kind, path)
	}
	if a.Size > limit {
		return nil, fmt.Errorf("%s %s is %d bytes, more than the %d deploy reads; split it in the stack and rebuild the bundle", kind, path, a.Size, limit)
	}
	rc, err := in.bundle.Open(a)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, path, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, path, err)
	}
	if a.Annotations[bundle.AnnotationTemplate] != "true" {
		return data, nil
	}
	if in.o.data == nil {
		return nil, fmt.Errorf("%s %s is a template and this installer has no site data to render it with (stack.WithTemplateData)", kind, path)
	}
	out, err := template.Render(path, data, *in.o.data)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w; set what it needs in the inventory", kind, path, err)
	}
	return out, nil
}
