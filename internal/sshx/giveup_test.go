package sshx

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/lockedio"

	"golang.org/x/crypto/ssh"
)

// bareConfig is a Config that can authenticate (a real key file) to
// address:port, with fast retries; nothing need listen there.
func bareConfig(t *testing.T, address string, port int) Config {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	key := filepath.Join(t.TempDir(), "id_ed25519")
	writeKey(t, key, priv, "")
	return Config{Name: "h1", Address: address, Port: port, KeyFile: key, NoAgent: true,
		KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts"),
		DialAttempts:   5, RetryBase: 50 * time.Millisecond, RetryMax: 100 * time.Millisecond, DialTimeout: 2 * time.Second}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestClassifyConnect: what each dial failure says about the next attempt.
func TestClassifyConnect(t *testing.T) {
	connect := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	for _, c := range []struct {
		name string
		err  error
		want connectKind
	}{
		{"no route to host", connect(syscall.EHOSTUNREACH), unreachable},
		{"network unreachable", connect(syscall.ENETUNREACH), unreachable},
		{"name not found", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "m1.site", IsNotFound: true}}, unreachable},
		{"through a jump host: no route", fmt.Errorf("jump: %w", &ssh.OpenChannelError{Reason: ssh.ConnectionFailed, Message: "No route to host"}), unreachable},
		{"refused", connect(syscall.ECONNREFUSED), refused},
		{"through a jump host: refused", &ssh.OpenChannelError{Reason: ssh.ConnectionFailed, Message: "Connection refused"}, refused},
		{"connect timeout", &net.OpError{Op: "dial", Net: "tcp", Err: timeoutError{}}, transient},
		{"handshake deadline", fmt.Errorf("SSH handshake with 10.0.0.1:22: %w", context.DeadlineExceeded), transient},
		{"reset", connect(syscall.ECONNRESET), transient},
		{"handshake cut short", fmt.Errorf("ssh: handshake failed: %w", io.EOF), transient},
		{"DNS server timeout", &net.DNSError{Err: "timeout", Name: "m1.site", IsTimeout: true}, transient},
		{"jump host refused the tunnel", &ssh.OpenChannelError{Reason: ssh.Prohibited, Message: "administratively prohibited"}, transient},
	} {
		if got := classifyConnect(c.err); got != c.want {
			t.Errorf("%s (%v): %d, want %d", c.name, c.err, got, c.want)
		}
	}
}

// TestRefusedGivesUpAfterGrace: a loopback port nothing listens on is
// retried for RefusedGrace only, although more attempts are allowed, and
// the error is permanent, naming the port and the fix.
func TestRefusedGivesUpAfterGrace(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := bareConfig(t, "127.0.0.1", port)
	cfg.DialAttempts, cfg.RefusedGrace = 50, 400*time.Millisecond
	var log lockedio.Buffer
	cfg.Log = &log
	start := time.Now()
	_, err = Dial(context.Background(), cfg)
	took := time.Since(start)
	if !IsPermanent(err) || !errors.Is(err, ErrUnreachable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial = %v, want a permanent ErrUnreachable with ECONNREFUSED", err)
	}
	for _, want := range []string{"refused the connection", fmt.Sprintf("nothing listens on port %d", port), "systemctl enable --now sshd"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	if took < cfg.RefusedGrace || took > cfg.RefusedGrace+time.Second {
		t.Errorf("gave up after %s, want about the grace of %s", took, cfg.RefusedGrace)
	}
	if !strings.Contains(log.String(), "retrying in") {
		t.Errorf("a refused connection was not retried within its grace:\n%s", log.String())
	}
}

// TestTimeoutIsRetried: a host that accepts the connection but never
// speaks SSH (a hung sshd) times out each attempt, and every attempt is
// made; the error is not permanent, so deploy's phase attempts retry too.
func TestTimeoutIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, silent
		}
	}()
	cfg := bareConfig(t, "127.0.0.1", ln.Addr().(*net.TCPAddr).Port)
	cfg.DialAttempts, cfg.DialTimeout = 3, 200*time.Millisecond
	_, err = Dial(context.Background(), cfg)
	if err == nil || IsPermanent(err) || !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("Dial = %v, want ErrUnreachable after 3 attempts, not permanent", err)
	}
	if n := len(accepted); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
	for len(accepted) > 0 {
		(<-accepted).Close()
	}
}

// netnsChild is set in the copy of this test binary that runs in a network
// namespace of its own (see TestUnreachableIsNotRetried).
const netnsChild = "SSHX_TEST_IN_NETNS"

// TestUnreachableIsNotRetried: "no route to host" and "network is
// unreachable" are final answers: Dial gives up at the first one, however
// many attempts it may make. The answers are real: the test runs itself
// again in a network namespace of its own (unshare -rn), where the routing
// table has an unreachable route for 198.51.100.0/24 (TEST-NET-2) and no
// route for 203.0.113.0/24 (TEST-NET-3), so the kernel answers at once and
// no packet leaves the namespace.
func TestUnreachableIsNotRetried(t *testing.T) {
	if os.Getenv(netnsChild) == "" {
		if _, err := exec.LookPath("unshare"); err != nil {
			t.Skip("unshare (util-linux) is not installed: cannot make a network namespace")
		}
		if out, err := exec.Command("unshare", "-rn", "true").CombinedOutput(); err != nil {
			t.Skipf("cannot make a network namespace here (unshare -rn: %v %s)", err, out)
		}
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("unshare", "-rn", exe, "-test.run=^TestUnreachableIsNotRetried$", "-test.v")
		cmd.Env = append(os.Environ(), netnsChild+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestUnreachableIsNotRetried") {
			t.Fatalf("in a network namespace: %v\n%s", err, out)
		}
		t.Logf("in a network namespace:\n%s", out)
		return
	}
	if out, err := exec.Command("ip", "route", "add", "unreachable", "198.51.100.0/24").CombinedOutput(); err != nil {
		t.Fatalf("ip route add unreachable: %v %s", err, out)
	}
	for _, c := range []struct {
		addr  string
		errno syscall.Errno
	}{{"198.51.100.7", syscall.EHOSTUNREACH}, {"203.0.113.7", syscall.ENETUNREACH}} {
		cfg := bareConfig(t, c.addr, 22)
		cfg.DialAttempts, cfg.RetryBase, cfg.RefusedGrace = 5, time.Second, time.Minute
		start := time.Now()
		_, err := Dial(context.Background(), cfg)
		took := time.Since(start)
		if !IsPermanent(err) || !errors.Is(err, ErrUnreachable) || !errors.Is(err, c.errno) {
			t.Errorf("%s: Dial = %v, want a permanent ErrUnreachable with %v", c.addr, err, c.errno)
			continue
		}
		if !strings.Contains(err.Error(), "not retried") {
			t.Errorf("%s: %v does not say it was not retried", c.addr, err)
		}
		if took > 500*time.Millisecond {
			t.Errorf("%s: gave up after %s; the first attempt's answer is final", c.addr, took)
		}
		t.Logf("%s: %v (after %s)", c.addr, err, took.Round(time.Millisecond))
	}
}
