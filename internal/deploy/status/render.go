package status

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/termtext"
)

// WriteJSON writes s as one indented JSON object. The values are exact;
// the characters a terminal would act on are \u escapes (termtext.JSON).
func (s *SiteStatus) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(termtext.JSON(b), '\n'))
	return err
}

// WriteText writes s for people: one short section each for the site, the
// phases, the nodes, the releases and Harbor, in aligned columns. Much of
// it comes from hosts and the cluster (errors, node and release names), so
// all of it passes through termtext's escaping on its way out.
func (s *SiteStatus) WriteText(w io.Writer) error {
	esc := termtext.NewWriter(w)
	tw := tabwriter.NewWriter(esc, 0, 4, 2, ' ', 0)
	s.writeSite(tw)
	s.writePhases(tw)
	s.writeNodes(tw)
	s.writeReleases(tw)
	s.writeHarbor(tw)
	s.writeDayTwo(tw)
	if err := tw.Flush(); err != nil {
		return err
	}
	return esc.Close()
}

func (s *SiteStatus) writeSite(w io.Writer) {
	si := s.Site
	fmt.Fprintf(w, "Site\n")
	fmt.Fprintf(w, "  state dir\t%s\n", si.StateDir)
	fmt.Fprintf(w, "  bundle\t%s %s (bundle.json %s)\n", si.Bundle, si.Version, state.ShortDigest(si.BundleDigest))
	changed := "never"
	if si.LastChange != nil {
		changed = stamp(*si.LastChange)
	}
	fmt.Fprintf(w, "  started\t%s, last change %s\n", stamp(si.Started), changed)
}

func (s *SiteStatus) writePhases(w io.Writer) {
	p := s.Phases
	fmt.Fprintf(w, "\nPhases\t%d of %d completed, %d failed, %d in progress, %d pending\n",
		p.Completed, p.Total, p.Failed, p.InProgress, p.Pending)
	for _, n := range p.FailedList {
		fmt.Fprintf(w, "  failed\t%s\t%s\tattempt %d: %s\n", n.ID, dash(n.Host), n.Attempt, n.Error)
	}
	for _, n := range p.Running {
		fmt.Fprintf(w, "  in progress\t%s\t%s\tsince %s\n", n.ID, dash(n.Host), stamp(n.Since))
	}
	for i, st := range p.Left {
		label := ""
		if i == 0 {
			label = "left"
		}
		fmt.Fprintf(w, "  %s\t%s\t%d/%d\t%s\n", label, st.ID, st.Completed, st.Total, st.State)
	}
	switch {
	case p.Resume == "":
		fmt.Fprintf(w, "  left\tnothing: every phase completed\n")
	case p.Failed > 0:
		fmt.Fprintf(w, "  next\tfix the failures, then: %s\n", p.Resume)
	case p.InProgress > 0:
		fmt.Fprintf(w, "  next\tunless a deploy is running now: %s\n", p.Resume)
	default:
		fmt.Fprintf(w, "  next\t%s\n", p.Resume)
	}
}

func (s *SiteStatus) writeNodes(w io.Writer) {
	k := s.Kubernetes
	if !clusterSection(w, "Kubernetes nodes", k.State, k.Error, len(k.Nodes)) {
		return
	}
	fmt.Fprintf(w, "  NAME\tSTATUS\tROLES\tVERSION\tINTERNAL-IP\n")
	for _, n := range k.Nodes {
		ready := "NotReady"
		if n.Ready {
			ready = "Ready"
		}
		roles := strings.Join(n.Roles, ",")
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", n.Name, ready, dash(roles), dash(n.KubeletVersion), dash(n.InternalIP))
	}
}

func (s *SiteStatus) writeReleases(w io.Writer) {
	r := s.Releases
	if !clusterSection(w, "Releases", r.State, r.Error, len(r.Releases)) {
		return
	}
	fmt.Fprintf(w, "  NAMESPACE\tNAME\tCHART\tAPP VERSION\tREVISION\tSTATUS\n")
	for _, rel := range r.Releases {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%d\t%s\n", rel.Namespace, rel.Name, dash(rel.Chart), dash(rel.AppVersion), rel.Revision, rel.Status)
	}
}

func (s *SiteStatus) writeHarbor(w io.Writer) {
	h := s.Harbor
	fmt.Fprintf(w, "\nHarbor\n")
	if h.State == SectionNotPlanned {
		fmt.Fprintf(w, "  %s\n", sectionText(h.State, ""))
		return
	}
	fmt.Fprintf(w, "  %s (%d of %d %s phases completed; %d of %d nodes pull from Harbor)\n",
		h.State, h.Completed, h.Total, harborPhases, h.NodesHandedOver, h.NodesTotal)
	if l := h.Loaded; l != nil {
		fmt.Fprintf(w, "  %s (%s): %s, %d images in projects %s, loaded %s\n",
			l.URL, l.Address, h.Health, l.Images, strings.Join(l.Projects, " "), l.Time.Format(time.RFC3339))
	}
}

// clusterSection writes the title of a section read from the cluster and,
// when it has no rows to show, why; it reports whether rows follow.
func clusterSection(w io.Writer, title, state, errText string, rows int) bool {
	fmt.Fprintf(w, "\n%s\n", title)
	switch {
	case state != SectionOK:
		fmt.Fprintf(w, "  %s\n", sectionText(state, errText))
	case rows == 0:
		fmt.Fprintf(w, "  none\n")
	default:
		return true
	}
	return false
}

// sectionText says what a section that is not SectionOK means.
func sectionText(state, errText string) string {
	switch state {
	case SectionNotPlanned:
		return "not part of this deployment's plan"
	case SectionNoKubeconfig:
		return "no admin kubeconfig yet (the /kubernetes phases copy it to the state directory)"
	case SectionUnreachable:
		return "API server unreachable: " + errText
	}
	return "API server error: " + errText
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
