package deploy

import (
	"os"
	"strings"
	"testing"
)

// TestPhaseGuide: PhaseGuide lists exactly the top-level phases of the
// fullest plan the unit tests can build (masters behind a VIP, Kubernetes,
// Harbor, a stack), in plan order, and the package documentation shows
// PhaseGuideText as it is (deploy --help prints it too; cmd/deploy's
// TestHelpListsPhases checks that).
func TestPhaseGuide(t *testing.T) {
	d := openEL7(t, el7Site(t, true))
	p, err := d.Plan()
	if err != nil {
		t.Fatal(err)
	}
	var roots, guide []string
	for _, r := range p.Roots() {
		roots = append(roots, r.ID)
	}
	for _, g := range PhaseGuide() {
		guide = append(guide, g.ID)
	}
	if strings.Join(roots, " ") != strings.Join(guide, " ") {
		t.Errorf("the plan's top-level phases are\n  %v\nPhaseGuide lists\n  %v", roots, guide)
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(PhaseGuideText(""), "\n"), "\n") {
		if !strings.Contains(string(doc), "//\t"+line+"\n") {
			t.Errorf("doc.go lacks the guide's line (write PhaseGuideText into it):\n//\t%s", line)
		}
	}
}
