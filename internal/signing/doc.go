// Package signing creates cosign key pairs, signs and verifies blobs such as
// a bundle's bundle.json, and verifies cosign signatures on container images.
//
// Everything here is interoperable with the cosign CLI, in both directions:
//
//   - Key pairs use cosign's format: a PKCS #8 ECDSA P-256 private key,
//     encrypted with scrypt and NaCl secretbox, in a PEM block of type
//     "ENCRYPTED SIGSTORE PRIVATE KEY" (the older "ENCRYPTED COSIGN PRIVATE
//     KEY" is read too), and a PKIX public key in a "PUBLIC KEY" PEM block.
//     `cosign generate-key-pair` output loads here; our output loads in cosign.
//   - A blob signature is the base64 (standard encoding, no newline) of the
//     ASN.1 ECDSA signature over the SHA-256 of the blob: what
//     `cosign sign-blob --key` writes and `cosign verify-blob --key`
//     reads.
//   - Image signatures are cosign's simple-signing payloads, found both under
//     the tag `sha256-<hex>.sig` and as OCI 1.1 referrers.
//
// Verification is offline: no transparency log, no certificate transparency,
// no TUF root. Trust comes only from the public key the caller names.
//
// # The cosign CLI, offline
//
// A site checks a bundle by hand with
//
//	cosign verify-blob --key cosign.pub --signature bundle.json.sig --insecure-ignore-tlog bundle.json
//
// cosign v2.6 then still tries to fetch Sigstore's trusted root over TUF;
// offline that fails with a warning ("Could not fetch trusted_root.json")
// and the keyed check goes on and succeeds. Setting
// SIGSTORE_REKOR_PUBLIC_KEY to any local PEM public key (the .pub itself
// will do) makes cosign skip the TUF fetch entirely. Signing needs
// `--tlog-upload=false` (and `-y`). The tests run the CLI this way behind a
// dead proxy, so any network attempt would show.
//
// # Dependencies
//
// The package deliberately does not import github.com/sigstore/cosign/v2/pkg/cosign:
// that one package pulls in about 680 packages (Rekor and TUF clients, gRPC,
// OpenTelemetry, a LevelDB), none of which an offline key-based check needs.
// Instead it builds on the same small pieces cosign itself uses for keyed
// signatures: go-securesystemslib's encrypted package for the private-key
// envelope, sigstore/pkg/signature and cryptoutils for the keys and
// signatures, and go-containerregistry for the registry walk. The tests prove
// the formats agree by running the real cosign CLI against this code.
// depcheck_test.go keeps the import graph small.
package signing
