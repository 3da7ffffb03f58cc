// Package preflight checks a host before deploy changes any: its OS
// (EL 7–9, or a marked test-site host), the compatibility matrix for its
// kernel and cgroups with the bundle's stack, its CPUs, memory and disk
// for its roles, SELinux and firewalld, its clock against the deploy
// node's, the ports its roles need (naming who holds one, and how to stop
// it), the tools the later phases run, and whether it reaches the site
// server; and that no two hosts are clones (Unique). Check reports every
// problem of a host at once (*Error). The parsers (ParseOSRelease,
// ListeningPorts) are pure; the checks take a *remote.Host, so they run
// over SSH and, against a recorder, for --dry-run. What they need beyond
// the host is an explicit Site; internal/deploy runs them as /preflight
// and /unique.
package preflight
