package rpmfile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/factory-appliance/appliance/rpms/rpm"
)

// packageFromHeader decodes the main header (and sizes from the signature
// header) into a Package.
func packageFromHeader(h, sig *header) (*rpm.Package, error) {
	p := &rpm.Package{}
	strs := []struct {
		tag uint32
		dst *string
	}{
		{tagName, &p.Name}, {tagVersion, &p.Version}, {tagRelease, &p.Release},
		{tagArch, &p.Arch}, {tagSummary, &p.Summary}, {tagDescription, &p.Description},
		{tagURL, &p.URL}, {tagLicense, &p.License}, {tagVendor, &p.Vendor},
		{tagGroup, &p.Group}, {tagBuildHost, &p.BuildHost}, {tagPackager, &p.Packager},
		{tagSourceRPM, &p.SourceRPM}, {tagPayloadDigest, &p.PayloadDigest},
	}
	for _, s := range strs {
		v, err := h.str(s.tag)
		if err != nil {
			return nil, err
		}
		*s.dst = v
	}
	if p.Name == "" || p.Version == "" || p.Release == "" || p.Arch == "" {
		return nil, errNoName
	}
	for _, s := range []string{p.Name, p.Version, p.Release, p.Arch} {
		if strings.ContainsAny(s, "/\\\x00") || strings.HasPrefix(s, ".") {
			return nil, fmt.Errorf("name, version, release or arch %q could escape a directory", s)
		}
	}
	if err := readNumbers(p, h, sig); err != nil {
		return nil, err
	}
	if err := readDeps(p, h); err != nil {
		return nil, err
	}
	if err := readFiles(p, h); err != nil {
		return nil, err
	}
	if err := readChangelog(p, h); err != nil {
		return nil, err
	}
	return p, nil
}

func readNumbers(p *rpm.Package, h, sig *header) error {
	if e, ok, err := h.int(tagEpoch); err != nil {
		return err
	} else if ok {
		p.Epoch = strconv.FormatInt(e, 10)
	}
	if _, isSrc := h.entries[tagSourceRPM]; !isSrc {
		p.Arch = "src"
	}
	var err error
	if p.BuildTime, _, err = h.int(tagBuildTime); err != nil {
		return err
	}
	p.FileTime = p.BuildTime
	if p.InstalledSize, err = firstInt(h, tagLongSize, h, tagSize); err != nil {
		return err
	}
	if p.ArchiveSize, err = firstInt(sig, sigTagLongArchive, sig, sigTagPayloadSize); err != nil {
		return err
	}
	if p.ArchiveSize == 0 {
		if p.ArchiveSize, _, err = h.int(tagArchiveSize); err != nil {
			return err
		}
	}
	algo, ok, err := h.int(tagPayloadDigestAlgo)
	if err != nil {
		return err
	}
	p.PayloadDigestAlgo = pgpHashMD5
	if ok {
		p.PayloadDigestAlgo = int(algo)
	}
	return nil
}

// firstInt returns the first present of two integer tags.
func firstInt(h1 *header, t1 uint32, h2 *header, t2 uint32) (int64, error) {
	v, ok, err := h1.int(t1)
	if err != nil || ok {
		return v, err
	}
	v, _, err = h2.int(t2)
	return v, err
}

func readDeps(p *rpm.Package, h *header) error {
	kinds := []struct {
		name, flags, version uint32
		dst                  *[]rpm.Dep
	}{
		{tagProvideName, tagProvideFlags, tagProvideVersion, &p.Provides},
		{tagRequireName, tagRequireFlags, tagRequireVersion, &p.Requires},
		{tagConflictName, tagConflictFlags, tagConflictVersion, &p.Conflicts},
		{tagObsoleteName, tagObsoleteFlags, tagObsoleteVersion, &p.Obsoletes},
		{tagRecommendName, tagRecommendFlags, tagRecommendVersion, &p.Recommends},
		{tagSuggestName, tagSuggestFlags, tagSuggestVersion, &p.Suggests},
		{tagSupplementName, tagSupplementFlags, tagSupplementVersion, &p.Supplements},
		{tagEnhanceName, tagEnhanceFlags, tagEnhanceVersion, &p.Enhances},
	}
	for _, k := range kinds {
		deps, err := readDepTags(h, k.name, k.flags, k.version)
		if err != nil {
			return err
		}
		*k.dst = deps
	}
	return nil
}

func readDepTags(h *header, nameTag, flagTag, verTag uint32) ([]rpm.Dep, error) {
	names, err := h.strings(nameTag)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	flags, err := h.ints(flagTag)
	if err != nil {
		return nil, err
	}
	vers, err := h.strings(verTag)
	if err != nil {
		return nil, err
	}
	if len(flags) != len(names) || len(vers) != len(names) {
		return nil, fmt.Errorf("dependency tag %d: %d names, %d flags, %d versions", nameTag, len(names), len(flags), len(vers))
	}
	deps := make([]rpm.Dep, len(names))
	for i, n := range names {
		deps[i] = rpm.DepFromHeader(n, flags[i], vers[i])
	}
	return deps, nil
}

func readFiles(p *rpm.Package, h *header) error {
	paths, err := filePaths(h)
	if err != nil || len(paths) == 0 {
		return err
	}
	modes, err := h.ints(tagFileModes)
	if err != nil {
		return err
	}
	flags, err := h.ints(tagFileFlags)
	if err != nil {
		return err
	}
	p.Files = make([]rpm.File, len(paths))
	for i, path := range paths {
		p.Files[i].Path = path
		switch {
		case i < len(flags) && flags[i]&fileFlagGhost != 0:
			p.Files[i].Type = "ghost"
		case i < len(modes) && modes[i]&0o170000 == 0o040000:
			p.Files[i].Type = "dir"
		}
	}
	return nil
}

// filePaths joins dirnames/basenames/dirindexes, or returns the old
// uncompressed file names.
func filePaths(h *header) ([]string, error) {
	base, err := h.strings(tagBaseNames)
	if err != nil {
		return nil, err
	}
	if len(base) == 0 {
		return h.strings(tagOldFileNames)
	}
	dirs, err := h.strings(tagDirNames)
	if err != nil {
		return nil, err
	}
	idx, err := h.ints(tagDirIndexes)
	if err != nil {
		return nil, err
	}
	if len(idx) != len(base) {
		return nil, fmt.Errorf("%d basenames but %d dirindexes", len(base), len(idx))
	}
	out := make([]string, len(base))
	for i, b := range base {
		if idx[i] < 0 || idx[i] >= int64(len(dirs)) {
			return nil, fmt.Errorf("dirindex %d out of range", idx[i])
		}
		out[i] = dirs[idx[i]] + b
	}
	return out, nil
}

func readChangelog(p *rpm.Package, h *header) error {
	times, err := h.ints(tagChangelogTime)
	if err != nil || len(times) == 0 {
		return err
	}
	names, err := h.strings(tagChangelogName)
	if err != nil {
		return err
	}
	texts, err := h.strings(tagChangelogText)
	if err != nil {
		return err
	}
	if len(names) != len(times) || len(texts) != len(times) {
		return fmt.Errorf("changelog: %d times, %d names, %d texts", len(times), len(names), len(texts))
	}
	p.Changelog = make([]rpm.ChangelogEntry, len(times))
	for i := range times {
		p.Changelog[i] = rpm.ChangelogEntry{Author: names[i], Date: times[i], Text: texts[i]}
	}
	return nil
}
