package siteserver

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// corrupt flips one byte of the blob at offset (negative: from the end).
func corrupt(t *testing.T, dir, digest string, offset int64) {
	t.Helper()
	p := blobPath(dir, digest)
	b := readFile(t, p)
	if offset < 0 {
		offset += int64(len(b))
	}
	b[offset] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptContentIsNeverServedAsGood(t *testing.T) {
	l := newLayout(t)
	db := l.image(t, "docker.io/library/db")
	var m v1.Manifest
	if err := json.Unmarshal(readFile(t, blobPath(l.dir, db.digest)), &m); err != nil {
		t.Fatal(err)
	}
	bigTail := l.bigBlob
	config := m.Config.Digest.String()
	corrupt(t, l.dir, bigTail, -1) // the very last byte: must be held back
	corrupt(t, l.dir, config, 0)
	corrupt(t, l.dir, db.digest, 10)
	tests := []struct {
		name, path, rng string
	}{
		{"big blob, last byte", "/v2/docker.io/library/db/blobs/" + bigTail, ""},
		{"big blob, a range of it", "/v2/docker.io/library/db/blobs/" + bigTail, "bytes=0-99"},
		{"big blob, a tail range", "/v2/docker.io/library/db/blobs/" + bigTail, "bytes=-300000"},
		{"small blob", "/v2/docker.io/library/db/blobs/" + config, ""},
		{"manifest by tag", "/v2/docker.io/library/db/manifests/1.0", ""},
	}
	for _, tls := range []bool{false, true} { // HTTP/1.1 and HTTP/2
		rs := startServer(t, l.dir, tls)
		for _, tc := range tests {
			t.Run(tc.name+map[bool]string{false: " http1", true: " h2"}[tls], func(t *testing.T) {
				hdr := map[string]string{}
				if tc.rng != "" {
					hdr["Range"] = tc.rng
				}
				resp, body, err := rs.do(t, "GET", tc.path, hdr)
				if err == nil && resp.StatusCode < 300 {
					t.Fatalf("corrupt content answered %d with %d bytes and no error", resp.StatusCode, len(body))
				}
				if err == nil && resp.StatusCode != 500 {
					t.Errorf("status %d, want 500 or an aborted body", resp.StatusCode)
				}
			})
		}
		if !strings.Contains(rs.logs.String(), "is corrupt") {
			t.Errorf("the corruption was not logged:\n%s", rs.logs.String())
		}
	}
}

func TestSkopeoFailsOnCorruptLayer(t *testing.T) {
	skopeo := requireTool(t, "skopeo", "skopeo")
	l := newLayout(t)
	app := l.image(t, "registry.factory.example/library/app")
	var m v1.Manifest
	if err := json.Unmarshal(readFile(t, blobPath(l.dir, app.digest)), &m); err != nil {
		t.Fatal(err)
	}
	biggest := m.Layers[0]
	for _, d := range m.Layers {
		if d.Size > biggest.Size {
			biggest = d
		}
	}
	corrupt(t, l.dir, biggest.Digest.String(), biggest.Size/2)
	rs := startServer(t, l.dir, false)
	dest := filepath.Join(t.TempDir(), "oci")
	cmd := exec.Command(skopeo, "copy", "--src-tls-verify=false", "--preserve-digests",
		"docker://"+rs.addr+"/"+app.ref(), "oci:"+dest+":x")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err == nil {
		t.Fatalf("skopeo copied an image with a corrupt layer:\n%s", out.String())
	}
	if !strings.Contains(rs.logs.String(), "is corrupt") {
		t.Errorf("the corruption was not logged:\n%s", rs.logs.String())
	}
}
