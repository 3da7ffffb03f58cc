// Package repodata owns the yum repository metadata format. It writes the
// repodata of a set of rpm.Packages (Generate, Write): primary, filelists
// and other as gzip-compressed XML named by their sha256, then repomd.xml,
// reproducibly and as CentOS 7's yum 3 reads them; package by package the
// XML is the text createrepo_c writes, except primary's file time. It reads
// an upstream repository's metadata (ParseRepomd, ParsePrimary,
// ParseFilelists, with Decompress for gz, bz2, xz or zst and
// NewChecksumHash for repomd.xml's checksum types), streaming one package
// at a time and refusing checksums that are not hex. It does no I/O beyond
// the readers and writers it is given, except that Write writes each file
// atomically under a directory; fetching the files and checking them
// against repomd.xml is package rpms' job. The functions keep no state.
package repodata
