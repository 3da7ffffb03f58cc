// Package rpmfile reads the RPM file format: the lead, the signature header
// and the main header (every index entry bounds-checked, so a hostile file
// cannot make the reader allocate without bound), decodes the main header
// into an rpm.Package, checks the payload digest, and verifies the
// package's OpenPGP signatures against a key list. ReadPackage reads a
// stream once and never holds the payload; VerifyPackage does the same
// while it checks signatures; ReadPackagesDir reads a directory of RPMs in
// parallel. ReadKeys reads the RPM-GPG-KEY files the signatures are checked
// against. The functions keep no state and are safe for concurrent use.
//
// # Signatures
//
// A package is accepted when one of its OpenPGP signatures verifies against
// the given keys: either a header+payload signature (RPMSIGTAG_PGP 1002 or
// RPMSIGTAG_GPG 1005), or a header-only signature (RPMSIGTAG_RSA 268 or
// RPMSIGTAG_DSA 267) when the signed header carries a payload digest
// (RPMTAG_PAYLOADDIGEST) that matches the payload. A header-only signature
// on a package whose header has no payload digest covers nothing of the
// payload and is refused.
//
// Version 3 signature packets, which rpm on EL7 makes and CentOS 7's own
// packages carry, are verified by this package (sigv3.go); later versions by
// go-crypto. Hash algorithms weaker than sha224 are refused.
package rpmfile
