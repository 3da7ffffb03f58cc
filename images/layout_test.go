package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/cas"
	"github.com/factory-appliance/appliance/internal/fixture"
)

func pullDemo(t *testing.T, cache *cas.Store, addr string) []*Image {
	t.Helper()
	imgs, err := newTestPuller(t, cache).PullAll(context.Background(), demoRequests(addr))
	if err != nil {
		t.Fatal(err)
	}
	return imgs
}

func TestLayoutIsDeterministicAndComplete(t *testing.T) {
	reg, _ := demoRegistry(t)
	imgs := pullDemo(t, newCache(t), reg.Addr())
	layout1, index1, blobs1, err := Layout(imgs)
	if err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(imgs)
	slices.Reverse(rev)
	rev = append(rev, imgs[0]) // a duplicate is listed once
	_, index2, blobs2, err := Layout(rev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(index1, index2) || !slices.Equal(blobs1, blobs2) {
		t.Fatal("Layout depends on the order of the images")
	}
	if string(layout1) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %s", layout1)
	}
	var idx layoutIndex
	if err := json.Unmarshal(index1, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != len(imgs) {
		t.Fatalf("index.json has %d entries for %d images", len(idx.Manifests), len(imgs))
	}
	byDigest := map[string]bool{}
	for _, b := range blobs1 {
		if byDigest[b.Digest] {
			t.Errorf("blob %s listed twice", b.Digest)
		}
		byDigest[b.Digest] = true
	}
	for _, img := range imgs {
		for _, b := range img.Blobs() {
			if !byDigest[b.Digest] {
				t.Errorf("%s: blob %s missing from the layout", img.Name, b.Digest)
			}
		}
	}
}

// writeLayout writes an OCI layout directory from the cache.
func writeLayout(t *testing.T, cache *cas.Store, imgs []*Image) string {
	t.Helper()
	ociLayout, index, blobs, err := Layout(imgs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "oci-layout"), ociLayout, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644))
	for _, b := range blobs {
		rc, _, err := cache.Open(b.Digest)
		must(t, err)
		f, err := os.Create(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(b.Digest, "sha256:")))
		must(t, err)
		_, err = io.Copy(f, rc)
		rc.Close()
		must(t, err)
		must(t, f.Close())
	}
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func needTool(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s", tool, pkg)
	}
	return p
}

func TestLayoutReadBySkopeo(t *testing.T) {
	skopeo := needTool(t, "skopeo", "skopeo")
	reg, _ := demoRegistry(t)
	cache := newCache(t)
	imgs := pullDemo(t, cache, reg.Addr())
	dir := writeLayout(t, cache, imgs)
	for _, img := range imgs {
		if !strings.HasPrefix(img.MediaType, "application/vnd.oci.") {
			continue // skopeo 1.9 skips Docker v2 manifests inside an OCI layout
		}
		out, err := exec.Command(skopeo, "inspect", "--raw", "oci:"+dir+":"+img.Ref).CombinedOutput()
		if err != nil {
			t.Errorf("skopeo inspect %s: %v\n%s", img.Ref, err, out)
			continue
		}
		if d := digestOf(out); d != img.Digest {
			t.Errorf("skopeo read %s as %s, want %s", img.Ref, d, img.Digest)
		}
		out, err = exec.Command(skopeo, "inspect", "oci:"+dir+":"+img.Ref).CombinedOutput()
		if err != nil {
			t.Errorf("skopeo inspect (config) %s: %v\n%s", img.Ref, err, out)
		}
	}
}

// TestLayoutImportedByCtr imports a layout written from the cache into a
// private containerd, for each platform, and checks every image arrives
// under its canonical name with its upstream digest and unpacks (which
// checks each layer against the config's diff IDs). A partial index (only
// the selected platform's manifest present) imports when ctr is given the
// same --platform; see Layout.
func TestLayoutImportedByCtr(t *testing.T) {
	reg, _ := demoRegistry(t)
	ctd, err := fixture.StartContainerd(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctd.Close() })
	for _, platform := range []string{"linux/amd64", "linux/arm64"} {
		t.Run(platform, func(t *testing.T) {
			cache := newCache(t)
			imgs, err := newTestPuller(t, cache, WithPlatform(platform)).PullAll(context.Background(), demoRequests(reg.Addr()))
			must(t, err)
			archive := filepath.Join(t.TempDir(), "layout.tar")
			must(t, tarDir(writeLayout(t, cache, imgs), archive))
			ns := strings.ReplaceAll(platform, "/", "-")
			run := func(args ...string) string {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				out, err := ctd.Ctr(ctx, ns, args...)
				if err != nil {
					t.Fatal(err)
				}
				return string(out)
			}
			imported := run("images", "import", "--platform", platform, "--snapshotter", "native", archive)
			list := run("images", "ls")
			for _, img := range imgs {
				if !strings.Contains(imported, "unpacking "+img.Name+" ("+img.Digest+")...done") {
					t.Errorf("ctr did not unpack %s (%s):\n%s", img.Name, img.Digest, imported)
				}
				if line := lineFor(list, img.Name); !strings.Contains(line, img.Digest) {
					t.Errorf("ctr lists %s as %q, want digest %s", img.Name, line, img.Digest)
				}
			}
		})
	}
}

func lineFor(list, name string) string {
	for _, l := range strings.Split(list, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return l
		}
	}
	return ""
}

// tarDir writes dir's files into a tar at out, sorted, as ctr import reads.
func tarDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil || d.IsDir() {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		f.Close()
		return err
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
