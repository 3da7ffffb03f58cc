package trust

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/signing"
)

const pass = "test-password"

// writeBundle writes a one-file bundle whose bundle.json has the given
// version, signed with what sig returns for it (sig nil: unsigned), and
// returns its path.
func writeBundle(t *testing.T, dir, version string, sig func(index []byte) []byte) string {
	t.Helper()
	var out bytes.Buffer
	w := bundle.NewWriter(&out)
	data := []byte("hello\n")
	e, err := w.Add("files/hello.txt", int64(len(data)), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	x := &bundle.Index{SchemaVersion: bundle.SchemaVersion, Name: "trust-test", Version: version, Platform: "linux/amd64",
		Artifacts: []bundle.Artifact{e.Artifact(bundle.KindFile, "hello")}}
	index, err := x.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var s []byte
	if sig != nil {
		s = sig(index)
	}
	if err := w.Finish(index, s); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, version+".bundle")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func newKey(t *testing.T, dir, name string) (*signing.Signer, string) {
	t.Helper()
	priv, pub, err := signing.GenerateKeyPair([]byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.ParseSigner(name, priv, func() ([]byte, error) { return []byte(pass), nil })
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".pub")
	if err := os.WriteFile(path, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return s, path
}

func TestOpenVerified(t *testing.T) {
	dir := t.TempDir()
	signer, pub := newKey(t, dir, "good")
	_, otherPub := newKey(t, dir, "other")
	sign := func(index []byte) []byte {
		s, err := signer.SignBlob(index)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	signed := writeBundle(t, dir, "1.0", sign)
	unsigned := writeBundle(t, dir, "2.0", nil)
	// bundle.json changed after signing: 1.0's signature on 3.0's index.
	tampered := writeBundle(t, dir, "3.0", func([]byte) []byte {
		r, err := bundle.Open(signed)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		return r.Signature()
	})

	for _, tc := range []struct {
		name     string
		path     string
		key      string
		insecure bool
		wantErr  error  // errors.Is target; nil means success
		wantText string // in the error, or in the warning on success
	}{
		{"signed, right key", signed, pub, false, nil, ""},
		{"signed, wrong key", signed, otherPub, false, signing.ErrBadSignature, "bundle.json"},
		{"unsigned, key", unsigned, pub, false, signing.ErrUnsigned, "not signed"},
		{"bundle.json altered", tampered, pub, false, signing.ErrBadSignature, ""},
		{"no key", signed, "", false, ErrNoKey, "--insecure-skip-verify"},
		{"unsigned, insecure", unsigned, "", true, nil, "WARNING"},
		{"key and insecure", signed, pub, true, errors.New("any"), "contradict"},
		{"missing key file", signed, filepath.Join(dir, "none.pub"), false, os.ErrNotExist, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warn bytes.Buffer
			r, err := OpenVerified(tc.path, tc.key, tc.insecure, &warn)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("OpenVerified: %v", err)
				}
				r.Close()
				if !strings.Contains(warn.String(), tc.wantText) {
					t.Errorf("warning %q lacks %q", warn.String(), tc.wantText)
				}
				if !tc.insecure && warn.Len() != 0 {
					t.Errorf("a verified open warned: %q", warn.String())
				}
				return
			}
			if err == nil {
				r.Close()
				t.Fatal("OpenVerified succeeded")
			}
			if tc.wantErr.Error() != "any" && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q lacks %q", err, tc.wantText)
			}
		})
	}
}

func TestOpenOptionalKey(t *testing.T) {
	dir := t.TempDir()
	signer, pub := newKey(t, dir, "good")
	_, otherPub := newKey(t, dir, "other")
	signed := writeBundle(t, dir, "1.0", func(index []byte) []byte {
		s, err := signer.SignBlob(index)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	unsigned := writeBundle(t, dir, "2.0", nil)
	for _, tc := range []struct {
		name    string
		path    string
		key     string
		wantErr error // nil means success
	}{
		{"signed, right key", signed, pub, nil},
		{"signed, no key", signed, "", nil},
		{"unsigned, no key", unsigned, "", nil},
		{"signed, wrong key", signed, otherPub, signing.ErrBadSignature},
		{"unsigned, key", unsigned, pub, signing.ErrUnsigned},
		{"missing key file", signed, filepath.Join(dir, "none.pub"), os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := OpenOptionalKey(tc.path, tc.key)
			if err == nil {
				r.Close()
			}
			if tc.wantErr == nil && err != nil {
				t.Fatalf("OpenOptionalKey: %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want one wrapping %v", err, tc.wantErr)
			}
		})
	}
}
