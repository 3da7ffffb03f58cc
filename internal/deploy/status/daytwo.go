package status

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/kubeadm/certs"
	"github.com/factory-appliance/appliance/internal/kubeconfig"
	"github.com/factory-appliance/appliance/internal/plan"
	"github.com/factory-appliance/appliance/internal/siteca"
)

// maxOps bounds how many day-two operation directories status reads.
const maxOps = 32

// OperationStatus is one day-two operation's journal (STATE/ops/NAME):
// such as certs-renew.
type OperationStatus struct {
	Name       string     `json:"name"`
	Title      string     `json:"title"`
	State      plan.State `json:"state"` // completed, failed, in_progress or unstarted
	Completed  int        `json:"completed"`
	Total      int        `json:"total"`
	LastChange *time.Time `json:"lastChange,omitempty"`
	Error      string     `json:"error,omitempty"` // the first failed phase's, first line
	Resume     string     `json:"resume,omitempty"`
}

// CertsStatus is what is known of the certificates' expiry: the soonest
// of the last `deploy certs` record, the admin kubeconfig's client
// certificate and the site CA, and a warning for each with fewer than
// certs.RenewDays days left.
type CertsStatus struct {
	// Checked is when deploy certs last read the hosts (nil: never).
	Checked  *time.Time  `json:"checked,omitempty"`
	Soonest  *certs.Cert `json:"soonest,omitempty"`
	Warnings []string    `json:"warnings"`
}

// operations reads the day-two operations' journals of stateDir, by name.
func operations(stateDir string) []OperationStatus {
	out := []OperationStatus{}
	dir := filepath.Join(stateDir, "ops")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for i, e := range ents {
		if i >= maxOps || !e.IsDir() || !hostLabel(e.Name()) {
			continue
		}
		r, err := state.Dir(filepath.Join(dir, e.Name())).Load()
		if err != nil {
			out = append(out, OperationStatus{Name: e.Name(), State: plan.Failed, Error: firstLine(err.Error())})
			continue
		}
		ps := summarize(r, filepath.Join(dir, e.Name()))
		o := OperationStatus{Name: e.Name(), Title: r.Saved.Name, Completed: ps.Completed, Total: ps.Total, LastChange: siteInfo(stateDir, r).LastChange}
		switch {
		case ps.Completed == ps.Total:
			o.State = plan.Completed
		case ps.Failed > 0:
			o.State, o.Error, o.Resume = plan.Failed, ps.FailedList[0].Error, r.Saved.Resume
		case ps.InProgress > 0:
			o.State, o.Resume = plan.InProgress, r.Saved.Resume
		default:
			o.State, o.Resume = plan.Unstarted, r.Saved.Resume
		}
		if !printableCommand(o.Resume) {
			o.Resume = ""
		}
		out = append(out, o)
	}
	return out
}

// hostLabel: a name deploy gives an operation's directory.
func hostLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// certsStatus gathers CertsStatus at now.
func certsStatus(stateDir, apiServer string, now time.Time) CertsStatus {
	cs := CertsStatus{Warnings: []string{}}
	d := state.Dir(stateDir)
	var all []certs.Cert
	rec, err := d.ReadCertsRecord()
	switch {
	case err != nil:
		cs.Warnings = append(cs.Warnings, err.Error())
	case rec != nil:
		t := rec.Checked
		cs.Checked = &t
		all = append(all, rec.Certs...)
	}
	if c, ok := localCert(filepath.Join(stateDir, siteca.CACertFile), "deploy node"); ok {
		all = append(all, c)
	}
	if admin, err := kubeconfig.Load(d.KubeconfigPath(), apiServer); err == nil {
		if c, err := certs.ParsePEM(admin.CertData); err == nil {
			c.Host, c.Path = "deploy node", d.KubeconfigPath()
			all = append(all, c)
		}
	}
	certs.Sort(all)
	if len(all) > 0 {
		s := all[0]
		s.Raw = nil
		cs.Soonest = &s
	}
	for _, c := range certs.Soon(all, now) {
		what := fmt.Sprintf("%d days left", c.DaysLeft(now))
		if c.DaysLeft(now) < 0 {
			what = "EXPIRED"
		}
		cs.Warnings = append(cs.Warnings, fmt.Sprintf("%s on %s: %s (until %s); renew with deploy certs renew", c.Path, c.Host, what, stamp(c.NotAfter)))
	}
	return cs
}

// localCert reads the certificate of a PEM file on this machine.
func localCert(path, host string) (certs.Cert, bool) {
	b, err := state.ReadBounded(path, 1<<20)
	if err != nil {
		return certs.Cert{}, false
	}
	c, err := certs.ParsePEM(b)
	c.Host, c.Path = host, path
	return c, err == nil
}

func (s *SiteStatus) writeDayTwo(w io.Writer) {
	fmt.Fprintf(w, "\nCertificates\n")
	c := s.Certificates
	if c.Soonest != nil {
		fmt.Fprintf(w, "  soonest\t%s on %s, until %s\n", c.Soonest.Path, c.Soonest.Host, stamp(c.Soonest.NotAfter))
	}
	if c.Checked != nil {
		fmt.Fprintf(w, "  hosts read\t%s (deploy certs)\n", stamp(*c.Checked))
	} else {
		fmt.Fprintf(w, "  hosts read\tnever: deploy certs reads every host's\n")
	}
	for _, warn := range c.Warnings {
		fmt.Fprintf(w, "  WARNING\t%s\n", warn)
	}
	if len(s.Operations) == 0 {
		return
	}
	fmt.Fprintf(w, "\nOperations\n")
	for _, o := range s.Operations {
		when := "-"
		if o.LastChange != nil {
			when = stamp(*o.LastChange)
		}
		fmt.Fprintf(w, "  %s\t%s, %d of %d phases, last change %s\n", o.Name, o.State, o.Completed, o.Total, when)
		if o.Error != "" {
			fmt.Fprintf(w, "  \terror: %s\n", o.Error)
		}
		if o.Resume != "" {
			fmt.Fprintf(w, "  \tresume: %s\n", o.Resume)
		}
	}
}
