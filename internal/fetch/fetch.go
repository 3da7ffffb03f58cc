// Package fetch is the one HTTP fetch policy of the build side: which
// hosts may be reached over plain HTTP (Guard, IsLoopback), which failures
// are tried again and how long to wait between tries (Retry, Transient),
// and how an HTTP answer other than 200 is reported (StatusError, Get).
// Images, charts, URL files and RPM repositories all fetch through it.
package fetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// StatusError is an HTTP answer other than 200 to a GET of URL.
type StatusError struct {
	URL  string
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d %s; %s", e.URL, e.Code, http.StatusText(e.Code), statusFix(e.Code))
}

// statusFix names the way out of an HTTP status.
func statusFix(code int) string {
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return "check the credentials and that this client may read it"
	case code == http.StatusNotFound || code == http.StatusGone:
		return "check the URL: the server does not have it"
	case RetryableStatus(code):
		return "the server failed; it was tried again, try later or use a mirror"
	}
	return "check the URL and the server"
}

// Get GETs url with client and returns the body of a 200 answer; any other
// status is a *StatusError. The caller closes the body.
func Get(ctx context.Context, client *http.Client, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, Permanent(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &StatusError{URL: url, Code: resp.StatusCode}
	}
	return resp.Body, nil
}
