package push

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/bundle"
)

// The push killed with SIGKILL: the test binary re-runs itself as a push
// process (killHelperEnv set), which stalls in the middle of a blob upload
// after a few complete ones, and is killed there.
const killHelperEnv = "PUSH_KILL_HELPER" // "bundle|host|ca file"

// runKillHelper pushes, printing "uploaded" after each completed blob
// upload and "stalled" once it holds an upload half-sent, then waits to be
// killed.
func runKillHelper(spec string) int {
	parts := strings.Split(spec, "|")
	if len(parts) != 3 {
		fmt.Fprintln(os.Stderr, "bad", killHelperEnv)
		return 2
	}
	r, err := bundle.Open(parts[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	pem, err := os.ReadFile(parts[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	_, err = Push(context.Background(), r, parts[1], WithBasicAuth(testUser, testPass), WithHarbor(HarborOff),
		WithConcurrency(1, 1), WithTransport(&stallAfter{next: tr, n: 3}))
	fmt.Fprintln(os.Stderr, "push returned:", err)
	return 3 // it should have been killed
}

// stallAfter lets n blob uploads complete, then stalls the next upload
// after its first byte.
type stallAfter struct {
	next http.RoundTripper
	n    int64
	done atomic.Int64
}

func (s *stallAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPatch && s.done.Load() >= s.n && req.Body != nil {
		req = req.Clone(req.Context())
		req.Body = &stallingBody{r: req.Body}
	}
	resp, err := s.next.RoundTrip(req)
	if err == nil && req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/blobs/uploads/") && resp.StatusCode == http.StatusCreated {
		s.done.Add(1)
		fmt.Println("uploaded")
	}
	return resp, err
}

type stallingBody struct {
	r    io.ReadCloser
	sent bool
}

func (b *stallingBody) Read(p []byte) (int, error) {
	if !b.sent && len(p) > 0 {
		b.sent = true
		return b.r.Read(p[:1])
	}
	fmt.Println("stalled")
	select {} // until killed
}

func (b *stallingBody) Close() error { return b.r.Close() }

func TestKilledPushCompletesOnRerun(t *testing.T) {
	tb := getBundle(t)
	r := openBundle(t, tb.path)
	s := startSite(t)
	units := mustUnits(t, r, s.reg.Addr())

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+tb.path+"|"+s.reg.Addr()+"|"+s.caFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the test
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	uploads := waitStalled(t, stdout, cmd)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if uploads != 3 {
		t.Fatalf("the killed push completed %d uploads, want 3 (stderr: %s)", uploads, stderr.String())
	}

	rerun, err := Push(context.Background(), r, s.reg.Addr(), s.opts()...)
	if err != nil {
		t.Fatalf("rerun after SIGKILL: %v", err)
	}
	checkArrived(t, s, r, units, rerun)
	want := expect(t, r, units)
	if rerun.BlobsUploaded != want.uploads-3 {
		t.Errorf("rerun uploaded %d blobs; want the %d the killed push had not completed", rerun.BlobsUploaded, want.uploads-3)
	}
	again, err := Push(context.Background(), r, s.reg.Addr(), s.opts()...)
	if err != nil || again.BlobsUploaded != 0 || again.ImagesPresent != len(units) {
		t.Errorf("third push: %v, %d uploads, %d of %d present; want nothing to do", err, again.BlobsUploaded, again.ImagesPresent, len(units))
	}
}

// waitStalled reads the helper's output until it stalls, and returns how
// many uploads it completed.
func waitStalled(t *testing.T, stdout io.Reader, cmd *exec.Cmd) int {
	t.Helper()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	uploads := 0
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Process.Kill()
				t.Fatal("the push process ended before it stalled")
			}
			switch l {
			case "uploaded":
				uploads++
			case "stalled":
				return uploads
			}
		case <-timeout:
			cmd.Process.Kill()
			t.Fatal("the push process did not stall within 2 minutes")
		}
	}
}
