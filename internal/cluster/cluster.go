// Package cluster reads what deploy status shows of a running cluster, its
// nodes and its Helm releases, through the cluster-admin kubeconfig. It only
// reads: it never changes anything in the cluster.
//
// It reaches the API server as everything after /kubernetes does, through
// internal/kube (the REST configuration built from a kubeconfig of
// kubeadm's shape: the client certificate inline, no plugin, file or
// proxy), with that configuration's transport. It decodes the two answers
// it reads itself, into the few fields it shows, so that each is read with
// a bound (maxAnswer, maxRelease: the cluster is a master's) and an answer
// other than 200 is an *APIError, which deploy status tells apart from an
// API server that does not answer.
package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/factory-appliance/appliance/internal/kube"
)

// Client reads a cluster through one kubeconfig. It is safe for
// concurrent use.
type Client struct {
	http *http.Client
	base *url.URL // the API server, with any path prefix
}

// APIError is an answer of the API server other than 200 OK: it was
// reached, and refused or failed the request.
type APIError struct {
	URL        string
	StatusCode int
	Message    string // the Status object's message, or the body's start
}

func (e *APIError) Error() string {
	return fmt.Sprintf("GET %s: %d %s: %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// maxAnswer bounds an answer of the API server (a list of nodes or of
// Helm's release Secrets).
const maxAnswer = 256 << 20

// Open loads the admin kubeconfig at path (kubeconfig.Load: kubeadm's
// shape only, its server endpoint, HOST:PORT, when endpoint is not "") and
// returns a client whose every request is bounded by timeout. It contacts
// nothing.
func Open(path, endpoint string, timeout time.Duration) (*Client, error) {
	kc, err := kube.Open(path, endpoint, kube.Options{UserAgent: "appliance-deploy-status", Timeout: timeout})
	if err != nil {
		return nil, err
	}
	cfg := kc.Config
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return &Client{http: hc, base: base}, nil
}

// get reads the JSON object at path (with query) into out. An answer other
// than 200 is an *APIError.
func (c *Client) get(ctx context.Context, path string, query url.Values, out any) error {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiError(u.String(), resp)
	}
	body := &io.LimitedReader{R: resp.Body, N: maxAnswer + 1}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		if body.N <= 0 {
			return fmt.Errorf("GET %s: the answer is larger than %d MiB", u.String(), maxAnswer>>20)
		}
		return fmt.Errorf("GET %s: %w", u.String(), err)
	}
	return nil
}

func apiError(u string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var status struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &status) == nil && status.Message != "" {
		msg = status.Message
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return &APIError{URL: u, StatusCode: resp.StatusCode, Message: msg}
}
