package bundle

import (
	"fmt"
	"sort"
	"strings"

	"github.com/factory-appliance/appliance/internal/bundle/names"
)

// Names in bundle.json that deploy writes into root shell commands, yum
// repo files and paths on the hosts are checked when the index is parsed
// (ParseIndex, so at every open and before every write) against the
// character sets of package names, which lists them: a bundle whose names
// fall outside them is refused whole, before any of it reaches a host.
//
// Entry paths are checked by CheckPath.

// checkNames checks every name of the index that reaches a host.
func (x *Index) checkNames() error {
	if x.Name != "" && !names.ValidLabel(x.Name) {
		return &names.NameError{Field: "bundle name", Value: x.Name, Want: names.LabelChars}
	}
	if x.Version != "" && !names.ValidLabel(x.Version) {
		return &names.NameError{Field: "bundle version", Value: x.Version, Want: names.LabelChars}
	}
	for _, a := range x.Artifacts {
		if err := checkRepoPath(a.Path); err != nil {
			return err
		}
	}
	for i, im := range x.Images {
		if err := names.CheckImageRefField(fmt.Sprintf("images[%d].ref", i), im.Ref); err != nil {
			return err
		}
		if err := names.CheckImageRefField(fmt.Sprintf("images[%d].name", i), im.Name); err != nil {
			return err
		}
	}
	for i, ref := range x.AllowedMissing {
		if err := names.CheckImageRefField(fmt.Sprintf("allowedMissing[%d]", i), ref); err != nil {
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
		if !names.ValidRole(role) {
			return &names.NameError{Field: "role", Value: role, Where: "annotation " + names.Quote(k, 120), Want: names.RoleChars}
		}
		for _, p := range strings.Fields(x.Annotations[k]) {
			if !names.ValidRPMName(p) {
				return &names.NameError{Field: "package name", Value: p, Where: "annotation " + names.Quote(k, 120), Want: names.RPMNameChars}
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
	if !names.ValidRepoID(id) {
		return &names.NameError{Field: "repo id", Value: id, Where: "path " + names.Quote(p, 120), Want: names.RepoIDChars}
	}
	if key, ok := strings.CutPrefix(sub, "keys/"); ok && !strings.Contains(key, "/") && !names.ValidKeyName(key) {
		return &names.NameError{Field: "key file name", Value: key, Where: "path " + names.Quote(p, 120), Want: names.KeyNameChars}
	}
	if strings.HasSuffix(sub, ".rpm") {
		file := sub[strings.LastIndexByte(sub, '/')+1:]
		if !names.ValidRPMFile(file) {
			return &names.NameError{Field: "RPM file name", Value: file, Where: "path " + names.Quote(p, 120), Want: names.RPMFileChars}
		}
	}
	return nil
}
