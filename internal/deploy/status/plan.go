package status

import (
	"fmt"
	"io"
	"time"

	"github.com/factory-appliance/appliance/internal/deploy/state"
	"github.com/factory-appliance/appliance/internal/termtext"
)

// ShowPlan renders the deployment recorded in stateDir (the phase tree in
// state.PlanFile and the states in the journal) as a table, or as JSON:
// deploy plan.
func ShowPlan(w io.Writer, stateDir string, asJSON bool) error {
	r, err := state.Dir(stateDir).Load()
	if err != nil {
		return err
	}
	if asJSON {
		return r.Plan.RenderJSON(w, r.Status)
	}
	fmt.Fprintf(w, "deployment of %s (bundle.json %s), started %s\n\n", termtext.Line(r.Saved.Name), termtext.Line(state.ShortDigest(r.Saved.Bundle)), r.Saved.Created.Format(time.RFC3339))
	return r.Plan.Render(w, r.Status)
}
