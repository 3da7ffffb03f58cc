// Package lock owns a stack's lock file: the pins `bundle lock` writes for
// every remote artifact of a manifest (package manifest) and the errors
// that say how a lock and its manifest, or a lock and upstream, disagree.
//
// `bundle lock` writes DefaultPath(manifest) ("stack.yaml" →
// "stack.lock.yaml"): kind Lock with the manifest's digest, the platform,
// and images (reference as written → digest), files (URL → sha256 and
// size; a bare sha256, as older locks wrote, still reads), charts
// (manifest.Chart.LockKey → version and digest) and rpms (name → NEVRA and
// checksum). Lock.Check lists entries missing from or extra in the lock,
// and a URL file whose manifest sha256 differs from the locked one, as a
// *MismatchError; a build that finds upstream changed returns a DriftError
// listing each artifact. A locked URL file already in the content cache is
// not downloaded again. Write is atomic and deterministic; Load and Parse
// refuse unknown fields and malformed digests, naming the file.
package lock
