package rpmfile

import (
	"crypto"
	//lint:ignore SA1019 DSA keys still sign old EL repositories; verifying them is needed
	"crypto/dsa"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// OpenPGP version 3 signature packets are what rpm on EL7 makes ("Header V3
// RSA/SHA256 Signature" in rpm's messages): CentOS 7's own packages carry
// them. go-crypto reads only version 4 and later, so this file verifies
// version 3 packets itself (RFC 4880 section 5.2.2). Only sha256 and
// stronger are accepted, as go-crypto's default policy does for v4.

// sigV3 is a parsed version 3 signature packet.
type sigV3 struct {
	sigType byte
	created [4]byte
	keyID   uint64
	pubAlgo packet.PublicKeyAlgorithm
	hash    crypto.Hash
	hashTag [2]byte
	mpis    [][]byte
}

var errNotV3 = errors.New("not a version 3 signature")

// parseSigV3 parses a signature packet (with its packet header) that is
// version 3; it returns errNotV3 for any other version.
func parseSigV3(b []byte) (*sigV3, error) {
	body, err := packetBody(b)
	if err != nil {
		return nil, err
	}
	if len(body) < 1 || body[0] != 3 {
		return nil, errNotV3
	}
	if len(body) < 19 || body[1] != 5 {
		return nil, errors.New("truncated v3 signature")
	}
	s := &sigV3{sigType: body[2], keyID: binary.BigEndian.Uint64(body[7:15]), pubAlgo: packet.PublicKeyAlgorithm(body[15])}
	copy(s.created[:], body[3:7])
	copy(s.hashTag[:], body[17:19])
	if s.hash, err = v3Hash(body[16]); err != nil {
		return nil, err
	}
	if s.sigType != 0 {
		return nil, fmt.Errorf("v3 signature of type %#x, want a binary-document signature", s.sigType)
	}
	n := map[packet.PublicKeyAlgorithm]int{packet.PubKeyAlgoRSA: 1, packet.PubKeyAlgoRSASignOnly: 1, packet.PubKeyAlgoDSA: 2}[s.pubAlgo]
	if n == 0 {
		return nil, fmt.Errorf("v3 signature with unsupported public-key algorithm %d", s.pubAlgo)
	}
	rest := body[19:]
	for range n {
		var m []byte
		if m, rest, err = readMPI(rest); err != nil {
			return nil, err
		}
		s.mpis = append(s.mpis, m)
	}
	return s, nil
}

func v3Hash(id byte) (crypto.Hash, error) {
	switch id {
	case 8:
		return crypto.SHA256, nil
	case 9:
		return crypto.SHA384, nil
	case 10:
		return crypto.SHA512, nil
	case 11:
		return crypto.SHA224, nil
	}
	return 0, fmt.Errorf("signature hash algorithm %d is not accepted (sha224 or stronger required)", id)
}

// packetBody strips an OpenPGP packet header (old or new format) from a
// signature packet (tag 2).
func packetBody(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0]&0x80 == 0 {
		return nil, errors.New("not an OpenPGP packet")
	}
	var tag byte
	var n, hdr int
	if b[0]&0x40 == 0 { // old format
		tag = (b[0] >> 2) & 0x0f
		switch b[0] & 3 {
		case 0:
			n, hdr = int(b[1]), 2
		case 1:
			if len(b) < 3 {
				return nil, errors.New("truncated packet header")
			}
			n, hdr = int(binary.BigEndian.Uint16(b[1:3])), 3
		case 2:
			if len(b) < 5 {
				return nil, errors.New("truncated packet header")
			}
			n, hdr = int(binary.BigEndian.Uint32(b[1:5])), 5
		default:
			n, hdr = len(b)-1, 1
		}
	} else {
		tag = b[0] & 0x3f
		switch l := int(b[1]); {
		case l < 192:
			n, hdr = l, 2
		case l < 224 && len(b) >= 3:
			n, hdr = (l-192)<<8+int(b[2])+192, 3
		case l == 255 && len(b) >= 6:
			n, hdr = int(binary.BigEndian.Uint32(b[2:6])), 6
		default:
			return nil, errors.New("unsupported packet length")
		}
	}
	if tag != 2 {
		return nil, fmt.Errorf("packet tag %d, want a signature (2)", tag)
	}
	if n < 0 || hdr+n > len(b) {
		return nil, errors.New("truncated signature packet")
	}
	return b[hdr : hdr+n], nil
}

func readMPI(b []byte) ([]byte, []byte, error) {
	if len(b) < 2 {
		return nil, nil, errors.New("truncated MPI")
	}
	bits := int(binary.BigEndian.Uint16(b))
	n := (bits + 7) / 8
	if len(b) < 2+n {
		return nil, nil, errors.New("truncated MPI")
	}
	return b[2 : 2+n], b[2+n:], nil
}

// verifyV3 checks a v3 signature over signed against keys.
func verifyV3(keys openpgp.EntityList, signed io.Reader, s *sigV3) error {
	candidates := keys.KeysByIdUsage(s.keyID, packet.KeyFlagSign)
	if len(candidates) == 0 {
		return fmt.Errorf("v3 signature by key %016X: %w", s.keyID, errUnknownKey)
	}
	h := s.hash.New()
	if _, err := io.Copy(h, signed); err != nil {
		return err
	}
	h.Write([]byte{s.sigType})
	h.Write(s.created[:])
	digest := h.Sum(nil)
	if digest[0] != s.hashTag[0] || digest[1] != s.hashTag[1] {
		return errors.New("v3 signature: hash tag mismatch")
	}
	for _, k := range candidates {
		if verifyV3Key(k.PublicKey, s, digest) == nil {
			return nil
		}
	}
	return errors.New("v3 signature verification failed")
}

func verifyV3Key(pk *packet.PublicKey, s *sigV3, digest []byte) error {
	switch pub := pk.PublicKey.(type) {
	case *rsa.PublicKey:
		if len(s.mpis) != 1 {
			return errors.New("not an RSA signature")
		}
		sig := make([]byte, pub.Size())
		if len(s.mpis[0]) > len(sig) {
			return errors.New("RSA signature too long")
		}
		copy(sig[len(sig)-len(s.mpis[0]):], s.mpis[0])
		return rsa.VerifyPKCS1v15(pub, s.hash, digest, sig)
	case *dsa.PublicKey:
		if len(s.mpis) != 2 {
			return errors.New("not a DSA signature")
		}
		if q := (pub.Q.BitLen() + 7) / 8; len(digest) > q {
			digest = digest[:q]
		}
		if !dsa.Verify(pub, digest, new(big.Int).SetBytes(s.mpis[0]), new(big.Int).SetBytes(s.mpis[1])) {
			return errors.New("DSA verification failure")
		}
		return nil
	}
	return errors.New("unsupported key type")
}
