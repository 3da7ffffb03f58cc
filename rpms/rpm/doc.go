// Package rpm is what an RPM package is, whatever it was read from: the
// Package description (name, EVR, dependencies, files, changelog, sizes,
// checksum and location) that an .rpm file's header (rpms/rpmfile) and a
// repository's metadata (rpms/repodata) both decode into, dependencies
// (Dep, with rpm's RPMSENSE comparison bits), and rpm's version ordering
// (Vercmp, CompareEVR) with the range-overlap rule of Dep.Satisfies. It
// reads and writes nothing; its values are plain data, safe to share
// between goroutines as long as nobody modifies them.
package rpm
