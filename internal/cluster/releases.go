package cluster

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"

	"helm.sh/helm/v3/pkg/release"
)

// Release is the latest revision of one Helm release.
type Release struct {
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	Revision   int    `json:"revision"`
	Status     string `json:"status"`
	Chart      string `json:"chart"` // name-version, as helm list shows it
	AppVersion string `json:"appVersion,omitempty"`
}

// Releases lists the latest revision of every Helm release in every
// namespace, sorted by namespace and name, as `helm list -A --all` does.
//
// It reads Helm's storage itself rather than through the Helm SDK's
// action.List: that package would bring kubectl, cli-runtime, containerd
// and Helm's SQL drivers into deploy (about fifty modules) for one list.
// The storage read is Helm's default, the "secret" driver: one Secret per
// revision, labelled owner=helm, whose data "release" is the release as
// base64 of gzip'd JSON (helm.sh/helm/v3/pkg/storage/driver). Releases kept
// with HELM_DRIVER=configmap or sql are not seen; deploy installs with the
// default driver.
func (c *Client) Releases(ctx context.Context) ([]Release, error) {
	var list struct {
		Items []struct {
			Metadata objectMeta        `json:"metadata"`
			Data     map[string][]byte `json:"data"` // base64 in JSON
		} `json:"items"`
	}
	if err := c.get(ctx, "/api/v1/secrets", url.Values{"labelSelector": {"owner=helm"}}, &list); err != nil {
		return nil, err
	}
	latest := map[string]*release.Release{}
	for _, s := range list.Items {
		r, err := decodeRelease(s.Data["release"])
		if err != nil {
			return nil, fmt.Errorf("helm release secret %s/%s: %w", s.Metadata.Namespace, s.Metadata.Name, err)
		}
		key := r.Namespace + "/" + r.Name
		if old, ok := latest[key]; !ok || r.Version > old.Version {
			latest[key] = r
		}
	}
	out := make([]Release, 0, len(latest))
	for _, r := range latest {
		out = append(out, releaseOf(r))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func releaseOf(r *release.Release) Release {
	v := Release{Name: r.Name, Namespace: r.Namespace, Revision: r.Version}
	if r.Info != nil {
		v.Status = r.Info.Status.String()
	}
	if r.Chart != nil && r.Chart.Metadata != nil {
		v.Chart = r.Chart.Metadata.Name + "-" + r.Chart.Metadata.Version
		v.AppVersion = r.Chart.Metadata.AppVersion
	}
	return v
}

// maxRelease bounds one release's JSON, unpacked: Helm stores a release
// in one Secret, at most 1 MiB packed.
const maxRelease = 64 << 20

// gzipMagic starts gzip'd data; Helm 2-era releases were stored without it.
var gzipMagic = []byte{0x1f, 0x8b, 0x08}

// decodeRelease decodes what Helm's secret driver stores: base64 of the
// release's JSON, gzip'd unless it is an old release.
func decodeRelease(data []byte) (*release.Release, error) {
	b, err := base64.StdEncoding.DecodeString(string(data))
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, gzipMagic) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		if b, err = io.ReadAll(io.LimitReader(zr, maxRelease+1)); err != nil {
			return nil, err
		}
		if len(b) > maxRelease {
			return nil, fmt.Errorf("the release is larger than %d MiB unpacked", maxRelease>>20)
		}
	}
	var r release.Release
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
