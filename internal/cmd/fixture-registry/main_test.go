package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"--set", "bench", "--bench-images", "20", "--bench-bytes", "1GiB"})
	if err != nil || cfg.set != "bench" || cfg.size.Images != 20 || cfg.size.TotalBytes != 1<<30 {
		t.Fatalf("got %+v, %v", cfg, err)
	}
	if _, err := parseFlags([]string{"--set", "other"}); err == nil {
		t.Error("an unknown set was accepted")
	}
}

// TestServeUntilCancelled runs the program's body: it must print
// "ready ADDR" once the demo set is served, accept a --push-only run
// against it, and stop the registry when its context ends (as on SIGTERM).
func TestServeUntilCancelled(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := parseFlags([]string{"--addr", addr, "--dir", t.TempDir(), "--set", "demo"})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, pw, io.Discard); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready "+addr {
		cancel()
		t.Fatalf("first stdout line %q (%v), want %q; run: %v", line, err, "ready "+addr, <-done)
	}
	pushCfg := cfg
	pushCfg.pushOnly = true
	if err := run(context.Background(), pushCfg, io.Discard, io.Discard); err != nil {
		t.Errorf("--push-only into the running registry: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("the registry still listens on %s", addr)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
