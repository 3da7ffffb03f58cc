package bundle

import "testing"

// HostileRead is a hostile bundle that opens but must be refused when its
// first artifact is read, with Want in the error.
type HostileRead struct {
	Name string
	File []byte
	Want string
}

// HostileReads returns the hostile bundles of hostileBundles refused when
// read, for the external tests in this directory: they are forged with
// the format's internals, which the packages reading bundles cannot reach.
func HostileReads(t *testing.T) []HostileRead {
	var out []HostileRead
	for _, c := range hostileBundles(t) {
		if c.where == "read" {
			out = append(out, HostileRead{Name: c.name, File: c.file, Want: c.want})
		}
	}
	return out
}

// CheckRefusal is checkRefusal, for the external tests.
var CheckRefusal = checkRefusal
