package signing

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func staticPassword(pw string) PasswordFunc {
	return func() ([]byte, error) { return []byte(pw), nil }
}

func TestGenerateKeyPairFormat(t *testing.T) {
	privPEM, pubPEM, err := GenerateKeyPair([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(privPEM), "-----BEGIN "+SigstorePrivateKeyType+"-----\n") {
		t.Errorf("private key PEM starts %q, want a %q block", firstLine(privPEM), SigstorePrivateKeyType)
	}
	if !strings.HasPrefix(string(pubPEM), "-----BEGIN PUBLIC KEY-----\n") {
		t.Errorf("public key PEM starts %q, want a PUBLIC KEY block", firstLine(pubPEM))
	}
	if strings.Contains(string(privPEM), "s3cret") {
		t.Error("private key PEM contains the password")
	}
	s, err := ParseSigner("test.key", privPEM, staticPassword("s3cret"))
	if err != nil {
		t.Fatalf("load generated key: %v", err)
	}
	fp, err := FingerprintPEM(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fingerprint() != fp {
		t.Errorf("signer fingerprint %s, public key fingerprint %s", s.Fingerprint(), fp)
	}
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}

func TestParseSignerErrors(t *testing.T) {
	privPEM, pubPEM, err := GenerateKeyPair([]byte("right"))
	if err != nil {
		t.Fatal(err)
	}
	damaged := []byte(strings.Replace(string(privPEM), "\n", "\nAAAA", 2))
	tests := []struct {
		name    string
		pem     []byte
		pass    PasswordFunc
		wantErr string
	}{
		{"wrong password", privPEM, staticPassword("wrong"), "wrong password (check COSIGN_PASSWORD)"},
		{"not PEM", []byte("hello"), staticPassword("right"), "is not a PEM file"},
		{"public key given", pubPEM, staticPassword("right"), `holds a "PUBLIC KEY" PEM block`},
		{"damaged body", damaged, staticPassword("right"), "test.key"},
		{"no password", privPEM, func() ([]byte, error) { return nil, ErrNoPassword }, "no key password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSigner("test.key", tt.pem, tt.pass)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseSigner error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseVerifierErrors(t *testing.T) {
	privPEM, _, err := GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pem     []byte
		wantErr string
	}{
		{"empty", nil, "is not a PEM file"},
		{"private key given", privPEM, "pass the .pub file, not the .key"},
		{"garbage in block", []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), "parse public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseVerifier(tt.pem)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseVerifier error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWriteKeyPair(t *testing.T) {
	privPEM, pubPEM, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(t.TempDir(), "release")
	keyPath, pubPath, err := WriteKeyPair(prefix, privPEM, pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]fs.FileMode{keyPath: 0o600, pubPath: 0o644} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s has mode %v, want at most %v", path, got, want)
		}
	}
	if _, err := LoadSigner(keyPath, staticPassword("pw")); err != nil {
		t.Errorf("LoadSigner(%s): %v", keyPath, err)
	}
	if _, err := LoadVerifier(pubPath); err != nil {
		t.Errorf("LoadVerifier(%s): %v", pubPath, err)
	}
}

func TestWriteKeyPairRefusesToOverwrite(t *testing.T) {
	privPEM, pubPEM, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	for _, existing := range []string{".key", ".pub"} {
		t.Run(existing, func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "cosign")
			if err := os.WriteFile(prefix+existing, []byte("keep me"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := WriteKeyPair(prefix, privPEM, pubPEM)
			if !errors.Is(err, fs.ErrExist) {
				t.Fatalf("WriteKeyPair over an existing %s: error %v, want fs.ErrExist", existing, err)
			}
			if got, _ := os.ReadFile(prefix + existing); string(got) != "keep me" {
				t.Errorf("existing %s was changed to %q", existing, got)
			}
			for _, other := range []string{".key", ".pub"} {
				if other == existing {
					continue
				}
				if _, err := os.Lstat(prefix + other); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s was written although the pair was refused (stat: %v)", other, err)
				}
			}
		})
	}
}

func TestGenerateKeyPairFilesAsksNoPasswordWhenRefusing(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "cosign")
	if err := os.WriteFile(prefix+".pub", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	asked := false
	pass := func() ([]byte, error) { asked = true; return []byte("x"), nil }
	if _, _, _, err := GenerateKeyPairFiles(prefix, pass); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("error %v, want fs.ErrExist", err)
	}
	if asked {
		t.Error("asked for a password before refusing to overwrite")
	}
}

func TestLoadKeyFileTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.pub")
	if err := os.WriteFile(path, make([]byte, maxKeyFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadVerifier(path); err == nil || !strings.Contains(err.Error(), "not a key file") {
		t.Fatalf("LoadVerifier of a huge file: %v", err)
	}
}
