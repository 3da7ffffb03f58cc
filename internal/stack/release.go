package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/charts"
)

// FingerprintLabel labels each revision of a release deploy made (Helm
// keeps it on the revision's Secret) with Fingerprint of its chart and
// values, so that a run with the same ones leaves the release alone.
const FingerprintLabel = "appliance.fingerprint"

// maxHistory is how many revisions of a release Helm keeps.
const maxHistory = 10

// InstallRelease installs or upgrades the release r from the bundle's chart
// with its values files merged in order, and waits for its workloads. It is
// idempotent:
//
//   - no revision: helm install (the namespace is created if missing);
//   - the latest revision deployed with the same Fingerprint: nothing is
//     changed, the workloads are waited for;
//   - the latest revision pending (a run was cut off during an install or
//     upgrade): it is marked failed, then upgraded;
//   - the latest revision uninstalled (kept in history): installed anew,
//     replacing it;
//   - otherwise: helm upgrade, which also recovers a failed install.
//
// Helm does not wait (the wait is this package's, to report the failing
// pods), except for the chart's hooks, which it runs within the timeout.
// A failure is an *Error naming the release.
func (in *Installer) InstallRelease(ctx context.Context, r bundle.Release) error {
	what := Step{Release: &r}.What()
	ch, vals, fp, err := in.loadRelease(r)
	if err != nil {
		return &Error{What: what, Err: err}
	}
	cfg, err := in.helmConfig(r.Namespace)
	if err != nil {
		return &Error{What: what, Err: fmt.Errorf("setting up the Helm SDK: %w", err)}
	}
	last, err := latest(cfg, r.Name)
	if err != nil {
		return &Error{What: what, Err: fmt.Errorf("reading its Helm history: %w", err)}
	}
	rel, err := in.installOrUpgrade(ctx, cfg, r, last, ch, vals, fp)
	if err != nil {
		return &Error{What: what, Err: err}
	}
	ws, err := workloads(rel.Manifest, r.Namespace, "")
	if err != nil {
		return &Error{What: what, Err: fmt.Errorf("reading revision %d's manifest: %w", rel.Version, err)}
	}
	return in.wait(ctx, what, ws)
}

// loadRelease reads the release's chart and values from the bundle.
func (in *Installer) loadRelease(r bundle.Release) (*chart.Chart, map[string]any, string, error) {
	raw, err := in.read(r.Chart, "chart", MaxChartSize)
	if err != nil {
		return nil, nil, "", err
	}
	ch, err := loader.LoadArchive(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, "", fmt.Errorf("chart %s: Helm cannot load it: %w", r.Chart, err)
	}
	var files []map[string]any
	for _, p := range r.Values {
		data, err := in.read(p, "values file", MaxValuesSize)
		if err != nil {
			return nil, nil, "", err
		}
		v, err := charts.ReadValues(p, bytes.NewReader(data))
		if err != nil {
			return nil, nil, "", err
		}
		files = append(files, v)
	}
	vals := charts.MergeValues(files...)
	// The archive's digest is bundle.json's, which reading it just checked:
	// no need to hash it again.
	a, _ := in.bundle.Lookup(r.Chart)
	fp, err := Fingerprint(a.Digest, vals)
	return ch, vals, fp, err
}

// Fingerprint identifies a chart archive (by its digest, "sha256:<hex>")
// and values: the first 128 bits of the sha256 of the digest and the
// values' JSON (keys sorted), in hex, short enough for a label value.
func Fingerprint(chartDigest string, values map[string]any) (string, error) {
	v, err := json.Marshal(values)
	if err != nil {
		return "", fmt.Errorf("values: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(chartDigest + "\n"))
	h.Write(v)
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// latest returns the release's latest revision, or nil when it has none.
func latest(cfg *action.Configuration, name string) (*release.Release, error) {
	h, err := cfg.Releases.History(name)
	if errors.Is(err, driver.ErrReleaseNotFound) || (err == nil && len(h) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	last := h[0]
	for _, r := range h[1:] {
		if r.Version > last.Version {
			last = r
		}
	}
	return last, nil
}

func (in *Installer) installOrUpgrade(ctx context.Context, cfg *action.Configuration, r bundle.Release, last *release.Release, ch *chart.Chart, vals map[string]any, fp string) (*release.Release, error) {
	labels := map[string]string{FingerprintLabel: fp}
	desc := fmt.Sprintf("appliance deploy: %s %s from %s", ch.Metadata.Name, ch.Metadata.Version, r.Chart)
	var status release.Status
	if last != nil && last.Info != nil {
		status = last.Info.Status
	}
	switch {
	case last != nil && status == release.StatusDeployed && last.Labels[FingerprintLabel] == fp:
		in.o.logf("%s: revision %d is deployed from the same chart and values; nothing to change", Step{Release: &r}.What(), last.Version)
		return last, nil
	case last != nil && status.IsPending():
		in.o.logf("%s: revision %d was left %s by an interrupted run; marking it failed to upgrade it", Step{Release: &r}.What(), last.Version, status)
		last.SetStatus(release.StatusFailed, "interrupted; marked failed by appliance deploy")
		if err := cfg.Releases.Update(last); err != nil {
			return nil, fmt.Errorf("marking the interrupted revision %d failed: %w", last.Version, err)
		}
	}
	if last == nil || status == release.StatusUninstalled {
		in.o.logf("helm install %s %s --namespace %s --create-namespace (chart %s %s)", r.Name, r.Chart, r.Namespace, ch.Metadata.Name, ch.Metadata.Version)
		i := action.NewInstall(cfg)
		i.ReleaseName, i.Namespace, i.CreateNamespace = r.Name, r.Namespace, true
		i.Replace = last != nil
		i.Timeout, i.Labels, i.Description = in.o.timeout, labels, desc
		rel, err := i.RunWithContext(ctx, ch, vals)
		if err != nil {
			return nil, fmt.Errorf("helm install: %w", err)
		}
		return rel, nil
	}
	in.o.logf("helm upgrade %s %s --namespace %s (chart %s %s; revision %d is %s)", r.Name, r.Chart, r.Namespace, ch.Metadata.Name, ch.Metadata.Version, last.Version, status)
	u := action.NewUpgrade(cfg)
	u.Namespace, u.MaxHistory = r.Namespace, maxHistory
	u.Timeout, u.Labels, u.Description = in.o.timeout, labels, desc
	rel, err := u.RunWithContext(ctx, r.Name, ch, vals)
	if err != nil {
		return nil, fmt.Errorf("helm upgrade from revision %d: %w", last.Version, err)
	}
	return rel, nil
}

// Change says what InstallRelease would do to release r, reading only:
// "install" (no revision, or only an uninstalled one), "unchanged" (the
// latest revision deployed with the same chart and values), or "upgrade".
func (in *Installer) Change(r bundle.Release) (string, error) {
	_, _, fp, err := in.loadRelease(r)
	if err != nil {
		return "", err
	}
	cfg, err := in.helmConfig(r.Namespace)
	if err != nil {
		return "", fmt.Errorf("setting up the Helm SDK: %w", err)
	}
	last, err := latest(cfg, r.Name)
	if err != nil {
		return "", fmt.Errorf("reading %s's Helm history: %w", r.Name, err)
	}
	switch {
	case last == nil || (last.Info != nil && last.Info.Status == release.StatusUninstalled):
		return "install", nil
	case last.Info != nil && last.Info.Status == release.StatusDeployed && last.Labels[FingerprintLabel] == fp:
		return "unchanged", nil
	}
	return "upgrade", nil
}
