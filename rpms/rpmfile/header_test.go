package rpmfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// FuzzHeader feeds arbitrary bytes to the package reader and the signature
// verifier: they must return errors, never panic or allocate without bound.
// Crashers found by go test -fuzz are kept in testdata/fuzz/FuzzHeader.
func FuzzHeader(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "chain-b-1.0-1.x86_64.rpm"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:200])
	f.Add(seed[:4600])
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPackage(bytes.NewReader(data), "fuzz")
		if err == nil && (p.Name == "" || p.HeaderEnd <= p.HeaderStart) {
			t.Fatalf("accepted a package without name or header: %+v", p)
		}
		VerifyPackage(bytes.NewReader(data), "fuzz", openpgp.EntityList{})
	})
}

func TestReadPackageTestdata(t *testing.T) {
	p, err := ReadPackageFile(filepath.Join("testdata", "chain-b-1.0-1.x86_64.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	if p.NEVRA() != "chain-b-1.0-1.x86_64" || p.License != "MIT" || p.SourceRPM != "chain-b-1.0-1.src.rpm" ||
		p.HeaderStart != 4504 || p.PayloadDigestAlgo != pgpHashSHA256 || len(p.Files) != 1 {
		t.Errorf("unexpected package: %+v", p)
	}
	if len(p.Requires) == 0 || p.Requires[1].String() != "chain-d" || !p.Requires[1].Pre {
		t.Errorf("requires: %+v", p.Requires)
	}
}

func TestReadPackageRejects(t *testing.T) {
	seed, _ := os.ReadFile(filepath.Join("testdata", "chain-b-1.0-1.x86_64.rpm"))
	cases := map[string][]byte{
		"empty":       nil,
		"not rpm":     []byte("hello world, this is not an rpm"),
		"truncated":   seed[:5000],
		"huge header": append(append([]byte{}, seed[:96]...), 0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff),
		"no index":    append(append([]byte{}, seed[:96]...), 0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		"bad sig hdr": append(append([]byte{}, seed[:96]...), 1, 2, 3, 4),
	}
	for name, data := range cases {
		if _, err := ReadPackage(bytes.NewReader(data), name); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
