package manifest

import "github.com/factory-appliance/appliance/manifest/decode"

// Pos is a place in a manifest or in a file the manifest names.
type Pos = decode.Pos

// Error is one problem in a manifest: where it is, what is wrong, and how
// to fix it. Its text is "file:line: message; fix".
type Error = decode.Error

// ErrorList is every problem found in one pass, sorted by position. Parse
// and lint report all problems at once, one per line. Use errors.As to get
// the list, or to get the first *Error.
type ErrorList = decode.ErrorList

// MaxErrors bounds the problems one pass reports (decode.MaxErrors).
const MaxErrors = decode.MaxErrors
