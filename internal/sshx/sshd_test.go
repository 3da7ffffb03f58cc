package sshx

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/lockedio"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testSSHD is a real OpenSSH server (Debian's openssh-server) on 127.0.0.1,
// with its own host keys and authorized_keys, started for one test.
type testSSHD struct {
	t        *testing.T
	dir      string
	port     int
	cmd      *exec.Cmd
	log      *lockedio.Buffer
	ed25519  ssh.PublicKey // host keys
	ecdsa    ssh.PublicKey
	userKey  string // private key file authorized on the server
	userPub  ssh.PublicKey
	config   string
	logLevel string
}

func requireSSHD(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Fatal("/usr/sbin/sshd is missing: install the Debian package openssh-server")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the sshd tests run sshd as root (it must own its privilege separation); run them as root")
	}
	// sshd refuses to start without its privilege separation directory,
	// which Debian's init script creates at boot.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
}

// newTestSSHD prepares keys and config; start() runs it.
func newTestSSHD(t *testing.T, logLevel string) *testSSHD {
	t.Helper()
	requireSSHD(t)
	d := &testSSHD{t: t, dir: t.TempDir(), log: &lockedio.Buffer{}, logLevel: logLevel}
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d.ed25519 = writeKey(t, filepath.Join(d.dir, "host_ed25519"), edPriv, "")
	d.ecdsa = writeKey(t, filepath.Join(d.dir, "host_ecdsa"), ecPriv, "")
	_, userPriv, _ := ed25519.GenerateKey(rand.Reader)
	d.userKey = filepath.Join(d.dir, "id_user")
	d.userPub = writeKey(t, d.userKey, userPriv, "")
	d.authorize(d.userPub)
	d.port = freePort(t)
	return d
}

func startTestSSHD(t *testing.T) *testSSHD {
	d := newTestSSHD(t, "INFO")
	d.start()
	return d
}

func writeKey(t *testing.T, path string, priv any, passphrase string) ssh.PublicKey {
	t.Helper()
	var (
		block *pem.Block
		err   error
	)
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer.PublicKey()
}

func (d *testSSHD) authorize(k ssh.PublicKey) {
	f, err := os.OpenFile(filepath.Join(d.dir, "authorized_keys"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	f.Write(ssh.MarshalAuthorizedKey(k))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (d *testSSHD) start() {
	t := d.t
	d.config = filepath.Join(d.dir, "sshd_config")
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/host_ed25519
HostKey %s/host_ecdsa
AuthorizedKeysFile %s/authorized_keys
PidFile %s/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding yes
LogLevel %s
`, d.port, d.dir, d.dir, d.dir, d.dir, d.logLevel)
	if err := os.WriteFile(d.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", d.config)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := d.cmd
	liveServers.Store(cmd.Process.Pid, true)
	t.Cleanup(func() { d.stopCmd(cmd) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.addr(), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not start listening on %s: %v\n%s", d.addr(), err, d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *testSSHD) stopCmd(cmd *exec.Cmd) {
	d.signalChildren(cmd.Process.Pid, syscall.SIGKILL)
	cmd.Process.Kill()
	cmd.Wait()
	liveServers.Delete(cmd.Process.Pid)
	reapOrphans()
}

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from linux/prctl.h.
const prSetChildSubreaper = 36

// TestMain makes the test process the subreaper of its descendants: commands
// orphaned when a test kills a connection's sshd become our children, and
// reapOrphans ends them, instead of leaving zombies behind.
func TestMain(m *testing.M) {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		fmt.Fprintln(os.Stderr, "prctl(PR_SET_CHILD_SUBREAPER):", errno)
	}
	os.Exit(m.Run())
}

// liveServers holds the pids of running test sshd listeners.
var liveServers sync.Map

// reapOrphans kills and waits for every child of this process that no
// exec.Cmd owns (orphans adopted as subreaper); sshd processes the tests
// started were waited for already.
func reapOrphans() {
	for _, pid := range childrenOf(os.Getpid()) {
		if _, live := liveServers.Load(pid); live {
			continue // a running test server, owned by its exec.Cmd
		}
		syscall.Kill(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	}
}

func childrenOf(ppid int) []int {
	var out []int
	for _, pid := range descendants(ppid) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
}

// stop kills the server and every connection it serves.
func (d *testSSHD) stop() { d.stopCmd(d.cmd) }

// signalChildren signals every descendant of pid (the per-connection sshd
// processes and the commands they run).
func (d *testSSHD) signalChildren(pid int, sig syscall.Signal) int {
	n := 0
	for _, child := range descendants(pid) {
		if syscall.Kill(child, sig) == nil {
			n++
		}
	}
	return n
}

func descendants(root int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 {
			ppid, _ := strconv.Atoi(fields[1])
			parent[pid] = ppid
		}
	}
	var out []int
	for pid := range parent {
		for p := parent[pid]; p != 0; p = parent[p] {
			if p == root {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

func (d *testSSHD) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port)) }

// knownHosts writes a known_hosts file trusting the given keys for the server.
func (d *testSSHD) knownHosts(keys ...ssh.PublicKey) string {
	path := filepath.Join(d.t.TempDir(), "known_hosts")
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(d.addr())}, k) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		d.t.Fatal(err)
	}
	return path
}

// config returns a client Config for root with the user key, trusting the
// server's ed25519 key, fast retries, and no agent.
func (d *testSSHD) clientConfig() Config {
	return Config{
		Name:           "test-host",
		Address:        "127.0.0.1",
		Port:           d.port,
		User:           "root",
		KeyFile:        d.userKey,
		NoAgent:        true,
		KnownHostsFile: d.knownHosts(d.ed25519),
		DialAttempts:   2,
		RetryBase:      50 * time.Millisecond,
		DialTimeout:    5 * time.Second,
	}
}

// running reports whether the server runs a command with this exact command
// line for one of its connections.
func (d *testSSHD) running(cmdline string) bool {
	for _, pid := range descendants(d.cmd.Process.Pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ") == cmdline {
			return true
		}
	}
	return false
}

// dropConnections SIGKILLs the per-connection sshd processes only, as a
// network cut would end them; the commands they ran are left running
// (reapOrphans ends them).
func (d *testSSHD) dropConnections() {
	for _, pid := range descendants(d.cmd.Process.Pid) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.TrimSpace(string(comm)) == "sshd" {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
