// Package harbor is a client for the few calls of Harbor's REST API v2.0
// that loading a site registry needs: health, and making sure a project
// exists. Registry traffic (/v2/) does not go through it.
//
// harbortest.Fake (internal/harbor/harbortest) is a fake that stands in for Harbor's REST
// API, which cannot run here, in tests.
package harbor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// APIPrefix is where Harbor serves its REST API v2.0.
const APIPrefix = "/api/v2.0"

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrNotHarbor: the server does not answer Harbor's health call.
	ErrNotHarbor = errors.New("not a Harbor API")
	// ErrUnauthorized: Harbor refused the credentials (401), or the user
	// may not do this (403).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrInvalidName: the name cannot be a Harbor project.
	ErrInvalidName = errors.New("invalid project name")
)

// Harbor's rule for project names: lower case, digits and single
// separators, so "docker.io" and "quay.io" are valid.
var projectNameRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// maxBody bounds what the client reads of an answer.
const maxBody = 1 << 20

// CheckProjectName returns an error wrapping ErrInvalidName unless name can
// be a Harbor project.
func CheckProjectName(name string) error {
	if len(name) == 0 || len(name) > 255 || !projectNameRE.MatchString(name) {
		return fmt.Errorf("%q: %w (lower-case letters, digits, and single '.', '_' or '-' between them)", name, ErrInvalidName)
	}
	return nil
}

// Client calls one Harbor's API. It is safe for concurrent use. Credentials
// are sent with every API call and never appear in its errors.
type Client struct {
	base     *url.URL
	http     *http.Client
	user     string
	password string
}

// Option configures a Client.
type Option func(*Client)

// WithBasicAuth authenticates every call as user with password.
func WithBasicAuth(user, password string) Option {
	return func(c *Client) { c.user, c.password = user, password }
}

// WithHTTPClient sets the HTTP client (transport, TLS roots, timeout).
// Default: a client with http.DefaultTransport and a 30 s timeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// New returns a client for the Harbor at baseURL ("https://harbor.site"
// or "http://127.0.0.1:8080").
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("harbor: base URL %q: want https://HOST[:PORT]", baseURL)
	}
	u.Path, u.RawQuery, u.Fragment = "", "", ""
	c := &Client{base: u, http: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Health reports whether the server is a Harbor: GET /api/v2.0/health
// answering 200 with a JSON object holding "status". It returns that status
// ("healthy", "unhealthy"), or an error wrapping ErrNotHarbor.
func (c *Client) Health(ctx context.Context) (string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/health", nil, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("harbor: %s%s/health answered %s: %w", c.base, APIPrefix, resp.Status, ErrNotHarbor)
	}
	var h struct {
		Status *string `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&h); err != nil || h.Status == nil {
		return "", fmt.Errorf("harbor: %s%s/health: no JSON status in the answer: %w", c.base, APIPrefix, ErrNotHarbor)
	}
	return *h.Status, nil
}

// ProjectExists reports whether project name exists:
// HEAD /api/v2.0/projects?project_name=NAME answers 200 or 404.
func (c *Client) ProjectExists(ctx context.Context, name string) (bool, error) {
	if err := CheckProjectName(name); err != nil {
		return false, err
	}
	q := url.Values{"project_name": {name}}
	resp, err := c.do(ctx, http.MethodHead, "/projects", q, nil)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, c.statusError(resp, "check project "+name)
}

// CreateProject creates project name, public or private, without a storage
// quota. It is idempotent: a project that already exists (409) is success.
// created reports whether this call created it.
func (c *Client) CreateProject(ctx context.Context, name string, public bool) (created bool, err error) {
	if err := CheckProjectName(name); err != nil {
		return false, err
	}
	body, err := json.Marshal(projectReq{
		ProjectName:  name,
		Metadata:     map[string]string{"public": fmt.Sprint(public)},
		StorageLimit: -1,
	})
	if err != nil {
		return false, err
	}
	resp, err := c.do(ctx, http.MethodPost, "/projects", nil, body)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusCreated:
		return true, nil
	case http.StatusConflict:
		return false, nil
	}
	return false, c.statusError(resp, "create project "+name)
}

// EnsureProject creates project name unless it exists, and reports whether
// it created it. Safe to call again and from several goroutines.
func (c *Client) EnsureProject(ctx context.Context, name string, public bool) (created bool, err error) {
	ok, err := c.ProjectExists(ctx, name)
	if err != nil || ok {
		return false, err
	}
	return c.CreateProject(ctx, name, public)
}

type projectReq struct {
	ProjectName  string            `json:"project_name"`
	Metadata     map[string]string `json:"metadata"`
	StorageLimit int64             `json:"storage_limit"`
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, error) {
	u := *c.base
	u.Path = APIPrefix + path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" || c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("harbor: %s %s: %w", method, u.Redacted(), redactErr(err))
	}
	return resp, nil
}

// statusError turns an unexpected answer into an error with Harbor's own
// message, wrapping ErrUnauthorized for 401 and 403.
func (c *Client) statusError(resp *http.Response, what string) error {
	msg := harborMessage(resp.Body)
	base := fmt.Errorf("harbor %s: %s: %s%s", c.base.Host, what, resp.Status, msg)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w: %w; check --username and the password, and that the user may create projects", base, ErrUnauthorized)
	}
	return base
}

// harborMessage reads Harbor's {"errors":[{"code","message"}]} body.
func harborMessage(r io.Reader) string {
	var e struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.NewDecoder(io.LimitReader(r, maxBody)).Decode(&e) != nil || len(e.Errors) == 0 {
		return ""
	}
	var parts []string
	for _, x := range e.Errors {
		parts = append(parts, x.Code+": "+x.Message)
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// redactErr drops the URL a *url.Error carries: the client never puts
// credentials in URLs, but the error text is kept free of them anyway.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
