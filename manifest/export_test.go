package manifest

// lintCheck is lint.Check. This package's tests check that the stacks they
// parse also lint, but cannot import manifest/lint, which imports manifest:
// linthook_test.go (package manifest_test, in the same test binary) sets
// it with SetLintCheck before any test runs.
var lintCheck func(*Stack) error

// SetLintCheck sets lintCheck; see there.
func SetLintCheck(check func(*Stack) error) { lintCheck = check }
