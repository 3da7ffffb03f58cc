// Package status is deploy status: where the deployment in a state
// directory stands (Status gathers it, WriteText and WriteJSON render it),
// and deploy plan (ShowPlan). It reads the state directory without
// locking it, so a running deploy can be watched, and writes nothing. The
// cluster's nodes and Helm releases are read through internal/kube
// (cluster.go).
package status

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/harbor"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/siteca"
)

// DefaultStatusTimeout bounds Status's queries of the cluster together.
const DefaultStatusTimeout = 10 * time.Second

// The states of a SiteStatus section that is not a phase state.
const (
	SectionOK           = "ok"            // the cluster answered
	SectionNotPlanned   = "not-planned"   // the deployment's plan has no such phases
	SectionNoKubeconfig = "no-kubeconfig" // no admin kubeconfig in the state directory yet
	SectionUnreachable  = "unreachable"   // the API server did not answer in time
	SectionError        = "error"         // the API server answered with an error
)

// SiteStatus is where the deployment in a state directory stands: what
// `deploy status` prints. Its JSON field names are stable; each is listed
// in the command's help.
type SiteStatus struct {
	Site       SiteInfo         `json:"site"`
	Phases     PhaseSummary     `json:"phases"`
	Kubernetes KubernetesStatus `json:"kubernetes"`
	Releases   ReleasesStatus   `json:"releases"`
	Harbor     HarborStatus     `json:"harbor"`
	// Certificates warns of certificates close to expiry; Operations are
	// the day-two operations' journals (deploy certs renew).
	Certificates CertsStatus       `json:"certificates"`
	Operations   []OperationStatus `json:"operations"`
}

// SiteInfo is what the state directory records of the deployment.
type SiteInfo struct {
	StateDir     string     `json:"stateDir"`
	Bundle       string     `json:"bundle"`
	Version      string     `json:"version"`
	BundleDigest string     `json:"bundleDigest"` // sha256 of bundle.json
	Started      time.Time  `json:"started"`
	LastChange   *time.Time `json:"lastChange,omitempty"` // the journal's newest record
}

// PhaseSummary counts the plan's leaf phases by state and says what is
// left.
type PhaseSummary struct {
	Total      int         `json:"total"`
	Completed  int         `json:"completed"`
	Failed     int         `json:"failed"`
	InProgress int         `json:"inProgress"`
	Pending    int         `json:"pending"` // unstarted
	FailedList []PhaseNote `json:"failedPhases"`
	Running    []PhaseNote `json:"inProgressPhases"`
	Left       []Step      `json:"left"`
	// Resume is the command that continues the deployment; empty when
	// every phase completed. The state directory does not record the
	// bundle's and the inventory's paths, so they are FILE and INVENTORY.
	Resume string `json:"resume,omitempty"`
}

// PhaseNote is a failed or in-progress leaf phase.
type PhaseNote struct {
	ID      string    `json:"id"`
	Host    string    `json:"host,omitempty"`
	Attempt int       `json:"attempt,omitempty"`
	Since   time.Time `json:"since"`
	Error   string    `json:"error,omitempty"` // its first line
}

// Step is one stretch of what is left: a group whose children are all
// leaves (such as /packages, one leaf per host), or a leaf outside one.
type Step struct {
	ID        string     `json:"id"`
	State     plan.State `json:"state"`
	Completed int        `json:"completed"`
	Total     int        `json:"total"`
}

// KubernetesStatus is the cluster's nodes, read with the admin kubeconfig.
type KubernetesStatus struct {
	State      string `json:"state"`                // one of the Section values
	Kubeconfig string `json:"kubeconfig,omitempty"` // its path; its contents are never shown
	Error      string `json:"error,omitempty"`
	Nodes      []Node `json:"nodes"`
}

// ReleasesStatus is the cluster's Helm releases.
type ReleasesStatus struct {
	State    string    `json:"state"` // one of the Section values
	Error    string    `json:"error,omitempty"`
	Releases []Release `json:"releases"`
}

// HarborStatus is the state of the plan's /harbor phases and, once it was
// loaded, of Harbor itself.
type HarborStatus struct {
	State     string `json:"state"` // SectionNotPlanned or a phase state
	Completed int    `json:"completed"`
	Total     int    `json:"total"`
	// Nodes whose containerd pulls from Harbor, of NodesTotal.
	NodesHandedOver int `json:"nodesHandedOver"`
	NodesTotal      int `json:"nodesTotal"`
	// Loaded is what /harbor/load recorded (nil before it completed).
	Loaded *state.HarborRecord `json:"loaded,omitempty"`
	// Health is Harbor's answer to its health API now ("healthy"), or
	// why it could not be asked; "" before Harbor was loaded.
	Health string `json:"health,omitempty"`
}

// Status reads where the deployment in stateDir stands: the bundle and the
// phases from the state directory (without locking it, so a running deploy
// can be watched) and, when the admin kubeconfig is there, the nodes and
// the Helm releases from the cluster, both within timeout (0 is
// DefaultStatusTimeout). Only an unreadable state directory is an error: a
// cluster that does not answer is reported in its sections.
func Status(ctx context.Context, stateDir string, timeout time.Duration) (*SiteStatus, error) {
	r, err := state.Dir(stateDir).Load()
	if err != nil {
		return nil, err
	}
	si := siteInfo(stateDir, r)
	s := &SiteStatus{Site: si, Phases: summarize(r, si.StateDir), Harbor: harborStatus(r)}
	if timeout <= 0 {
		timeout = DefaultStatusTimeout
	}
	s.Kubernetes, s.Releases = clusterStatus(ctx, stateDir, r.Saved.APIServer, len(r.Plan.LeavesUnder("/kubernetes")) > 0, timeout)
	s.Certificates = certsStatus(stateDir, r.Saved.APIServer, time.Now())
	s.Operations = operations(stateDir)
	if s.Harbor.Loaded = state.Dir(stateDir).ReadHarborRecord(); s.Harbor.Loaded != nil {
		s.Harbor.Health = askHarborHealth(ctx, stateDir, s.Harbor.Loaded.Address, timeout)
	}
	return s, nil
}

func siteInfo(stateDir string, r *state.Recorded) SiteInfo {
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		abs = stateDir
	}
	// PlanFile records "name version" (prepareState).
	name, version := r.Saved.Name, ""
	if i := strings.LastIndexByte(name, ' '); i >= 0 {
		name, version = name[:i], name[i+1:]
	}
	si := SiteInfo{StateDir: abs, Bundle: name, Version: version, BundleDigest: r.Saved.Bundle, Started: r.Saved.Created}
	for _, rec := range r.Status {
		if si.LastChange == nil || rec.Time.After(*si.LastChange) {
			t := rec.Time
			si.LastChange = &t
		}
	}
	return si
}

// summarize counts the leaves by state, notes the failed and the running
// ones, and lists the steps not completed, in plan order.
func summarize(r *state.Recorded, stateDir string) PhaseSummary {
	ps := PhaseSummary{FailedList: []PhaseNote{}, Running: []PhaseNote{}, Left: []Step{}}
	for _, l := range r.Plan.Leaves() {
		ps.Total++
		rec := r.Status[l.ID]
		note := PhaseNote{ID: l.ID, Host: l.Host, Attempt: rec.Attempt, Since: rec.Time}
		switch r.Status.State(l.ID) {
		case plan.Completed:
			ps.Completed++
		case plan.Failed:
			ps.Failed++
			note.Error = firstLine(rec.Error)
			ps.FailedList = append(ps.FailedList, note)
		case plan.InProgress:
			ps.InProgress++
			ps.Running = append(ps.Running, note)
		default:
			ps.Pending++
		}
	}
	for _, st := range steps(r.Plan.View(r.Status)) {
		if st.State != plan.Completed {
			ps.Left = append(ps.Left, st)
		}
	}
	if ps.Completed < ps.Total {
		ps.Resume = r.Saved.Resume
		if !printableCommand(ps.Resume) {
			ps.Resume = "deploy --bundle FILE -i INVENTORY --state-dir " + stateDir + " --resume"
		}
	}
	return ps
}

// steps cuts the phase tree into the stretches "what is left" lists: a
// group whose children are all leaves is one step, a leaf outside such a
// group is one, and other groups are cut further.
func steps(views []plan.PhaseView) []Step {
	var out []Step
	for _, v := range views {
		if len(v.Children) > 0 && !allLeaves(v.Children) {
			out = append(out, steps(v.Children)...)
			continue
		}
		st := Step{ID: v.ID, State: v.State, Total: 1}
		if len(v.Children) > 0 {
			st.Total = len(v.Children)
		}
		for _, c := range append([]plan.PhaseView{v}, v.Children...) {
			if len(c.Children) == 0 && c.State == plan.Completed {
				st.Completed++
			}
		}
		out = append(out, st)
	}
	return out
}

func allLeaves(vs []plan.PhaseView) bool {
	for _, v := range vs {
		if len(v.Children) > 0 {
			return false
		}
	}
	return true
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// harborPhases is the plan's group that loads the site registry.
const harborPhases = "/harbor"

func harborStatus(r *state.Recorded) HarborStatus {
	leaves := r.Plan.LeavesUnder(harborPhases)
	if len(leaves) == 0 {
		return HarborStatus{State: SectionNotPlanned}
	}
	h := HarborStatus{State: string(r.Plan.GroupState(harborPhases, r.Status)), Total: len(leaves)}
	for _, l := range leaves {
		done := r.Status.State(l.ID) == plan.Completed
		if done {
			h.Completed++
		}
		if strings.HasPrefix(l.ID, harborPhases+"/mirrors/") {
			h.NodesTotal++
			if done {
				h.NodesHandedOver++
			}
		}
	}
	return h
}

// askHarborHealth asks Harbor's health API at addr, trusting the state
// directory's site CA, within timeout.
func askHarborHealth(ctx context.Context, stateDir, addr string, timeout time.Duration) string {
	ca, err := os.ReadFile(filepath.Join(stateDir, siteca.CACertFile))
	if err != nil {
		return "cannot read the site CA: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h, err := harborHealth(ctx, addr, string(ca))
	if err != nil {
		return "not answering: " + err.Error()
	}
	return h
}

// clusterStatus reads the nodes and the releases through the state
// directory's admin kubeconfig, both within one timeout, from the API
// server at endpoint (HOST:PORT, what PlanFile records): the kubeconfig
// must be of kubeadm's shape and name that server (openCluster).
func clusterStatus(ctx context.Context, stateDir, endpoint string, planned bool, timeout time.Duration) (KubernetesStatus, ReleasesStatus) {
	k := KubernetesStatus{Nodes: []Node{}}
	rs := ReleasesStatus{Releases: []Release{}}
	path, err := filepath.Abs(filepath.Join(stateDir, state.KubeconfigFile))
	if err == nil {
		_, err = os.Stat(path)
	}
	if err != nil {
		k.State = SectionNoKubeconfig
		if !planned {
			k.State = SectionNotPlanned
		}
		rs.State = k.State
		return k, rs
	}
	k.Kubeconfig = path
	if endpoint == "" {
		k.State = SectionError
		k.Error = state.PlanFile + " records no API server endpoint (an older deploy wrote it), so deploy status does not know which server to trust; run deploy --resume once to record it"
		rs.State, rs.Error = k.State, k.Error
		return k, rs
	}
	c, err := openCluster(path, endpoint, timeout)
	if err != nil {
		k.State, k.Error = SectionError, firstLine(err.Error())
		rs.State, rs.Error = k.State, k.Error
		return k, rs
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nodes, err := readNodes(ctx, c)
	k.State, k.Error = sectionOf(err)
	if err == nil {
		k.Nodes = nodes
	}
	if k.State == SectionUnreachable {
		// Do not wait for it twice.
		rs.State, rs.Error = k.State, "not asked: the API server did not answer the nodes request"
		return k, rs
	}
	rels, err := readReleases(ctx, c)
	rs.State, rs.Error = sectionOf(err)
	if err == nil {
		rs.Releases = rels
	}
	return k, rs
}

// sectionOf is the section state and the error's first line for the
// result of a cluster query: an answer with an error status is an error,
// anything else (refused, timed out, no route, TLS) is unreachable.
func sectionOf(err error) (string, string) {
	var se apierrors.APIStatus
	switch {
	case err == nil:
		return SectionOK, ""
	case errors.As(err, &se):
		return SectionError, firstLine(err.Error())
	default:
		return SectionUnreachable, firstLine(err.Error())
	}
}

// printableCommand accepts a recorded resume command for display: PlanFile
// is read from the state directory, so a command with a control character
// (a terminal escape) or of unlikely length is not shown.
func printableCommand(s string) bool {
	if s == "" || len(s) > 8192 {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// harborHealth asks Harbor's health API from the deploy node, trusting the
// site CA: what deploy status shows.
func harborHealth(ctx context.Context, addr, caPEM string) (string, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(caPEM))
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	c, err := harbor.New("https://"+addr, harbor.WithHTTPClient(&http.Client{Transport: tr, Timeout: 10 * time.Second}))
	if err != nil {
		return "", err
	}
	return c.Health(ctx)
}
