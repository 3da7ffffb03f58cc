package rpms

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/factory-appliance/appliance/internal/fetch"
)

// answer serves every request with a 200 and counts them.
type answer struct{ n int }

func (a *answer) RoundTrip(*http.Request) (*http.Response, error) {
	a.n++
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("ok"))}, nil
}

func TestFetcherPlainHTTPGuard(t *testing.T) {
	cases := []struct {
		url      string
		insecure []string
		ok       bool
	}{
		{"https://mirror.example/repo/repomd.xml", nil, true},
		{"http://127.0.0.1:8080/repo/repomd.xml", nil, true},
		{"http://localhost/repo/repomd.xml", nil, true},
		{"http://mirror.example/repo/repomd.xml", nil, false},
		{"http://mirror.example/repo/repomd.xml", []string{"mirror.example"}, true},
		{"http://mirror.example:8080/repo/repomd.xml", []string{"mirror.example:8080"}, true},
		{"http://mirror.example:8081/repo/repomd.xml", []string{"mirror.example:8080"}, false},
	}
	for _, c := range cases {
		rt := &answer{}
		f := &Fetcher{Client: &http.Client{Transport: rt}, Insecure: fetch.NewInsecureHosts(c.insecure...)}
		rc, err := f.Open(context.Background(), c.url)
		if c.ok {
			if err != nil {
				t.Errorf("%s (insecure %v): %v", c.url, c.insecure, err)
				continue
			}
			rc.Close()
			continue
		}
		if !errors.Is(err, fetch.ErrPlainHTTP) || rt.n != 0 {
			t.Errorf("%s (insecure %v): err %v after %d requests; want plain HTTP refused before any request", c.url, c.insecure, err, rt.n)
		}
	}
}

func TestFetcherStatusError(t *testing.T) {
	f := &Fetcher{Client: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusNotFound, Body: io.NopCloser(strings.NewReader(""))}, nil
	})}}
	_, err := f.Open(context.Background(), "https://mirror.example/x.rpm")
	var fe *FetchError
	var se *fetch.StatusError
	if !errors.As(err, &fe) || fe.Status != http.StatusNotFound || !errors.As(err, &se) || !strings.Contains(err.Error(), "https://mirror.example/x.rpm") {
		t.Fatalf("err %v, want a *FetchError with status 404 naming the URL", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
