package sshx

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/factory-appliance/appliance/internal/lockedio"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func dial(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRunWithKeyAuth(t *testing.T) {
	d := startTestSSHD(t)
	c := dial(t, d.clientConfig())
	ctx := context.Background()
	out, errb, exit, err := c.Run(ctx, "echo hello; echo oops >&2; exit 3")
	var ee *ExitError
	if !errors.As(err, &ee) || exit != 3 || ee.Code != 3 {
		t.Fatalf("Run: exit %d, err %v; want exit 3 and an *ExitError", exit, err)
	}
	if string(out) != "hello\n" || string(errb) != "oops\n" || !strings.Contains(err.Error(), "oops") {
		t.Errorf("stdout %q stderr %q err %v", out, errb, err)
	}
	out, _, exit, err = c.Run(ctx, "id -u")
	if err != nil || exit != 0 || string(out) != "0\n" {
		t.Errorf("id -u: %q %d %v", out, exit, err)
	}
}

// encryptedKeyClient starts a test sshd that authorizes a new key, writes
// that key encrypted with pass, and returns a client configuration that
// uses it.
func encryptedKeyClient(t *testing.T, pass string) Config {
	t.Helper()
	d := startTestSSHD(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	key := filepath.Join(t.TempDir(), "id_enc")
	d.authorize(writeKey(t, key, priv, pass))
	cfg := d.clientConfig()
	cfg.KeyFile = key
	return cfg
}

// keyPassphrase encrypts the test keys of the passphrase tests.
const keyPassphrase = "correct horse battery"

func TestEncryptedKeyPassphrase(t *testing.T) {
	cfg := encryptedKeyClient(t, keyPassphrase)
	cfg.Passphrase = func(string) ([]byte, error) { return []byte(keyPassphrase), nil }
	c := dial(t, cfg)
	if out, _, _, err := c.Run(context.Background(), "echo ok"); err != nil || string(out) != "ok\n" {
		t.Fatalf("%q %v", out, err)
	}
	cfg.Passphrase = func(string) ([]byte, error) { return []byte("wrong " + keyPassphrase), nil }
	_, err := Dial(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "wrong passphrase") || strings.Contains(err.Error(), keyPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

// TestPassphraseIsNotNetworkTime: asking for a key's passphrase (a person
// typing it, or the KDF on a busy host) does not count against
// DialTimeout, which bounds the network only; and the passphrase is asked
// once per client, not at every connection attempt or reconnect.
func TestPassphraseIsNotNetworkTime(t *testing.T) {
	cfg := encryptedKeyClient(t, keyPassphrase)
	cfg.DialTimeout = time.Second
	asked := 0
	cfg.Passphrase = func(string) ([]byte, error) {
		asked++
		time.Sleep(1500 * time.Millisecond) // longer than DialTimeout
		return []byte(keyPassphrase), nil
	}
	c := dial(t, cfg)
	if out, _, _, err := c.Run(context.Background(), "echo ok"); err != nil || string(out) != "ok\n" {
		t.Fatalf("%q %v", out, err)
	}
	c.mu.Lock()
	c.cur.close() // the connection drops; the next command reconnects
	c.mu.Unlock()
	if out, _, _, err := c.Run(context.Background(), "echo again"); err != nil || string(out) != "again\n" {
		t.Fatalf("after a reconnect: %q %v", out, err)
	}
	if asked != 1 {
		t.Errorf("the passphrase was asked %d times, want once per client", asked)
	}
}

func TestAgentAuth(t *testing.T) {
	d := startTestSSHD(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pub := writeKey(t, filepath.Join(t.TempDir(), "agent_key"), priv, "")
	d.authorize(pub)
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer conn.Close(); agent.ServeAgent(keyring, conn) }()
		}
	}()
	cfg := d.clientConfig()
	cfg.KeyFile, cfg.NoAgent, cfg.AgentSocket = "", false, sock
	c := dial(t, cfg)
	if out, _, _, err := c.Run(context.Background(), "echo agent"); err != nil || string(out) != "agent\n" {
		t.Fatalf("%q %v", out, err)
	}
	cfg.AgentSocket = filepath.Join(t.TempDir(), "none.sock")
	if _, err := Dial(context.Background(), cfg); !errors.Is(err, ErrNoAuth) {
		t.Errorf("no key and a dead agent: %v, want ErrNoAuth", err)
	}
}

func TestUnauthorizedKeyIsNotRetried(t *testing.T) {
	d := startTestSSHD(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	cfg := d.clientConfig()
	cfg.KeyFile = filepath.Join(t.TempDir(), "stranger")
	writeKey(t, cfg.KeyFile, priv, "")
	cfg.DialAttempts, cfg.RetryBase = 5, time.Second
	start := time.Now()
	_, err := Dial(context.Background(), cfg)
	if !errors.Is(err, ErrAuth) || time.Since(start) > 900*time.Millisecond {
		t.Fatalf("got %v after %s, want ErrAuth at once", err, time.Since(start))
	}
}

func TestHostKeys(t *testing.T) {
	d := startTestSSHD(t)
	fp := ssh.FingerprintSHA256(d.ed25519)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewSignerFromKey(otherPriv)
	tests := []struct {
		name      string
		known     []ssh.PublicKey
		pin       string
		acceptNew bool
		wantErr   error
		wantText  []string
	}{
		{name: "known", known: []ssh.PublicKey{d.ed25519}},
		{name: "known ecdsa only", known: []ssh.PublicKey{d.ecdsa}},
		{name: "unknown refused", wantErr: ErrHostKeyUnknown,
			wantText: []string{fp, "--accept-new-host-keys", "hostKey:", "ssh-keyscan -p"}},
		{name: "changed refused", known: []ssh.PublicKey{other.PublicKey()}, wantErr: ErrHostKeyChanged,
			wantText: []string{fp, "man-in-the-middle", "ssh-keygen -R"}},
		{name: "changed refused even with accept-new", known: []ssh.PublicKey{other.PublicKey()}, acceptNew: true,
			wantErr: ErrHostKeyChanged},
		{name: "pinned ed25519", pin: fp},
		{name: "pinned ecdsa (not the preferred key)", pin: ssh.FingerprintSHA256(d.ecdsa)},
		{name: "pin mismatch", pin: ssh.FingerprintSHA256(other.PublicKey()), known: []ssh.PublicKey{d.ed25519},
			wantErr: ErrHostKeyChanged, wantText: []string{"inventory pins " + ssh.FingerprintSHA256(other.PublicKey())}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := d.clientConfig()
			cfg.KnownHostsFile = d.knownHosts(tc.known...)
			cfg.HostKey, cfg.AcceptNewHostKeys = tc.pin, tc.acceptNew
			c, err := Dial(context.Background(), cfg)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error lacks %q: %v", s, err)
				}
			}
		})
	}
}

func TestAcceptNewHostKeyRecordsIt(t *testing.T) {
	d := startTestSSHD(t)
	cfg := d.clientConfig()
	cfg.KnownHostsFile = filepath.Join(t.TempDir(), "sub", "known_hosts") // does not exist yet
	cfg.AcceptNewHostKeys = true
	var log bytes.Buffer
	cfg.Log = &log
	dial(t, cfg).Close()
	fp := ssh.FingerprintSHA256(d.ed25519)
	if !strings.Contains(log.String(), "accepted NEW host key") || !strings.Contains(log.String(), fp) {
		t.Errorf("log lacks the accepted fingerprint %s:\n%s", fp, log.String())
	}
	data, err := os.ReadFile(cfg.KnownHostsFile)
	if err != nil || !strings.Contains(string(data), "["+"127.0.0.1]:") {
		t.Fatalf("known_hosts: %q %v", data, err)
	}
	cfg.AcceptNewHostKeys, cfg.Log = false, nil
	dial(t, cfg) // now known
}

func TestUploadAndDownload(t *testing.T) {
	d := startTestSSHD(t)
	c := dial(t, d.clientConfig())
	ctx := context.Background()
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	dir := filepath.Join(t.TempDir(), "new", "dir")
	remote := filepath.Join(dir, "blob.bin")
	if err := c.Upload(ctx, bytes.NewReader(data), int64(len(data)), remote, 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(remote) // the "host" is this machine
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded content differs (%d bytes, %v)", len(got), err)
	}
	if st, _ := os.Stat(remote); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %o, want 640", st.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	var back bytes.Buffer
	sum, err := c.Download(ctx, remote, &back)
	want := sha256.Sum256(data)
	if err != nil || sum != hex.EncodeToString(want[:]) || !bytes.Equal(back.Bytes(), data) {
		t.Errorf("download: sum %s, %d bytes, %v", sum, back.Len(), err)
	}
	// A short source is refused and leaves the old file in place.
	err = c.Upload(ctx, bytes.NewReader(data[:10]), int64(len(data)), remote, 0o640)
	if err == nil || !strings.Contains(err.Error(), "gave 10 bytes") {
		t.Errorf("short upload: %v", err)
	}
	if got, _ := os.ReadFile(remote); !bytes.Equal(got, data) {
		t.Error("a failed upload replaced the file")
	}
}

func TestVerifyDetectsMismatch(t *testing.T) {
	d := startTestSSHD(t)
	c := dial(t, d.clientConfig())
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("tampered"), 0o600)
	sum := sha256.Sum256([]byte("original"))
	err := c.verify(context.Background(), path, hex.EncodeToString(sum[:]), "/etc/f")
	if !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("got %v, want ErrChecksumMismatch", err)
	}
}

func TestSudo(t *testing.T) {
	d := startTestSSHD(t)
	cfg := d.clientConfig()
	var log lockedio.Buffer
	cfg.Log = &log
	c := dial(t, cfg)
	const password = "Sudo-Pa55word!"
	// The test logs in as root (sshd here has no other account); switching
	// the user after connecting makes every command go through the real sudo,
	// which root may use without a password: the NOPASSWD path, where the
	// password line must not reach the command's stdin.
	c.cfg.User, c.cfg.Sudo = "ops", true
	if got := c.SudoCommand("id -u"); got != "sudo -n -- sh -c 'id -u'" {
		t.Errorf("sudo without password: %s", got)
	}
	c.cfg.SudoPassword = password
	c.cfg.Redactor.Add(password)
	wrapped := c.SudoCommand("id -u")
	if !strings.HasPrefix(wrapped, "sudo -S -p '' -- sh -c ") || strings.Contains(wrapped, password) {
		t.Errorf("sudo with password: %s", wrapped)
	}
	ctx := context.Background()
	out, _, _, err := c.Run(ctx, "id -u; cat")
	if err != nil || string(out) != "0\n" {
		t.Fatalf("through sudo: %q %v (stdin must be empty for the command)", out, err)
	}
	data := []byte("line one\nline two\n")
	remote := filepath.Join(t.TempDir(), "etc", "conf")
	if err := c.Upload(ctx, bytes.NewReader(data), int64(len(data)), remote, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(remote); !bytes.Equal(got, data) {
		t.Errorf("upload through sudo wrote %q", got)
	}
	if strings.Contains(log.String(), password) {
		t.Errorf("the sudo password reached the log:\n%s", log.String())
	}
}

func TestJumpHost(t *testing.T) {
	jump := newTestSSHD(t, "DEBUG1")
	jump.start()
	target := startTestSSHD(t)
	jcfg := jump.clientConfig()
	jcfg.Name = "bastion"
	cfg := target.clientConfig()
	cfg.Jump = &jcfg
	c := dial(t, cfg)
	if out, _, _, err := c.Run(context.Background(), "echo through"); err != nil || string(out) != "through\n" {
		t.Fatalf("%q %v", out, err)
	}
	if want := "port " + target.addr()[strings.LastIndexByte(target.addr(), ':')+1:]; !strings.Contains(jump.log.String(), "direct-tcpip") ||
		!strings.Contains(jump.log.String(), want) {
		t.Errorf("the jump sshd did not forward to the target (%s):\n%s", want, jump.log.String())
	}
	// The jump host's key is checked too.
	jcfg.KnownHostsFile = jump.knownHosts()
	if _, err := Dial(context.Background(), cfg); !errors.Is(err, ErrHostKeyUnknown) || !strings.Contains(err.Error(), "bastion") {
		t.Errorf("unknown jump host key: %v", err)
	}
}

func TestConnectionLostAndReconnect(t *testing.T) {
	d := startTestSSHD(t)
	c := dial(t, d.clientConfig())
	ctx := context.Background()
	errc := make(chan error, 1)
	go func() {
		_, _, _, err := c.Run(ctx, "sleep 30")
		errc <- err
	}()
	waitFor(t, "the remote sleep", func() bool { return d.running("sleep 30") })
	d.dropConnections() // the command left running is reaped at cleanup
	select {
	case err := <-errc:
		if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "sleep 30") {
			t.Fatalf("got %v, want ErrConnectionLost naming the command", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not notice the dropped connection")
	}
	out, _, _, err := c.Run(ctx, "echo back")
	if err != nil || string(out) != "back\n" {
		t.Fatalf("after reconnect: %q %v", out, err)
	}
}

func TestDialRetriesUntilServerIsUp(t *testing.T) {
	d := newTestSSHD(t, "INFO")
	cfg := d.clientConfig()
	cfg.DialAttempts, cfg.RetryBase, cfg.RetryMax = 20, 100*time.Millisecond, 200*time.Millisecond
	var log lockedio.Buffer
	cfg.Log = &log
	done := make(chan error, 1)
	go func() {
		c, err := Dial(context.Background(), cfg)
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	time.Sleep(400 * time.Millisecond)
	d.start()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "retrying in") {
		t.Errorf("no retry was logged:\n%s", log.String())
	}

	d.stop()
	cfg.DialAttempts = 2
	_, err := Dial(context.Background(), cfg)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Errorf("no server: %v", err)
	}
}

func TestKeepaliveDropsHungConnection(t *testing.T) {
	d := startTestSSHD(t)
	cfg := d.clientConfig()
	cfg.KeepaliveInterval, cfg.KeepaliveMaxMissed = 100*time.Millisecond, 2
	var log lockedio.Buffer
	cfg.Log = &log
	c := dial(t, cfg)
	errc := make(chan error, 1)
	go func() {
		_, _, _, err := c.Run(context.Background(), "sleep 20")
		errc <- err
	}()
	waitFor(t, "the remote sleep", func() bool { return d.running("sleep 20") })
	// Freeze the server side of the connection: the host "hangs".
	d.signalChildren(d.cmd.Process.Pid, syscall.SIGSTOP)
	defer d.signalChildren(d.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case err := <-errc:
		if !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("got %v, want ErrConnectionLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hung connection was not dropped")
	}
	if !strings.Contains(log.String(), "no answer to 2 keepalives") {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestCommandTimeout(t *testing.T) {
	d := startTestSSHD(t)
	cfg := d.clientConfig()
	// The budget only has to end a command that would run for ten minutes;
	// nothing here depends on how fast this machine starts a session.
	cfg.CommandTimeout = 2 * time.Second
	c := dial(t, cfg)
	start := time.Now()
	_, _, _, err := c.Run(context.Background(), "sleep 600")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Minute {
		t.Fatalf("got %v after %s", err, time.Since(start))
	}
	// The connection still runs commands after one was killed. Without a
	// budget, so that a loaded machine cannot fail this part.
	c.cfg.CommandTimeout = 0
	if out, _, _, err := c.Run(context.Background(), "echo still"); err != nil || string(out) != "still\n" {
		t.Errorf("after a timeout: %q %v", out, err)
	}
}

func TestSecretsNeverReachLogsOrErrors(t *testing.T) {
	d := startTestSSHD(t)
	const secret = "Harbor12345-registry-pw"
	cfg := d.clientConfig()
	var log lockedio.Buffer
	cfg.Log = &log
	cfg.Redactor = NewRedactor(secret)
	c := dial(t, cfg)
	ctx := context.Background()
	var streamed bytes.Buffer
	cmd := "printf 'login -p %s\\n' " + Quote(secret) + "; echo " + Quote(secret) + " >&2; exit 4"
	_, err := c.Stream(ctx, cmd, &streamed)
	_, _, _, err2 := c.Run(ctx, cmd)
	for name, text := range map[string]string{"log": log.String(), "stream": streamed.String(),
		"stream error": err.Error(), "run error": err2.Error()} {
		if strings.Contains(text, secret) {
			t.Errorf("%s contains the secret:\n%s", name, text)
		}
		if !strings.Contains(text, Mask) {
			t.Errorf("%s has no mask where the secret was:\n%s", name, text)
		}
	}
}

func TestRedactorWriterSplitsSecretsAcrossWrites(t *testing.T) {
	r := NewRedactor("hunter2", "hunter2-long")
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"whole", []string{"pw=hunter2\n"}, "pw=***\n"},
		{"split", []string{"pw=hun", "ter2 done\n"}, "pw=*** done\n"},
		{"byte by byte", strings.Split("a hunter2 b", ""), "a *** b"},
		{"longest first", []string{"x hunter2-long y"}, "x *** y"},
		{"prefix only", []string{"hunt", "ing\n"}, "hunting\n"},
		{"tail flushed on close", []string{"end hunt"}, "end hunt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			w := r.Writer(&b)
			for _, s := range tc.writes {
				io.WriteString(w, s)
			}
			w.Close()
			if b.String() != tc.want {
				t.Errorf("got %q, want %q", b.String(), tc.want)
			}
		})
	}
}

func TestValidFingerprint(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := ssh.NewSignerFromKey(priv)
	for fp, want := range map[string]bool{
		ssh.FingerprintSHA256(s.PublicKey()): true,
		"SHA256:short":                       false,
		"MD5:aa:bb":                          false,
		strings.Replace(ssh.FingerprintSHA256(s.PublicKey()), "SHA256:", "sha256:", 1): false,
	} {
		if ValidFingerprint(fp) != want {
			t.Errorf("ValidFingerprint(%q) = %v", fp, !want)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRecorderRecordsAndRedacts(t *testing.T) {
	rec := NewRecorder("worker-1", NewRedactor("pw-123456"))
	var r Runner = rec
	ctx := context.Background()
	r.Run(ctx, "yum -y install containerd.io")
	r.Stream(ctx, "echo pw-123456 | docker login --password-stdin", nil)
	r.Upload(ctx, strings.NewReader("x"), 1, "/etc/containerd/config.toml", 0o644)
	want := []string{
		"yum -y install containerd.io",
		"echo *** | docker login --password-stdin",
		"upload 1 bytes to /etc/containerd/config.toml (mode 0644, sha256-checked)",
	}
	got := rec.Commands()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("recorded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
