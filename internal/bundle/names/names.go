// Package names owns the character sets of the names in a bundle's index
// that deploy hands to the hosts and the cluster, and NameError, the error
// that refuses one (it wraps ErrUnsafeName). Package bundle checks every
// such name with them when it parses bundle.json (ParseIndex, so at every
// open and before every write): a bundle whose names fall outside these
// character sets is refused whole, before any of it reaches a host. deploy
// quotes every value as well; the two defences are independent.
//
//   - yum repo ids, the <id> of repos/<id>/...: RepoIDChars;
//   - key file names, repos/<id>/keys/<name>: letters, digits, '.', '_',
//     '+', '-', starting with a letter, digit or '_';
//   - RPM files, repos/<id>/.../<file>.rpm: the characters rpm allows in
//     a name, version, release and arch (letters, digits, '.', '_', '+',
//     '-', '~', '^'), starting with a letter, digit or '_';
//   - package names in the appliance.packages/<role> annotations: rpm's
//     name characters (letters, digits, '.', '_', '+', '-'), starting with
//     a letter, digit or '_'; the role: lower-case letters, digits, '.',
//     '_', '-';
//   - image references (images[].ref and .name, allowedMissing): the OCI
//     distribution grammar, [host[:port]/]path[:tag][@digest];
//   - the bundle's name and version: letters, digits, '.', '_', '+', '-';
//   - the names the install plan hands to the cluster: release names (a
//     DNS-1123 label of at most MaxReleaseNameLen characters), namespaces
//     and the names of components that install something (DNS-1123
//     labels).
//
// It is a leaf: it knows nothing of the bundle format, only the names.
package names

import (
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/factory-appliance/appliance/internal/ref"
)

// ErrUnsafeName is wrapped by errors about a name in bundle.json that is
// not safe to hand to a host.
var ErrUnsafeName = errors.New("unsafe name in the bundle index")

// RepoIDChars describes the characters of a yum repo id in a bundle.
const RepoIDChars = "letters, digits, '.', '_', ':' and '-', starting with a letter or digit, at most 100"

// What each of the other character sets allows, for NameError.Want.
const (
	// KeyNameChars: a key file name, repos/<id>/keys/<name>.
	KeyNameChars = "letters, digits, '.', '_', '+' and '-', starting with a letter, digit or '_'"
	// RPMFileChars: an RPM file name, repos/<id>/.../<file>.rpm.
	RPMFileChars = "NAME-VERSION-RELEASE.ARCH.rpm in rpm's characters: letters, digits, '.', '_', '+', '-', '~', '^', starting with a letter, digit or '_'"
	// RPMNameChars: a package name.
	RPMNameChars = "an RPM name: letters, digits, '.', '_', '+' and '-', starting with a letter, digit or '_'"
	// RoleChars: the role of an appliance.packages/<role> annotation.
	RoleChars = "lower-case letters, digits, '.', '_' and '-'"
	// LabelChars: the bundle's name and version.
	LabelChars = "letters, digits, '.', '_', '+' and '-', starting with a letter or digit"
	// DNSLabelChars: a namespace, or the name of a component that
	// installs something.
	DNSLabelChars = "a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63"
	// ReleaseNameChars: a Helm release name.
	ReleaseNameChars = "a DNS-1123 label of at most 53 characters (Helm's limit): lower-case letters, digits and '-', starting and ending with a letter or digit"
)

// ClusterWhy is NameError.Why for the names deploy hands to the cluster.
const ClusterWhy = "deploy hands it to the cluster"

// MaxReleaseNameLen is Helm's limit on a release name.
const MaxReleaseNameLen = 53

var (
	repoIDRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$`)
	keyNameRE  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]{0,199}$`)
	rpmFileRE  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+~^-]{0,250}\.rpm$`)
	rpmNameRE  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]{0,199}$`)
	roleRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	labelRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)
	dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

// NameError reports a name in bundle.json that is refused. Value is the
// name as found; Error shows it quoted and truncated.
type NameError struct {
	Field string // what the name is: "repo id", "images[3].name"
	Value string
	Where string // the entry path or annotation it is in, quoted, or ""
	Want  string // what is allowed
	Why   string // where deploy hands the name (default: shell commands and files on the hosts)
}

func (e *NameError) Error() string {
	where := ""
	if e.Where != "" {
		where = " (in " + e.Where + ")"
	}
	why := e.Why
	if why == "" {
		why = "deploy hands it to shell commands and files on the hosts"
	}
	return fmt.Sprintf("%s %s%s is refused: it must be %s, since %s; "+
		"rebuild the bundle with `bundle build` from a manifest that passes `bundle lint`", e.Field, Quote(e.Value, 80), where, e.Want, why)
}

func (e *NameError) Unwrap() error { return ErrUnsafeName }

// Quote quotes s for an error message, cut to at most max bytes (on a
// character boundary) with the original length noted.
func Quote(s string, max int) string {
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:cut], len(s))
}

// ValidRPMName reports whether s is a package name rpm could have built,
// restricted to the characters rpm allows in a name.
func ValidRPMName(s string) bool { return rpmNameRE.MatchString(s) }

// ValidRepoID reports whether s may be the id of a yum repo in a bundle.
func ValidRepoID(s string) bool { return repoIDRE.MatchString(s) }

// ValidKeyName reports whether s may name a key file of a yum repo in a
// bundle (KeyNameChars).
func ValidKeyName(s string) bool { return keyNameRE.MatchString(s) }

// ValidRPMFile reports whether s may name an RPM file in a bundle
// (RPMFileChars).
func ValidRPMFile(s string) bool { return rpmFileRE.MatchString(s) }

// ValidRole reports whether s may be the role of a package list
// (RoleChars).
func ValidRole(s string) bool { return roleRE.MatchString(s) }

// ValidLabel reports whether s may be a bundle's name or version
// (LabelChars).
func ValidLabel(s string) bool { return labelRE.MatchString(s) }

// ValidDNSLabel reports whether s is a DNS-1123 label (DNSLabelChars).
func ValidDNSLabel(s string) bool { return dnsLabelRE.MatchString(s) }

// ValidReleaseName reports whether Helm accepts s as a release name, and
// the cluster as a label value and object name prefix.
func ValidReleaseName(s string) bool { return len(s) <= MaxReleaseNameLen && dnsLabelRE.MatchString(s) }

// ValidNamespace reports whether s is a valid namespace name.
func ValidNamespace(s string) bool { return dnsLabelRE.MatchString(s) }

// CheckImageRef checks an image reference against the OCI distribution
// grammar (internal/ref): an optional registry host[:port] (a first element
// with '.' or ':' or "localhost"), a path of lower-case elements, an
// optional tag and an optional digest. It does not require a tag or digest.
func CheckImageRef(ref string) error { return CheckImageRefField("image reference", ref) }

// CheckImageRefField is CheckImageRef for the image reference s found in
// field: a refusal is a *NameError naming field.
func CheckImageRefField(field, s string) error {
	if err := ref.Check(s); err != nil {
		return &NameError{Field: field, Value: s, Want: "an image reference, [registry/]path[:tag][@digest] (" + err.Error() + ")"}
	}
	return nil
}
