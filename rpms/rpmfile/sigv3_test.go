package rpmfile

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/factory-appliance/appliance/rpms/rpm"
)

// withV3Signature rebuilds an RPM with a signature header holding only a
// version 3 RSA/SHA256 header signature made by e, as rpm on EL7 signs.
func withV3Signature(t *testing.T, file []byte, p *rpm.Package, e *openpgp.Entity) []byte {
	t.Helper()
	created := []byte{0x60, 0, 0, 0}
	h := crypto.SHA256.New()
	h.Write(file[p.HeaderStart:p.HeaderEnd])
	h.Write([]byte{0})
	h.Write(created)
	digest := h.Sum(nil)
	sig, err := rsa.SignPKCS1v15(rand.Reader, e.PrivateKey.PrivateKey.(*rsa.PrivateKey), crypto.SHA256, digest)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte{3, 5, 0}
	body = append(body, created...)
	body = binary.BigEndian.AppendUint64(body, e.PrimaryKey.KeyId)
	body = append(body, byte(packet.PubKeyAlgoRSA), 8, digest[0], digest[1])
	body = binary.BigEndian.AppendUint16(body, uint16(len(sig)*8))
	body = append(body, sig...)
	pkt := append([]byte{0x89}, binary.BigEndian.AppendUint16(nil, uint16(len(body)))...)
	pkt = append(pkt, body...)

	var hdr bytes.Buffer
	hdr.Write(headerMagic)
	hdr.Write(make([]byte, 4))
	binary.Write(&hdr, binary.BigEndian, []uint32{1, uint32(len(pkt)), sigTagRSA, typeBin, 0, uint32(len(pkt))})
	hdr.Write(pkt)
	hdr.Write(make([]byte, (8-hdr.Len()%8)%8))
	out := append(append([]byte{}, file[:leadSize]...), hdr.Bytes()...)
	return append(out, file[p.HeaderStart:]...)
}

func newRSAEntity(t *testing.T) *openpgp.Entity {
	e, err := openpgp.NewEntity("v3 test", "", "v3@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestVerifyV3Signature(t *testing.T) {
	file, err := os.ReadFile(filepath.Join("testdata", "chain-b-1.0-1.x86_64.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ReadPackage(bytes.NewReader(file), "chain-b")
	if err != nil {
		t.Fatal(err)
	}
	signer := newRSAEntity(t)
	signed := withV3Signature(t, file, p, signer)
	if _, err := VerifyPackage(bytes.NewReader(signed), "chain-b", openpgp.EntityList{signer}); err != nil {
		t.Fatalf("valid v3 signature refused: %v", err)
	}
	if _, err := VerifyPackage(bytes.NewReader(signed), "chain-b", openpgp.EntityList{newRSAEntity(t)}); err == nil || !strings.Contains(err.Error(), "does not trust") {
		t.Errorf("other key: err = %v", err)
	}
	tampered := append([]byte{}, signed...)
	off := len(signed) - len(file[p.HeaderStart:]) + int(p.HeaderEnd-p.HeaderStart) - 3
	tampered[off] ^= 0xff
	if _, err := VerifyPackage(bytes.NewReader(tampered), "chain-b", openpgp.EntityList{signer}); err == nil || !strings.Contains(err.Error(), "bad signature") {
		t.Errorf("tampered header: err = %v", err)
	}
}
