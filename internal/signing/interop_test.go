package signing

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// bundleJSON stands in for a bundle index; its content does not matter.
var bundleJSON = []byte(`{"schemaVersion":2,"artifacts":[{"kind":"blob","digest":"sha256:6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d","size":1}]}` + "\n")

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCosignVerifiesOurSignature: a pair from GenerateKeyPairFiles and a
// signature from SignBlob are accepted by `cosign verify-blob`, and cosign
// rejects the same signature over altered data (so the check is real).
func TestCosignVerifiesOurSignature(t *testing.T) {
	cosign := newCosignCLI(t)
	dir := t.TempDir()
	keyPath, pubPath, _, err := GenerateKeyPairFiles(filepath.Join(dir, "release"), staticPassword("ours"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := LoadSigner(keyPath, staticPassword("ours"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.SignBlob(bundleJSON)
	if err != nil {
		t.Fatal(err)
	}
	data := writeFile(t, filepath.Join(dir, "bundle.json"), bundleJSON)
	sigPath := writeFile(t, filepath.Join(dir, "bundle.json.sig"), sig)
	if out, err := cosign.verifyBlob(dir, pubPath, sigPath, data); err != nil {
		t.Fatalf("cosign verify-blob rejects our signature: %v\n%s", err, out)
	}

	altered := append([]byte(nil), bundleJSON...)
	altered[10] ^= 0x20
	alteredPath := writeFile(t, filepath.Join(dir, "altered.json"), altered)
	if out, err := cosign.verifyBlob(dir, pubPath, sigPath, alteredPath); err == nil {
		t.Fatalf("cosign verify-blob accepts our signature over altered data:\n%s", out)
	}
}

// TestCosignSignsWithOurKey: cosign decrypts a private key we generated and
// its sign-blob output verifies here.
func TestCosignSignsWithOurKey(t *testing.T) {
	cosign := newCosignCLI(t)
	dir := t.TempDir()
	keyPath, pubPath, _, err := GenerateKeyPairFiles(filepath.Join(dir, "release"), staticPassword("ours"))
	if err != nil {
		t.Fatal(err)
	}
	data := writeFile(t, filepath.Join(dir, "bundle.json"), bundleJSON)
	sigPath := filepath.Join(dir, "bundle.json.sig")
	cosign.mustRun(dir, "ours", nil, "sign-blob", "--key", keyPath, "--tlog-upload=false", "-y", "--output-signature", sigPath, data)
	verifyFiles(t, pubPath, data, sigPath, nil)
}

// TestWeVerifyCosignSignature: a pair from `cosign generate-key-pair` and a
// signature from `cosign sign-blob` verify here; the wrong key or altered
// data give ErrBadSignature; and our signer loads cosign's private key.
func TestWeVerifyCosignSignature(t *testing.T) {
	cosign := newCosignCLI(t)
	dir := t.TempDir()
	keyPath, pubPath := cosign.generateKeyPair(dir, "theirs")
	data := writeFile(t, filepath.Join(dir, "bundle.json"), bundleJSON)
	sigPath := filepath.Join(dir, "bundle.json.sig")
	cosign.mustRun(dir, "theirs", nil, "sign-blob", "--key", keyPath, "--tlog-upload=false", "-y", "--output-signature", sigPath, data)

	_, otherPub, err := GenerateKeyPair([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	otherPath := writeFile(t, filepath.Join(dir, "other.pub"), otherPub)
	altered := append([]byte(nil), bundleJSON...)
	altered[len(altered)-3] ^= 0x01
	alteredPath := writeFile(t, filepath.Join(dir, "altered.json"), altered)

	tests := []struct {
		name    string
		pub     string
		data    string
		wantErr error
	}{
		{"cosign key", pubPath, data, nil},
		{"wrong key", otherPath, data, ErrBadSignature},
		{"altered data", pubPath, alteredPath, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { verifyFiles(t, tt.pub, tt.data, sigPath, tt.wantErr) })
	}

	t.Run("our signer with cosign's key", func(t *testing.T) {
		signer, err := LoadSigner(keyPath, staticPassword("theirs"))
		if err != nil {
			t.Fatalf("load cosign's private key: %v", err)
		}
		sig, err := signer.SignBlob(bundleJSON)
		if err != nil {
			t.Fatal(err)
		}
		ourSig := writeFile(t, filepath.Join(dir, "ours.sig"), sig)
		if out, err := cosign.verifyBlob(dir, pubPath, ourSig, data); err != nil {
			t.Fatalf("cosign verify-blob: %v\n%s", err, out)
		}
	})
}

func verifyFiles(t *testing.T, pubPath, dataPath, sigPath string, wantErr error) {
	t.Helper()
	v, err := LoadVerifier(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(dataPath)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		t.Fatal(err)
	}
	err = v.VerifyBlob(data, sig)
	if !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
		t.Fatalf("VerifyBlob(%s, %s) with %s: error %v, want %v", filepath.Base(dataPath), filepath.Base(sigPath), filepath.Base(pubPath), err, wantErr)
	}
}
