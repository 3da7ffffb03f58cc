module appliance.local/k8s/coredns

go 1.17

require github.com/coredns/coredns v1.9.3

// CoreDNS v1.9.3 resolves golang.org/x/net v0.0.0-20220520000938-2e3eb7b945c2,
// whose internal/socket reaches syscall.recvmsg by go:linkname, which Go
// 1.23's linker refuses ("invalid reference to syscall.recvmsg"). v0.1.0 is
// the first x/net release that calls x/sys/unix instead; it needs x/sys
// v0.1.0. Only these indirect dependencies are raised.
require (
	golang.org/x/net v0.1.0 // indirect
	golang.org/x/sys v0.1.0 // indirect
)
