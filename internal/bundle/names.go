package bundle

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/factory-appliance/appliance/internal/ref"
)

// Names in bundle.json that deploy writes into root shell commands, yum
// repo files and paths on the hosts are checked when the index is parsed
// (ParseIndex, so at every open and before every write): a bundle whose
// names fall outside these character sets is refused whole, before any of
// it reaches a host. deploy quotes every value as well; the two defences
// are independent.
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
//   - the bundle's name and version: letters, digits, '.', '_', '+', '-'.
//
// Entry paths are checked by CheckPath.

// ErrUnsafeName is wrapped by errors about a name in bundle.json that is
// not safe to hand to a host.
var ErrUnsafeName = errors.New("unsafe name in the bundle index")

// RepoIDChars describes the characters of a yum repo id in a bundle.
const RepoIDChars = "letters, digits, '.', '_', ':' and '-', starting with a letter or digit, at most 100"

var (
	repoIDRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$`)
	keyNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]{0,199}$`)
	rpmFileRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+~^-]{0,250}\.rpm$`)
	rpmNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]{0,199}$`)
	roleRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	labelRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)
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
		"rebuild the bundle with `bundle build` from a manifest that passes `bundle lint`", e.Field, truncQuote(e.Value, 80), where, e.Want, why)
}

func (e *NameError) Unwrap() error { return ErrUnsafeName }

// truncQuote quotes s for an error message, cut to at most max bytes (on
// a character boundary) with the original length noted.
func truncQuote(s string, max int) string {
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

// checkNames checks every name of the index that reaches a host.
func (x *Index) checkNames() error {
	if x.Name != "" && !labelRE.MatchString(x.Name) {
		return &NameError{Field: "bundle name", Value: x.Name, Want: "letters, digits, '.', '_', '+' and '-', starting with a letter or digit"}
	}
	if x.Version != "" && !labelRE.MatchString(x.Version) {
		return &NameError{Field: "bundle version", Value: x.Version, Want: "letters, digits, '.', '_', '+' and '-', starting with a letter or digit"}
	}
	for _, a := range x.Artifacts {
		if err := checkRepoPath(a.Path); err != nil {
			return err
		}
	}
	for i, im := range x.Images {
		if err := checkImageRef(fmt.Sprintf("images[%d].ref", i), im.Ref); err != nil {
			return err
		}
		if err := checkImageRef(fmt.Sprintf("images[%d].name", i), im.Name); err != nil {
			return err
		}
	}
	for i, ref := range x.AllowedMissing {
		if err := checkImageRef(fmt.Sprintf("allowedMissing[%d]", i), ref); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(x.Annotations))
	for k := range x.Annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		role, ok := strings.CutPrefix(k, AnnotationPackagesPrefix)
		if !ok {
			continue
		}
		if !roleRE.MatchString(role) {
			return &NameError{Field: "role", Value: role, Where: "annotation " + truncQuote(k, 120), Want: "lower-case letters, digits, '.', '_' and '-'"}
		}
		for _, p := range strings.Fields(x.Annotations[k]) {
			if !ValidRPMName(p) {
				return &NameError{Field: "package name", Value: p, Where: "annotation " + truncQuote(k, 120), Want: "an RPM name: letters, digits, '.', '_', '+' and '-', starting with a letter, digit or '_'"}
			}
		}
	}
	return nil
}

// checkRepoPath checks the names in a path under repos/: the repo id, a
// key file name and an RPM file name.
func checkRepoPath(p string) error {
	rest, ok := strings.CutPrefix(p, "repos/")
	if !ok {
		return nil
	}
	id, sub, _ := strings.Cut(rest, "/")
	if !ValidRepoID(id) {
		return &NameError{Field: "repo id", Value: id, Where: "path " + truncQuote(p, 120), Want: RepoIDChars}
	}
	if key, ok := strings.CutPrefix(sub, "keys/"); ok && !strings.Contains(key, "/") && !keyNameRE.MatchString(key) {
		return &NameError{Field: "key file name", Value: key, Where: "path " + truncQuote(p, 120), Want: "letters, digits, '.', '_', '+' and '-', starting with a letter, digit or '_'"}
	}
	if strings.HasSuffix(sub, ".rpm") {
		file := sub[strings.LastIndexByte(sub, '/')+1:]
		if !rpmFileRE.MatchString(file) {
			return &NameError{Field: "RPM file name", Value: file, Where: "path " + truncQuote(p, 120),
				Want: "NAME-VERSION-RELEASE.ARCH.rpm in rpm's characters: letters, digits, '.', '_', '+', '-', '~', '^', starting with a letter, digit or '_'"}
		}
	}
	return nil
}

// CheckImageRef checks an image reference against the OCI distribution
// grammar (internal/ref): an optional registry host[:port] (a first element
// with '.' or ':' or "localhost"), a path of lower-case elements, an
// optional tag and an optional digest. It does not require a tag or digest.
func CheckImageRef(ref string) error { return checkImageRef("image reference", ref) }

func checkImageRef(field, s string) error {
	if err := ref.Check(s); err != nil {
		return &NameError{Field: field, Value: s, Want: "an image reference, [registry/]path[:tag][@digest] (" + err.Error() + ")"}
	}
	return nil
}
