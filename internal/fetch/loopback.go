package fetch

import (
	"net"
	"strings"
)

// IsLoopback reports whether host, with or without a port, is this
// machine: "localhost", 127.0.0.0/8 or ::1 (bracketed or not).
func IsLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
