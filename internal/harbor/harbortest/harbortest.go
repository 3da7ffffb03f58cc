// Package harbortest is a fake: it stands in for Harbor's REST API, which
// cannot run here.
//
// Fake answers the Harbor API v2.0 calls this project makes, as
// Harbor does, and records them; registry traffic under /v2/ is passed to a
// real registry (Debian's docker-registry in the tests), so pushes through
// it are real. It is a test double: never use it as a registry.
package harbortest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/factory-appliance/appliance/internal/harbor"
)

// Call is one request Fake received. It never holds credentials:
// only the user name that authenticated, if any.
type Call struct {
	Method string
	Path   string
	Query  string
	User   string // user that authenticated; "" for none or wrong credentials
	Status int
}

// Fake is a fake: it stands in for Harbor's REST API, which cannot
// run here. It is an http.Handler that answers:
//
//   - GET /api/v2.0/health answers {"status":"healthy",...} without auth;
//   - HEAD /api/v2.0/projects?project_name=X answers 200 or 404;
//   - POST /api/v2.0/projects answers 201 (Location set), 409 when the
//     project exists, 400 for a bad name or body;
//   - every other /api/ call answers 404; API calls other than health
//     without the right basic credentials answer 401 with Harbor's error
//     body;
//   - /v2/ is proxied to the registry given to New, with Harbor's
//     access rules: reads (GET, HEAD) of a public project's repositories
//     need no credentials; reads of a private project's, writes (POST,
//     PUT, PATCH, DELETE) and everything else under /v2/ (the ping, the
//     catalog) answer 401 without the right basic credentials; and a
//     repository in a project that does not exist answers 404 NOT_FOUND
//     "project ... not found". (Harbor itself answers with a Bearer token
//     challenge; the fake asks for basic credentials directly.)
//
// It is safe for concurrent use.
type Fake struct {
	user, password string
	proxy          *httputil.ReverseProxy

	mu       sync.Mutex
	projects map[string]bool // name → public
	calls    []Call
	persist  string // file the projects are saved to, or ""
}

// New returns a fake Harbor accepting user and password,
// proxying /v2/ to the registry at registryURL through transport (nil:
// http.DefaultTransport).
func New(user, password, registryURL string, transport http.RoundTripper) (*Fake, error) {
	target, err := url.Parse(registryURL)
	if err != nil {
		return nil, err
	}
	f := &Fake{user: user, password: password, projects: map[string]bool{}}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // the registry builds upload URLs from it
			r.SetXForwarded()
		},
		Transport: transport,
		// A client that goes away mid-request is normal in tests.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	return f, nil
}

// AddProject makes the private project name exist, as if created earlier.
func (f *Fake) AddProject(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.projects[name] = false
}

// Project reports whether project name exists and whether it is public.
func (f *Fake) Project(name string) (exists, public bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	public, exists = f.projects[name]
	return exists, public
}

// Persist loads the projects saved in file (if it exists) and saves them
// there after every change, so a stand-in restarted keeps its projects
// as Harbor keeps them in its database.
func (f *Fake) Persist(file string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.persist = file
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &f.projects); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// save writes the projects to the persist file; f.mu is held.
func (f *Fake) save() error {
	if f.persist == "" {
		return nil
	}
	b, err := json.Marshal(f.projects)
	if err != nil {
		return err
	}
	tmp := f.persist + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, f.persist)
}

// Projects returns the projects that exist, sorted.
func (f *Fake) Projects() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for p := range f.projects {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Calls returns the API calls received so far (not the /v2/ traffic).
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, harbor.APIPrefix+"/"):
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		user := f.serveAPI(rec, r)
		f.mu.Lock()
		f.calls = append(f.calls, Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, User: user, Status: rec.status})
		f.mu.Unlock()
	case r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/"):
		f.serveRegistry(w, r)
	default:
		fakeError(w, http.StatusNotFound, "NOT_FOUND", "not found")
	}
}

// serveAPI answers one API call and returns the user that authenticated.
func (f *Fake) serveAPI(w http.ResponseWriter, r *http.Request) string {
	path := strings.TrimPrefix(r.URL.Path, harbor.APIPrefix)
	if path == "/health" && r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"healthy","components":[{"name":"core","status":"healthy"},{"name":"registry","status":"healthy"}]}`)
		return ""
	}
	user, ok := f.authenticated(r)
	if !ok {
		unauthorized(w)
		return ""
	}
	switch {
	case path == "/projects" && r.Method == http.MethodHead:
		f.headProject(w, r.URL.Query().Get("project_name"))
	case path == "/projects" && r.Method == http.MethodPost:
		f.createProject(w, r)
	default:
		fakeError(w, http.StatusNotFound, "NOT_FOUND", "no such API in the fake: "+r.Method+" "+r.URL.Path)
	}
	return user
}

func (f *Fake) authenticated(r *http.Request) (string, bool) {
	u, p, ok := r.BasicAuth()
	if !ok || u != f.user || p != f.password {
		return "", false
	}
	return u, true
}

func (f *Fake) headProject(w http.ResponseWriter, name string) {
	if exists, _ := f.Project(name); !exists {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (f *Fake) createProject(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ProjectName  string            `json:"project_name"`
		Metadata     map[string]string `json:"metadata"`
		StorageLimit *int64            `json:"storage_limit"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		fakeError(w, http.StatusBadRequest, "BAD_REQUEST", "invalid JSON: "+err.Error())
		return
	}
	if err := harbor.CheckProjectName(req.ProjectName); err != nil {
		fakeError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return
	}
	if pub := req.Metadata["public"]; pub != "" && pub != "true" && pub != "false" {
		fakeError(w, http.StatusBadRequest, "BAD_REQUEST", `metadata.public must be "true" or "false"`)
		return
	}
	f.mu.Lock()
	_, exists := f.projects[req.ProjectName]
	var err error
	if !exists {
		f.projects[req.ProjectName] = req.Metadata["public"] == "true"
		err = f.save()
	}
	n := len(f.projects)
	f.mu.Unlock()
	if err != nil {
		fakeError(w, http.StatusInternalServerError, "UNKNOWN", "saving projects: "+err.Error())
		return
	}
	if exists {
		fakeError(w, http.StatusConflict, "CONFLICT", fmt.Sprintf("The project named %s already exists", req.ProjectName))
		return
	}
	w.Header().Set("Location", fmt.Sprintf("%s/projects/%d", harbor.APIPrefix, n))
	w.WriteHeader(http.StatusCreated)
}

// v2Repo matches /v2/<project>/<repo...>/(manifests|blobs|tags)/...
var v2Repo = regexp.MustCompile(`^/v2/([^/]+)/.+/(manifests|blobs|tags)/`)

func (f *Fake) serveRegistry(w http.ResponseWriter, r *http.Request) {
	_, authed := f.authenticated(r)
	m := v2Repo.FindStringSubmatch(r.URL.Path)
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	if m == nil {
		// The ping and the catalog: Harbor asks for credentials.
		if !authed {
			unauthorized(w)
			return
		}
		f.proxy.ServeHTTP(w, r)
		return
	}
	exists, public := f.Project(m[1])
	switch {
	case read && public:
	case !authed:
		unauthorized(w)
		return
	}
	if !exists {
		fakeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("project %s not found", m[1]))
		return
	}
	f.proxy.ServeHTTP(w, r)
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("Www-Authenticate", `Basic realm="harbor"`)
	fakeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "unauthorized")
}

// fakeError writes Harbor's error body.
func fakeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
