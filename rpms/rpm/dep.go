package rpm

import "strings"

// Sense is the comparison part of a dependency's flags (rpm's RPMSENSE_*).
type Sense uint32

// Sense bits, as rpm stores them in the *FLAGS header tags.
const (
	SenseLess    Sense = 1 << 1
	SenseGreater Sense = 1 << 2
	SenseEqual   Sense = 1 << 3
	// SenseCompare masks the comparison bits.
	SenseCompare = SenseLess | SenseGreater | SenseEqual

	sensePrereq     = 1 << 6
	senseScriptPre  = 1 << 9
	senseScriptPost = 1 << 10
	senseRPMLib     = 1 << 24
)

// Dep is one provides/requires/conflicts/obsoletes entry.
type Dep struct {
	Name  string
	Flags Sense // only the comparison bits (SenseLess|SenseGreater|SenseEqual)
	EVR         // empty when the dependency is not versioned
	Pre   bool  // a pre-install requirement (Requires(pre) and friends)
}

// DepFromHeader builds a Dep from a header's name, flags and version.
func DepFromHeader(name string, flags int64, version string) Dep {
	d := Dep{Name: name, Flags: Sense(flags) & SenseCompare}
	if version != "" {
		d.EVR = ParseEVR(version)
	}
	d.Pre = flags&(sensePrereq|senseScriptPre|senseScriptPost) != 0
	return d
}

// String formats the dependency as rpm prints it: "name >= 1.0-1".
func (d Dep) String() string {
	if d.Flags == 0 || d.Version == "" {
		return d.Name
	}
	return d.Name + " " + d.Flags.Op() + " " + d.EVR.String()
}

// Op is the comparison operator ("<", "<=", "=", ">=", ">").
func (s Sense) Op() string {
	switch s & SenseCompare {
	case SenseLess:
		return "<"
	case SenseLess | SenseEqual:
		return "<="
	case SenseEqual:
		return "="
	case SenseGreater | SenseEqual:
		return ">="
	case SenseGreater:
		return ">"
	}
	return ""
}

// IsRPMLib reports whether the dependency is on an rpmlib() feature, which
// rpm itself provides.
func (d Dep) IsRPMLib() bool { return strings.HasPrefix(d.Name, "rpmlib(") }

// IsFile reports whether the dependency is on a file path.
func (d Dep) IsFile() bool { return strings.HasPrefix(d.Name, "/") }

// IsRich reports whether the dependency is a boolean (rich) dependency.
func (d Dep) IsRich() bool { return strings.HasPrefix(d.Name, "(") }

// Satisfies reports whether provide p satisfies requirement r, with rpm's
// range-overlap rule. Names must be equal; an unversioned side matches any
// version.
func (p Dep) Satisfies(r Dep) bool {
	if p.Name != r.Name {
		return false
	}
	if p.Flags == 0 || r.Flags == 0 || p.Version == "" || r.Version == "" {
		return true
	}
	c := CompareEVR(p.EVR, r.EVR)
	switch {
	case c < 0:
		return p.Flags&SenseGreater != 0 || r.Flags&SenseLess != 0
	case c > 0:
		return p.Flags&SenseLess != 0 || r.Flags&SenseGreater != 0
	}
	return p.Flags&r.Flags != 0
}
