package deploy

import (
	"fmt"
	"strings"
)

// PhaseDoc describes one top-level phase of a deployment for people.
type PhaseDoc struct {
	ID   string
	What string // what it does, and when the plan has it
}

// PhaseGuide lists every top-level phase a deployment can have, in plan
// order, with what it does: the table Phases builds the plan from
// (contents), read without a bundle or an inventory. deploy --help and
// this package's documentation are written from it; TestPhaseGuide checks
// that the fullest plan has every one.
func PhaseGuide() []PhaseDoc {
	var out []PhaseDoc
	for _, t := range (&Deployment{}).contents() {
		out = append(out, PhaseDoc{ID: t.id, What: t.what})
	}
	return out
}

// PhaseGuideText is PhaseGuide as an indented two-column list, each line
// wrapped at about 78 columns.
func PhaseGuideText(indent string) string {
	width := 0
	guide := PhaseGuide()
	for _, p := range guide {
		width = max(width, len(p.ID))
	}
	var b strings.Builder
	for _, p := range guide {
		lead := fmt.Sprintf("%s%-*s  ", indent, width, p.ID)
		pad := strings.Repeat(" ", len(lead))
		line := lead
		for i, w := range strings.Fields(p.What) {
			if i > 0 && len(line)+1+len(w) > 78 {
				b.WriteString(line + "\n")
				line = pad + w
				continue
			}
			if i > 0 {
				line += " "
			}
			line += w
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
