package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:5000": true, "127.0.0.1": true, "127.9.8.7:80": true,
		"::1": true, "[::1]": true, "[::1]:5000": true,
		"10.0.0.1": false, "10.0.0.1:5000": false, "192.168.1.1": false, "example.com": false,
		"example.com:80": false, "localhost.example.com": false, "[::2]:5000": false, "": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestPlainHTTPAllowed(t *testing.T) {
	hosts := NewInsecureHosts("r.lan", "s.lan:5000")
	for host, want := range map[string]bool{
		"r.lan": true, "r.lan:8080": true, "s.lan:5000": true, "127.0.0.1:1": true, "localhost": true,
		"s.lan": false, "s.lan:5001": false, "t.lan": false, "lan": false,
	} {
		if got := hosts.PlainHTTPAllowed(host); got != want {
			t.Errorf("PlainHTTPAllowed(%q) = %v, want %v", host, got, want)
		}
	}
}

type okTransport struct{ n atomic.Int32 }

func (o *okTransport) RoundTrip(*http.Request) (*http.Response, error) {
	o.n.Add(1)
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(""))}, nil
}

func TestGuard(t *testing.T) {
	inner := &okTransport{}
	var warned []string
	g := &Guard{Inner: inner, Hosts: NewInsecureHosts("r.lan"), Warn: func(h string) { warned = append(warned, h) }}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://any.example/x", true},
		{"http://127.0.0.1:8080/x", true},
		{"http://r.lan:5000/x", true},
		{"http://r.lan:5000/y", true},
		{"http://other.lan/x", false},
	} {
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		resp, err := g.RoundTrip(req)
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.url, err)
			} else {
				resp.Body.Close()
			}
			continue
		}
		var ie *InsecureError
		if !errors.As(err, &ie) || !errors.Is(err, ErrPlainHTTP) || !strings.Contains(err.Error(), "--insecure-registry other.lan") {
			t.Errorf("%s: err %v, want an *InsecureError naming the flag", tc.url, err)
		}
	}
	if inner.n.Load() != 4 {
		t.Errorf("%d requests passed, want 4", inner.n.Load())
	}
	if strings.Join(warned, ",") != "r.lan:5000" {
		t.Errorf("warned about %v, want r.lan:5000 once", warned)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTransient(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"408", bg, &StatusError{Code: 408}, true},
		{"429", bg, &StatusError{Code: 429}, true},
		{"500", bg, &StatusError{Code: 500}, true},
		{"503 wrapped", bg, fmt.Errorf("x: %w", &StatusError{Code: 503}), true},
		{"501", bg, &StatusError{Code: 501}, false},
		{"401", bg, &StatusError{Code: 401}, false},
		{"403", bg, &StatusError{Code: 403}, false},
		{"404", bg, &StatusError{Code: 404}, false},
		{"reset", bg, fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"pipe", bg, syscall.EPIPE, true},
		{"truncated", bg, io.ErrUnexpectedEOF, true},
		{"client timeout", bg, &url.Error{Op: "Get", URL: "u", Err: timeoutErr{}}, true},
		{"dns timeout", bg, &net.DNSError{IsTimeout: true}, true},
		{"refused", bg, syscall.ECONNREFUSED, false},
		{"plain HTTP refused", bg, &url.Error{Op: "Get", URL: "u", Err: &InsecureError{Host: "h"}}, false},
		{"permanent", bg, Permanent(io.ErrUnexpectedEOF), false},
		{"our cancel", cancelled, io.ErrUnexpectedEOF, false},
		{"other", bg, errors.New("digest mismatch"), false},
	}
	for _, c := range cases {
		if got := Transient(c.ctx, c.err); got != c.want {
			t.Errorf("%s: Transient = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRetryDo(t *testing.T) {
	fail := &StatusError{URL: "u", Code: 503}
	cases := []struct {
		name      string
		attempts  int
		errs      []error // what each call returns; past the end, nil
		wantCalls int
		wantErr   error
	}{
		{"success", 3, nil, 1, nil},
		{"transient then success", 3, []error{fail, fail}, 3, nil},
		{"gives up", 3, []error{fail, fail, fail, fail}, 3, fail},
		{"permanent at once", 3, []error{Permanent(io.ErrUnexpectedEOF)}, 1, io.ErrUnexpectedEOF},
		{"not transient at once", 3, []error{&StatusError{Code: 404}}, 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls, retried := 0, 0
			err := Retry{Attempts: c.attempts, Backoff: time.Millisecond, OnRetry: func(int, error) { retried++ }}.Do(context.Background(), func() error {
				calls++
				if calls <= len(c.errs) {
					return c.errs[calls-1]
				}
				return nil
			})
			if calls != c.wantCalls || retried != calls-1 {
				t.Errorf("%d calls, %d retries; want %d calls", calls, retried, c.wantCalls)
			}
			switch {
			case c.wantErr != nil && !errors.Is(err, c.wantErr):
				t.Errorf("err %v, want %v", err, c.wantErr)
			case c.wantErr == nil && len(c.errs) == 0 && err != nil:
				t.Errorf("err %v, want nil", err)
			}
			if _, ok := err.(permanentError); ok {
				t.Errorf("err %v still carries the permanent mark", err)
			}
		})
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Retry{Attempts: 5, Backoff: time.Hour}.Do(ctx, func() error {
		calls++
		cancel()
		return io.ErrUnexpectedEOF
	})
	if calls != 1 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("%d calls, err %v; want 1 call and the last error", calls, err)
	}
}

func TestRetryWaitCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Retry{Attempts: 5, Backoff: time.Hour, Transient: func(context.Context, error) bool { return true }}.Do(ctx, func() error {
		return io.ErrUnexpectedEOF
	})
	if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Fatalf("err %v after %v; want the last error and the context's, at once", err, time.Since(start))
	}
}

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, "hello")
		case "/busy":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	body, err := Get(context.Background(), srv.Client(), srv.URL+"/ok")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(body)
	body.Close()
	if string(b) != "hello" {
		t.Errorf("body %q", b)
	}
	for path, fix := range map[string]string{"/busy": "try later", "/gone": "check the URL"} {
		_, err := Get(context.Background(), srv.Client(), srv.URL+path)
		var se *StatusError
		if !errors.As(err, &se) || se.URL != srv.URL+path || !strings.Contains(err.Error(), srv.URL+path) || !strings.Contains(err.Error(), fix) {
			t.Errorf("GET %s: %v, want a *StatusError naming the URL and %q", path, err, fix)
		}
	}
}
