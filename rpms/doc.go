// Package rpms reads RPM packages and yum repositories, resolves the
// dependency closure of a set of requested packages, downloads and verifies
// them, and writes yum repodata that CentOS 7's yum 3 can read.
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
//   - GenerateRepodata and WriteRepodata write reproducible repodata for the
//     packages that go into the bundle.
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
// the repository's keys: either a header+payload signature (RPMSIGTAG_PGP
// 1002 or RPMSIGTAG_GPG 1005), or a header-only signature (RPMSIGTAG_RSA 268
// or RPMSIGTAG_DSA 267) when the signed header carries a payload digest
// (RPMTAG_PAYLOADDIGEST) that matches the payload. A header-only signature on
// a package whose header has no payload digest covers nothing of the payload
// and is refused.
//
// Version 3 signature packets, which rpm on EL7 makes and CentOS 7's own
// packages carry, are verified by this package (sigv3.go); later versions by
// go-crypto. Hash algorithms weaker than sha224 are refused.
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
