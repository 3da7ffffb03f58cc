package rpms

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// BaseSet is the rpmBase list: names of packages assumed installed on every
// host. They are never bundled, and they satisfy requirements: on their
// names (any version, unless the repositories carry the package and none of
// its versions matches), on what the repositories' copies of them provide,
// and on a few well-known capabilities of EL base packages (baseCapabilities)
// for repositories that do not carry them.
type BaseSet struct {
	names map[string]bool
}

// NewBaseSet returns a set of the given package names.
func NewBaseSet(names ...string) *BaseSet {
	b := &BaseSet{names: map[string]bool{}}
	for _, n := range names {
		b.names[n] = true
	}
	return b
}

// ParseBase reads an rpmBase list: one package name per line, blank lines
// and '#' comments ignored.
func ParseBase(r io.Reader) (*BaseSet, error) {
	b := NewBaseSet()
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.ContainsAny(s, " \t") {
			return nil, fmt.Errorf("line %d: %q is not one package name", line, s)
		}
		b.names[s] = true
	}
	return b, sc.Err()
}

// LoadBase reads an rpmBase list file.
func LoadBase(path string) (*BaseSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rpmBase: %w", err)
	}
	defer f.Close()
	b, err := ParseBase(f)
	if err != nil {
		return nil, fmt.Errorf("rpmBase %s: %w", path, err)
	}
	return b, nil
}

// Has reports whether the package name is in the set. A nil set is empty.
func (b *BaseSet) Has(name string) bool { return b != nil && b.names[name] }

// Len is the number of names.
func (b *BaseSet) Len() int {
	if b == nil {
		return 0
	}
	return len(b.names)
}

// baseCapabilities maps capabilities that every EL7 host has to the base
// package that provides them, for repositories that do not carry that
// package. Sonames match without their "(...)" suffixes.
var baseCapabilities = map[string]string{
	"/bin/sh": "bash", "/bin/bash": "bash", "/usr/bin/sh": "bash", "/usr/bin/bash": "bash",
	"/sbin/ldconfig": "glibc", "/usr/sbin/ldconfig": "glibc",
	"libc.so.6": "glibc", "libm.so.6": "glibc", "libdl.so.2": "glibc", "librt.so.1": "glibc",
	"libpthread.so.0": "glibc", "ld-linux-x86-64.so.2": "glibc", "libresolv.so.2": "glibc",
	"libutil.so.1": "glibc", "libcrypt.so.1": "glibc",
	"/usr/bin/env": "coreutils", "/bin/cat": "coreutils", "/bin/mkdir": "coreutils",
	"/bin/sed": "sed", "/usr/bin/sed": "sed", "/bin/grep": "grep", "/usr/bin/grep": "grep",
	"/bin/awk": "gawk", "/usr/bin/awk": "gawk", "/usr/sbin/useradd": "shadow-utils",
	"/usr/sbin/groupadd": "shadow-utils", "/bin/systemctl": "systemd", "/usr/bin/systemctl": "systemd",
	"libz.so.1": "zlib", "libgcc_s.so.1": "libgcc", "libstdc++.so.6": "libstdc++",
	"libsystemd.so.0": "systemd-libs", "libselinux.so.1": "libselinux",
	"config(bash)": "bash", "systemd-units": "systemd", "systemd": "systemd",
}

// baseCapabilityOwner returns the base package name that provides dep.
func baseCapabilityOwner(name string) string {
	if o, ok := baseCapabilities[name]; ok {
		return o
	}
	if i := strings.IndexByte(name, '('); i > 0 {
		return baseCapabilities[name[:i]]
	}
	return ""
}
