// Package decode owns how a manifest's problems are found and reported:
// Pos, Error ("file:line: message; fix") and ErrorList, the Errors set that
// keeps the first MaxErrors of one pass, and Decoder, which walks a
// yaml.Node tree strictly (known fields only, each once; strings, booleans
// and lists of the kind asked for; no anchors, aliases or merge keys) and
// records every problem at its place instead of stopping at the first.
// Decoder's methods never panic on any node shape. It knows no schema:
// package manifest decodes the stack with it, and manifest/lint reports
// with its Errors.
package decode
