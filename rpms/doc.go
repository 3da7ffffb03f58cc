// Package rpms gets the RPM packages a stack needs: it reads upstream yum
// repositories, resolves the dependency closure of a set of requested
// packages, and downloads and verifies them into the content cache. The
// file format of a package is package rpms/rpmfile's, the repository
// metadata format package rpms/repodata's, and the package description and
// version ordering package rpms/rpm's; this package fetches, resolves and
// checks, using all three.
//
// The pieces, in the order the build pipeline uses them:
//
//   - LoadRepo reads an upstream repository's repomd.xml and primary metadata
//     (gz, bz2, xz or zst), checking every metadata file against the checksum
//     repomd.xml gives for it.
//   - Resolve computes the closure of the requested packages over several
//     repositories and an rpmBase list (packages assumed installed on the
//     hosts), and reports every unsatisfiable requirement with its chain.
//   - Download fetches the closure in parallel into the content cache,
//     checking each file against the repository's checksum and each package's
//     OpenPGP signature against the repository's keys.
//   - RepoPackages reads the fetched packages back for repodata.Generate,
//     which writes reproducible repodata for the packages that go into the
//     bundle.
//
// # Repository priority
//
// Repositories are given in order. Each has a Priority (lower wins, default
// 99, as yum's priorities plugin): a package name offered by a repository
// with a better priority hides that name in every repository with a worse one.
// Among repositories of equal priority the newest EVR wins, as plain yum
// does, and the order of the repositories breaks ties (the earlier wins, like
// yum's cost). So [base updates] with default priorities picks updates' newer
// packages, and a repository listed with a better priority pins its names.
//
// # Signatures
//
// A package is accepted when one of its OpenPGP signatures verifies against
// the repository's keys, by the rules of rpmfile.VerifyPackage (see package
// rpms/rpmfile): a header+payload signature, or a header-only signature
// over a header whose payload digest matches the payload. A repository
// marked InsecureSkipGPGCheck is not checked, and says so in the log every
// time it is used.
//
// # Local RPM files
//
// A component's rpmFiles are checked like repository packages (AddLocal):
// the caller passes the keys to check against, which should be the
// component's own gpgkey when it names one, and otherwise the keys of all the
// stack's repositories. A local file that no trusted key signed is refused
// unless it is explicitly marked insecure.
//
// # Concurrency
//
// RepoData is read-only once LoadRepo returns: Resolve, FindFiles and
// Download may use the same RepoData from several goroutines. The content
// cache (internal/cas) is safe for concurrent use.
package rpms
