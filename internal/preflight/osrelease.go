package preflight

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// OSRelease is what preflight reads from /etc/os-release.
type OSRelease struct {
	ID        string   // "centos", "rhel", "rocky", "almalinux"
	IDLike    []string // ID_LIKE, split
	VersionID string   // "7", "8.9", "9.3"
	Pretty    string
	TestHost  bool // APPLIANCE_TEST_HOST=1 (a test-site host's marker file)
}

// ParseOSRelease parses an os-release file: KEY=value lines, values
// optionally in single or double quotes, '#' comments.
func ParseOSRelease(text string) OSRelease {
	var o OSRelease
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		v = unquote(strings.TrimSpace(v))
		switch k {
		case "ID":
			o.ID = strings.ToLower(v)
		case "ID_LIKE":
			o.IDLike = strings.Fields(strings.ToLower(v))
		case "VERSION_ID":
			o.VersionID = v
		case "PRETTY_NAME":
			o.Pretty = v
		case "APPLIANCE_TEST_HOST":
			o.TestHost = v == "1"
		}
	}
	return o
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
		if v != "" && v[0] != '\'' {
			v = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\$`, `$`, "\\`", "`").Replace(v)
		}
	}
	return v
}

// Major is the major version (VERSION_ID up to the first dot), or 0.
func (o OSRelease) Major() int {
	m, _, _ := strings.Cut(o.VersionID, ".")
	n, err := strconv.Atoi(m)
	if err != nil {
		return 0
	}
	return n
}

// elIDs are the EL distributions supported, with the major versions of each.
var elIDs = map[string][]int{
	"centos":    {7, 8, 9},
	"rhel":      {7, 8, 9},
	"rocky":     {8, 9},
	"almalinux": {8, 9},
}

// CheckSupported returns nil for a supported OS: CentOS 7, or RHEL, Rocky or
// Alma Linux 8 or 9 (CentOS Stream 8 and 9 too), else an error naming what
// was found and what is supported.
func (o OSRelease) CheckSupported() error {
	name := o.Pretty
	if name == "" {
		name = strings.TrimSpace(o.ID + " " + o.VersionID)
	}
	majors, ok := elIDs[o.ID]
	if !ok {
		return fmt.Errorf("OS %q (ID=%s) is not supported; use CentOS 7 or RHEL, Rocky or Alma Linux 8 or 9", name, o.ID)
	}
	if !slices.Contains(majors, o.Major()) {
		return fmt.Errorf("OS %q version %q is not supported; %s is supported in versions %v", name, o.VersionID, o.ID, majors)
	}
	return nil
}
