package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/factory-appliance/appliance/internal/bundle"
	"github.com/factory-appliance/appliance/internal/fixture"
	"github.com/factory-appliance/appliance/internal/signing"
)

const (
	pushUser = "deployer"
	pushPass = "cli-Pa55word-never-printed"
	keyPass  = "key-pass"
	imgName  = "registry.factory.example/test/app:1.0"
)

// cliBundle is a bundle holding one random image named imgName.
type cliBundle struct {
	signed, unsigned, pub, otherPub string
	digest                          v1.Hash
	blobs                           int // config and layers
}

func makeCLIBundle(t *testing.T) *cliBundle {
	t.Helper()
	dir := t.TempDir()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	entries := imageEntries(t, img)
	d, _ := img.Digest()
	mt, _ := img.MediaType()
	sz, _ := img.Size()
	indexJSON, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []map[string]any{{
		"mediaType": mt, "digest": d.String(), "size": sz,
		"annotations": map[string]string{"io.containerd.image.name": imgName, "org.opencontainers.image.ref.name": imgName},
	}}})
	entries[bundle.OCIIndexName] = indexJSON
	entries[bundle.OCILayoutName] = []byte(`{"imageLayoutVersion":"1.0.0"}`)

	cb := &cliBundle{digest: d, blobs: len(entries) - 3}
	priv, pub, err := signing.GenerateKeyPair([]byte(keyPass))
	if err != nil {
		t.Fatal(err)
	}
	_, otherPub, err := signing.GenerateKeyPair([]byte(keyPass))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.ParseSigner("test", priv, func() ([]byte, error) { return []byte(keyPass), nil })
	if err != nil {
		t.Fatal(err)
	}
	cb.pub, cb.otherPub = filepath.Join(dir, "cosign.pub"), filepath.Join(dir, "other.pub")
	writeFile(t, cb.pub, pub)
	writeFile(t, cb.otherPub, otherPub)
	cb.signed, cb.unsigned = filepath.Join(dir, "signed.bundle"), filepath.Join(dir, "unsigned.bundle")
	writeFile(t, cb.signed, encodeBundle(t, entries, signer))
	writeFile(t, cb.unsigned, encodeBundle(t, entries, nil))
	return cb
}

// imageEntries returns the blobs of img (manifest, config, layers) by
// bundle path.
func imageEntries(t *testing.T, img v1.Image) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	add := func(b []byte) {
		h, _, _ := v1.SHA256(bytes.NewReader(b))
		out["blobs/sha256/"+h.Hex] = b
	}
	raw, _ := img.RawManifest()
	cfg, _ := img.RawConfigFile()
	add(raw)
	add(cfg)
	layers, _ := img.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		add(b)
	}
	return out
}

func encodeBundle(t *testing.T, entries map[string][]byte, signer *signing.Signer) []byte {
	t.Helper()
	var paths []string
	for p := range entries {
		paths = append(paths, p)
	}
	sortStrings(paths)
	var out bytes.Buffer
	w := bundle.NewWriter(&out)
	x := &bundle.Index{SchemaVersion: bundle.SchemaVersion, Name: "cli-test", Version: "1", Platform: "linux/amd64"}
	for _, p := range paths {
		e, err := w.Add(p, int64(len(entries[p])), bytes.NewReader(entries[p]))
		if err != nil {
			t.Fatal(err)
		}
		x.Artifacts = append(x.Artifacts, e.Artifact(bundle.KindBlob, p))
	}
	index, err := x.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var sig []byte
	if signer != nil {
		if sig, err = signer.SignBlob(index); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(index, sig); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runDeploy runs the deploy command with args and stdin, and returns its
// standard output, standard error and error.
func runDeploy(args []string, stdin string) (string, string, error) {
	cmd := newRootCmd()
	var out, errb bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func startRegistry(t *testing.T) string {
	t.Helper()
	reg, err := fixture.StartRegistry(context.Background(), fixture.WithHtpasswd(pushUser, pushPass))
	if err != nil {
		t.Fatalf("%v (install the Debian package docker-registry)", err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg.Addr()
}

func TestPushCommand(t *testing.T) {
	cb := makeCLIBundle(t)
	addr := startRegistry(t)
	args := []string{"push", "--bundle", cb.signed, "--key", cb.pub, "--to", addr, "--plain-http",
		"--username", pushUser, "--password-stdin", "--json"}

	for run, wantUploads := range []int64{int64(cb.blobs), 0} {
		stdout, stderr, err := runDeploy(args, pushPass+"\n")
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, stderr)
		}
		var rep struct {
			Images        int   `json:"images"`
			BlobsUploaded int64 `json:"blobsUploaded"`
			BytesUploaded int64 `json:"bytesUploaded"`
			BlobsSkipped  int64 `json:"blobsSkipped"`
			BlobsMounted  int64 `json:"blobsMounted"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("run %d: stdout is not one JSON object: %v\n%s", run, err, stdout)
		}
		if rep.Images != 1 || rep.BlobsUploaded != wantUploads {
			t.Errorf("run %d: %+v; want 1 image, %d blobs uploaded", run, rep, wantUploads)
		}
		if !strings.Contains(stderr, "1 of 1") && !strings.Contains(stderr, "1/1") {
			t.Errorf("run %d: no \"image i of N\" progress on stderr:\n%s", run, stderr)
		}
		if strings.Contains(stdout+stderr, pushPass) {
			t.Errorf("run %d: the password was printed", run)
		}
	}
	ref, _ := name.ParseReference(addr + "/registry.factory.example/test/app:1.0")
	d, err := remote.Head(ref, remote.WithAuth(&authn.Basic{Username: pushUser, Password: pushPass}))
	if err != nil || d.Digest != cb.digest {
		t.Fatalf("pushed image: %v, %v; want digest %s", d, err, cb.digest)
	}
}

func TestPushCommandRefusals(t *testing.T) {
	cb := makeCLIBundle(t)
	addr := startRegistry(t)
	base := []string{"push", "--to", addr, "--plain-http", "--username", pushUser, "--password-stdin"}
	for _, tc := range []struct {
		name    string
		args    []string
		stdin   string
		wantErr string // "" for success
		wantOut string // in stderr
	}{
		{"unsigned without --insecure-skip-verify", []string{"--bundle", cb.unsigned, "--key", cb.pub}, pushPass, "not signed", ""},
		{"no key", []string{"--bundle", cb.signed}, pushPass, "--key", ""},
		{"wrong key", []string{"--bundle", cb.signed, "--key", cb.otherPub}, pushPass, "does not verify", ""},
		{"unsigned, insecure", []string{"--bundle", cb.unsigned, "--insecure-skip-verify"}, pushPass, "", "WARNING"},
		{"wrong password", []string{"--bundle", cb.signed, "--key", cb.pub}, "Wr0ng-Secret-99", "401", ""},
		{"empty password", []string{"--bundle", cb.signed, "--key", cb.pub}, "", "no password", ""},
		{"plain HTTP to a remote host", []string{"--bundle", cb.signed, "--key", cb.pub, "--to", "10.1.2.3:5000"}, pushPass, "loopback", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runDeploy(append(append([]string{}, base...), tc.args...), tc.stdin+"\n")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("failed: %v\n%s", err, stderr)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("succeeded:\n%s", stdout)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q lacks %q", err, tc.wantErr)
			}
			if !strings.Contains(stderr, tc.wantOut) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantOut, stderr)
			}
			all := stdout + stderr
			if err != nil {
				all += err.Error()
			}
			if tc.stdin != "" && strings.Contains(all, tc.stdin) {
				t.Errorf("the password was printed:\n%s", all)
			}
		})
	}
}

func TestPushHelp(t *testing.T) {
	stdout, _, err := runDeploy([]string{"push", "--help"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--bundle", "--to", "--password-stdin", "--ca-file", "--insecure-skip-verify", "Examples:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
