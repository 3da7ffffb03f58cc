package el7

import (
	"slices"
	"strings"
)

// Versions: each tool's is the one in an `rpm -qa` of a CentOS 7.9.2009 host
// (centos-release-7-9.2009.1.el7.centos; e.g. systemd-219-78.el7_9.3,
// iproute-4.11.0-30.el7, curl-7.29.0-59.el7_9.1, coreutils-8.22-24.el7_9.2,
// util-linux-2.23.2-65.el7_9.1, bash-4.2.46-34.el7, rpm-4.11.3-45.el7,
// yum-3.4.3-168.el7.centos, openssl-1.0.2k-21.el7_9, sudo-1.8.23-10.el7_9.1),
// and for keepalived and haproxy, which the bundle takes from CentOS 7.9's
// base repo, keepalived-1.3.5-19.el7 and haproxy-1.5.18-9.el7.
//
// Sources: "repo@tag:path" is a file of that public GitHub repository at
// that tag (or commit); each tool's comment names what was read.

// gnuHelp are the options every GNU program has.
var gnuHelp = []string{"help", "version"}

func long(names ...string) []string { return names }

// Tools is the table: every program the deployer runs on a host.
var Tools = []*Tool{
	// --- the shell: EL7's /bin/sh is bash 4.2. Builtins' options from
	// bminor/bash@bash-4.2:builtins/*.def (internal_getopt strings);
	// invocation options from bminor/bash@bash-4.2:doc/bash.1 (OPTIONS).
	{Name: "sh", Package: "bash", Version: "4.2.46", Source: "bminor/bash@bash-4.2:doc/bash.1",
		Short: "abefhkmnptuvxBCHPcilrsDo:", Long: long("debugger", "dump-po-strings", "dump-strings", "help", "init-file=", "rcfile=", "login", "noediting", "noprofile", "norc", "posix", "protected", "restricted", "verbose", "version"),
		StopAtOperand: true, Wrap: RunsScript},
	{Name: "bash", Package: "bash", Version: "4.2.46", Source: "bminor/bash@bash-4.2:doc/bash.1",
		Short: "abefhkmnptuvxBCHPcilrsDo:", Long: long("debugger", "dump-po-strings", "dump-strings", "help", "init-file=", "rcfile=", "login", "noediting", "noprofile", "norc", "posix", "protected", "restricted", "verbose", "version"),
		StopAtOperand: true, Wrap: RunsScript},
	// echo: VALID_ECHO_OPTIONS "neE" (builtins/echo.def); other words,
	// "-1" too, are printed.
	{Name: "echo", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/echo.def", Short: "neE", Style: Lenient},
	{Name: "printf", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/printf.def", Short: "v:", StopAtOperand: true},
	// test and [: operators are operands (builtins/test.def).
	{Name: "test", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/test.def", Style: Lenient},
	{Name: "[", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/test.def", Style: Lenient},
	{Name: "command", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/command.def", Short: "+pvV", Wrap: RunsCommand, NoWrapWith: "vV"},
	{Name: "exec", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/exec.def", Short: "+cla:", Wrap: RunsCommand},
	{Name: "read", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/read.def", Short: "ersa:d:i:n:p:t:u:"},
	{Name: "cd", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/cd.def", Short: "LP"},
	{Name: "umask", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/umask.def", Short: "Sp"},
	{Name: "set", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/set.def", Short: "abefhkmnptuvxBCHPo:"},
	{Name: "exit", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/exit.def", Style: Operands},
	{Name: "trap", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/trap.def", Short: "lp"},
	{Name: "true", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/colon.def", Style: Operands},
	{Name: "false", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/colon.def", Style: Operands},
	{Name: ":", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/colon.def", Style: Operands},
	{Name: "break", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/break.def", Style: Operands},
	{Name: "continue", Package: "bash (builtin)", Version: "4.2.46", Source: "bminor/bash@bash-4.2:builtins/break.def", Style: Operands},

	// --- coreutils 8.22: each program's getopt_long string and
	// long_options[] in coreutils/coreutils@v8.22:src/<program>.c
	// (sha256sum is md5sum.c built for SHA-256).
	{Name: "cat", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/cat.c", Short: "benstuvAET",
		Long: append(long("number-nonblank", "number", "squeeze-blank", "show-nonprinting", "show-ends", "show-tabs", "show-all"), gnuHelp...)},
	{Name: "uname", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/uname.c", Short: "asnrvmpio",
		Long: append(long("all", "kernel-name", "sysname", "nodename", "kernel-release", "release", "kernel-version", "machine", "processor", "hardware-platform", "operating-system"), gnuHelp...)},
	{Name: "nproc", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/nproc.c", Long: append(long("all", "ignore="), gnuHelp...)},
	{Name: "df", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/df.c", Short: "aB:iF:hHklmPTt:vx:",
		Long: append(long("all", "block-size=", "inodes", "human-readable", "si", "local", "output=?", "portability", "print-type", "sync", "no-sync", "total", "type=", "exclude-type="), gnuHelp...)},
	{Name: "wc", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/wc.c", Short: "clLmw",
		Long: append(long("bytes", "chars", "lines", "words", "files0-from=", "max-line-length"), gnuHelp...)},
	{Name: "date", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/date.c", Short: "d:f:I::r:Rs:u",
		Long: append(long("date=", "file=", "iso-8601=?", "reference=", "rfc-822", "rfc-2822", "rfc-3339=", "set=", "uct", "utc", "universal"), gnuHelp...)},
	{Name: "mkdir", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/mkdir.c", Short: "pm:vZ",
		Long: append(long("mode=", "parents", "verbose", "context=?"), gnuHelp...)},
	{Name: "mv", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/mv.c", Short: "bfint:uvS:TZ",
		Long: append(long("backup=?", "context", "force", "interactive", "no-clobber", "no-target-directory", "strip-trailing-slashes", "suffix=", "target-directory=", "update", "verbose"), gnuHelp...)},
	{Name: "rm", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/rm.c", Short: "dfirvIR",
		Long: append(long("force", "interactive=?", "one-file-system", "no-preserve-root", "preserve-root", "recursive", "dir", "verbose"), gnuHelp...)},
	{Name: "cp", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/cp.c", Short: "abdfHilLnprst:uvxPRS:TZ",
		Long: append(long("archive", "attributes-only", "backup=?", "copy-contents", "dereference", "force", "interactive", "link", "no-clobber", "no-dereference", "no-preserve=", "no-target-directory", "one-file-system", "parents", "path", "preserve=?", "recursive", "remove-destination", "sparse=", "reflink=?", "strip-trailing-slashes", "suffix=", "symbolic-link", "target-directory=", "update", "verbose"), gnuHelp...)},
	// chmod: a mode such as -w looks like options; its getopt string lists
	// the mode letters so that they parse as chmod itself parses them.
	{Name: "chmod", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/chmod.c", Short: "Rcfvr::w::x::X::s::t::u::g::o::a::,::+::=::0::1::2::3::4::5::6::7::",
		Long: append(long("changes", "recursive", "no-preserve-root", "preserve-root", "quiet", "reference=", "silent", "verbose"), gnuHelp...)},
	{Name: "install", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/install.c", Short: "bcCsDdg:m:o:pt:TvS:Z",
		Long: append(long("backup=?", "compare", "directory", "group=", "mode=", "no-target-directory", "owner=", "preserve-timestamps", "preserve-context", "strip", "strip-program=", "suffix=", "target-directory=", "verbose", "context=?"), gnuHelp...)},
	{Name: "ls", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/ls.c", Short: "abcdfghiklmnopqrstuvw:xABCDFGHI:LNQRST:UXZ1",
		Long: append(long("all", "escape", "directory", "dired", "full-time", "group-directories-first", "human-readable", "inode", "kibibytes", "numeric-uid-gid", "no-group", "hide-control-chars", "reverse", "size", "width=", "almost-all", "ignore-backups", "classify", "file-type", "si", "dereference-command-line", "dereference-command-line-symlink-to-dir", "hide=", "ignore=", "indicator-style=", "dereference", "literal", "quote-name", "quoting-style=", "recursive", "format=", "show-control-chars", "sort=", "tabsize=", "time=", "time-style=", "color=?", "block-size=", "context", "author"), gnuHelp...)},
	{Name: "seq", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/seq.c", Short: "+f:s:w",
		Long: append(long("equal-width", "format=", "separator="), gnuHelp...)},
	{Name: "sleep", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/sleep.c", Long: gnuHelp},
	{Name: "sha256sum", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/md5sum.c", Short: "bctw",
		Long: append(long("binary", "check", "quiet", "status", "text", "warn", "strict", "tag"), gnuHelp...)},
	{Name: "touch", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/touch.c", Short: "acd:fhmr:t:",
		Long: append(long("time=", "no-create", "date=", "reference=", "no-dereference"), gnuHelp...)},
	{Name: "rmdir", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/rmdir.c", Short: "pv",
		Long: append(long("ignore-fail-on-non-empty", "path", "parents", "verbose"), gnuHelp...)},
	{Name: "stat", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/stat.c", Short: "c:fLt",
		Long: append(long("dereference", "file-system", "format=", "printf=", "terse"), gnuHelp...)},
	{Name: "cut", Package: "coreutils", Version: "8.22", Source: "coreutils/coreutils@v8.22:src/cut.c", Short: "b:c:d:f:ns",
		Long: append(long("bytes=", "characters=", "fields=", "delimiter=", "only-delimited", "output-delimiter=", "complement"), gnuHelp...)},

	// diffutils 3.3: 1g4-mirror/diffutils@v3.3:src/cmp.c.
	{Name: "cmp", Package: "diffutils", Version: "3.3", Source: "1g4-mirror/diffutils@v3.3:src/cmp.c", Short: "bci:ln:sv",
		Long: long("print-bytes", "print-chars", "ignore-initial=", "verbose", "bytes=", "silent", "quiet", "version", "help")},
	// gawk 4.0.2: optlist and optab[] in Distrotech/gawk@gawk-4.0.2:main.c.
	{Name: "awk", Package: "gawk", Version: "4.0.2", Source: "Distrotech/gawk@gawk-4.0.2:main.c", Short: "+F:f:v:W:m:bcCd::e:E:gh:L:nNOp::PrR:StVY",
		Long: long("traditional", "lint=?", "lint-old", "optimize", "posix", "command=", "nostalgia", "gen-pot", "non-decimal-data", "profile=?", "copyright", "field-separator=", "file=", "re-interval", "source=", "dump-variables=?", "assign=", "version", "help", "exec=", "use-lc-numeric", "characters-as-bytes", "sandbox")},
	// sed 4.2.2: SHORTOPTS and longopts[] in mirror/sed@v4.2.2:sed/sed.c.
	{Name: "sed", Package: "sed", Version: "4.2.2", Source: "mirror/sed@v4.2.2:sed/sed.c", Short: "bsnrzuEe:f:l:i::V:",
		Long: long("binary", "regexp-extended", "expression=", "file=", "in-place=?", "line-length=", "null-data", "zero-terminated", "quiet", "posix", "silent", "separate", "unbuffered", "version", "help", "follow-symlinks")},
	// grep 2.20: short_options and long_options[] in
	// 1g4-mirror/grep@v2.20:src/grep.c.
	{Name: "grep", Package: "grep", Version: "2.20", Source: "1g4-mirror/grep@v2.20:src/grep.c", Short: "0123456789A:B:C:D:EFGHIPTUVX:abcd:e:f:hiLlm:noqRrsuvwxyZz",
		Long: long("basic-regexp", "extended-regexp", "fixed-regexp", "fixed-strings", "perl-regexp", "after-context=", "before-context=", "binary-files=", "byte-offset", "context=", "color=?", "colour=?", "count", "devices=", "directories=", "exclude=", "exclude-from=", "exclude-dir=", "file=", "files-with-matches", "files-without-match", "group-separator=", "help", "include=", "ignore-case", "initial-tab", "label=", "line-buffered", "line-number", "line-regexp", "max-count=", "no-filename", "no-group-separator", "no-messages", "null", "null-data", "only-matching", "quiet", "recursive", "dereference-recursive", "regexp=", "invert-match", "silent", "text", "binary", "unix-byte-offsets", "version", "with-filename", "word-regexp")},
	// tar 1.26: options[] (argp) in Distrotech/tar@release_1_26:src/tar.c.
	{Name: "tar", Package: "tar", Version: "1.26", Source: "Distrotech/tar@release_1_26:src/tar.c", Short: "txcdruASGg:nWkUOmpsf:ML:F:b:iBH:V:aI:jzZJC:T:X:PhK:N:vlRw",
		Long: long("list", "extract", "get", "create", "diff", "compare", "append", "update", "catenate", "concatenate", "delete", "test-label", "sparse", "sparse-version=", "incremental", "listed-incremental=", "level=", "ignore-failed-read", "occurrence=?", "seek", "no-seek", "no-check-device", "check-device", "verify", "remove-files", "keep-old-files", "keep-newer-files", "overwrite", "unlink-first", "recursive-unlink", "no-overwrite-dir", "overwrite-dir", "to-stdout", "to-command=", "ignore-command-error", "no-ignore-command-error", "owner=", "group=", "mtime=", "mode=", "atime-preserve=?", "touch", "same-owner", "no-same-owner", "numeric-owner", "preserve-permissions", "same-permissions", "no-same-permissions", "preserve-order", "same-order", "preserve", "delay-directory-restore", "no-delay-directory-restore", "file=", "force-local", "rmt-command=", "rsh-command=", "multi-volume", "tape-length=", "info-script=", "new-volume-script=", "volno-file=", "blocking-factor=", "record-size=", "ignore-zeros", "read-full-records", "format=", "old-archive", "portability", "posix", "pax-option=", "label=", "auto-compress", "no-auto-compress", "use-compress-program=", "bzip2", "gzip", "gunzip", "ungzip", "compress", "uncompress", "lzip", "lzma", "lzop", "xz", "add-file=", "directory=", "files-from=", "null", "no-null", "unquote", "no-unquote", "exclude=", "exclude-from=", "exclude-caches", "exclude-caches-under", "exclude-caches-all", "exclude-tag=", "exclude-tag-under=", "exclude-tag-all=", "exclude-vcs", "exclude-backups", "no-recursion", "one-file-system", "recursion", "absolute-names", "dereference", "hard-dereference", "starting-file=", "newer=", "after-date=", "newer-mtime=", "backup=?", "suffix=", "strip-components=", "transform=", "xform=", "ignore-case", "anchored", "no-anchored", "no-ignore-case", "wildcards", "no-wildcards", "no-wildcards-match-slash", "wildcards-match-slash", "verbose", "warning=", "checkpoint=?", "checkpoint-action=", "check-links", "totals=?", "utc", "full-time", "index-file=", "block-number", "interactive", "confirmation", "show-defaults", "show-omitted-dirs", "show-transformed-names", "show-stored-names", "quoting-style=", "quote-chars=", "no-quote-chars=", "restrict", "help", "usage", "version")},

	// util-linux 2.23.2: util-linux/util-linux@v2.23.2:sys-utils/flock.c
	// (flock FD, or flock FILE [-c] COMMAND), sys-utils/swapoff.c, and
	// sys-utils/mount.c, umount.c and mountpoint.c (the etcd backup's NFS
	// export; mount.nfs itself is nfs-utils', which mount runs).
	{Name: "mount", Package: "util-linux", Version: "2.23.2", Source: "util-linux/util-linux@v2.23.2:sys-utils/mount.c", Short: "aBcfFhilL:Mno:O:p:rRsU:vVwt:T:",
		Long: long("all", "fake", "fstab=", "fork", "help", "no-mtab", "read-only", "ro", "verbose", "version", "read-write", "rw", "options=", "test-opts=", "pass-fd=", "types=", "uuid=", "label=", "bind", "move", "rbind", "make-shared", "make-slave", "make-private", "make-unbindable", "make-rshared", "make-rslave", "make-rprivate", "make-runbindable", "no-canonicalize", "internal-only", "show-labels", "target=", "source=")},
	{Name: "umount", Package: "util-linux", Version: "2.23.2", Source: "util-linux/util-linux@v2.23.2:sys-utils/umount.c", Short: "aAcdfhilnRrO:t:vV",
		Long: long("all", "all-targets", "detach-loop", "fake", "force", "help", "internal-only", "lazy", "no-canonicalize", "no-mtab", "read-only", "recursive", "test-opts=", "types=", "verbose", "version")},
	{Name: "mountpoint", Package: "util-linux", Version: "2.23.2", Source: "util-linux/util-linux@v2.23.2:sys-utils/mountpoint.c", Short: "qdxhV",
		Long: long("quiet", "fs-devno", "devno", "help", "version")},
	{Name: "flock", Package: "util-linux", Version: "2.23.2", Source: "util-linux/util-linux@v2.23.2:sys-utils/flock.c", Short: "+sexnouw:E:hV?",
		Long: long("shared", "exclusive", "unlock", "nonblocking", "nb", "timeout=", "wait=", "conflict-exit-code=", "close", "help", "version"), Wrap: RunsFlock},
	{Name: "swapoff", Package: "util-linux", Version: "2.23.2", Source: "util-linux/util-linux@v2.23.2:sys-utils/swapoff.c", Short: "ahvVL:U:",
		Long: long("all", "help", "verbose", "version")},
	// procps-ng 3.3.10: warmchang/procps@v3.3.10:sysctl.c (-p takes its
	// file as an operand too).
	{Name: "sysctl", Package: "procps-ng", Version: "3.3.10", Source: "warmchang/procps@v3.3.10:sysctl.c", Short: "bneNwfp::qoxaAXr:Vdh",
		Long: long("all", "deprecated", "binary", "ignore", "names", "values", "load=?", "quiet", "write", "system", "pattern=", "help", "version")},
	// kmod 20: cmdopts_s and cmdopts[] in kmod-project/kmod@v20:tools/modprobe.c.
	{Name: "modprobe", Package: "kmod", Version: "20", Source: "kmod-project/kmod@v20:tools/modprobe.c", Short: "arRibfDcnC:d:S:sqvVh",
		Long: long("all", "remove", "remove-dependencies", "resolve-alias", "first-time", "ignore-install", "ignore-remove", "use-blacklist", "force", "force-modversion", "force-vermagic", "show-depends", "showconfig", "show-config", "show-modversions", "dump-modversions", "dry-run", "show", "config=", "dirname=", "set-version=", "syslog", "quiet", "verbose", "version", "help")},
	// libselinux-utils 2.5: SELinuxProject/selinux@libselinux-2.5:
	// libselinux/utils/getenforce.c (no arguments) and setenforce.c (one:
	// Enforcing, Permissive, 1 or 0).
	{Name: "getenforce", Package: "libselinux-utils", Version: "2.5", Source: "SELinuxProject/selinux@libselinux-2.5:libselinux/utils/getenforce.c", Style: Operands},
	{Name: "setenforce", Package: "libselinux-utils", Version: "2.5", Source: "SELinuxProject/selinux@libselinux-2.5:libselinux/utils/setenforce.c", Style: Operands},
	// hostname 3.13 (Debian's hostname, packaged by EL7): the deployer
	// only prints the name or sets it, with no option; no public copy of
	// 3.13's source was found to list its options, so none are accepted.
	{Name: "hostname", Package: "hostname", Version: "3.13", Source: "hostname(1) of hostname 3.13 (not read: no option is used)", Style: Operands},
	// ca-certificates 2020.2.41: update-ca-trust [extract]; the script is
	// EL's own (Fedora dist-git), not read here: the deployer runs only
	// "update-ca-trust extract", the command its man page documents.
	{Name: "update-ca-trust", Package: "ca-certificates", Version: "2020.2.41", Source: "update-ca-trust(8) of ca-certificates 2020.2.41 (EL7)", Style: Operands,
		Rules: []Rule{{Bad: func(w []string) string {
			if len(w) > 1 || (len(w) == 1 && w[0] != "extract" && w[0] != "check") {
				return "update-ca-trust takes one command, extract (or check)"
			}
			return ""
		}}}},

	// systemd 219 as Red Hat ships it (backports included: --now came to
	// EL7's 219 with "systemctl: introduce --now for enable, disable and
	// mask"; --value never did, it came with upstream 230): options[]
	// and verbs[] in redhat-plumbers/systemd-rhel7@rhel-7.9:
	// src/systemctl/systemctl.c, documented in man/systemctl.xml.
	{Name: "systemctl", Package: "systemd", Version: "219", Source: "redhat-plumbers/systemd-rhel7@rhel-7.9:src/systemctl/systemctl.c",
		Short: "ht:p:alqfs:H:M:n:o:ir",
		Long:  long("help", "version", "type=", "property=", "all", "reverse", "after", "before", "show-types", "failed", "full", "job-mode=", "fail", "irreversible", "ignore-dependencies", "ignore-inhibitors", "user", "system", "global", "no-block", "no-legend", "no-pager", "no-wall", "quiet", "root=", "force", "no-reload", "kill-who=", "signal=", "no-ask-password", "host=", "machine=", "runtime", "lines=", "output=", "plain", "state=", "recursive", "preset-mode=", "now"),
		Sub:   verbs("list-units", "list-unit-files", "list-sockets", "list-timers", "list-jobs", "list-machines", "clear-jobs", "cancel", "start", "stop", "condstop", "reload", "restart", "try-restart", "reload-or-restart", "reload-or-try-restart", "force-reload", "condreload", "condrestart", "isolate", "kill", "is-active", "check", "is-failed", "show", "cat", "status", "help", "snapshot", "delete", "daemon-reload", "daemon-reexec", "show-environment", "set-environment", "unset-environment", "import-environment", "halt", "poweroff", "reboot", "kexec", "suspend", "hibernate", "hybrid-sleep", "default", "rescue", "emergency", "exit", "reset-failed", "enable", "disable", "is-enabled", "reenable", "preset", "preset-all", "mask", "unmask", "link", "switch-root", "list-dependencies", "set-default", "get-default", "set-property", "is-system-running", "add-wants", "add-requires", "edit")},
	// hostnamectl: redhat-plumbers/systemd-rhel7@rhel-7.9:src/hostname/hostnamectl.c.
	{Name: "hostnamectl", Package: "systemd", Version: "219", Source: "redhat-plumbers/systemd-rhel7@rhel-7.9:src/hostname/hostnamectl.c",
		Short: "hH:M:", Long: long("help", "version", "transient", "static", "pretty", "host=", "machine=", "no-ask-password"),
		Sub: verbs("status", "set-hostname", "set-icon-name", "set-chassis", "set-deployment", "set-location")},

	// iproute 4.11: ip's options (matches() in main) and objects (cmds[])
	// in iproute2/iproute2@v4.11.0:ip/ip.c, the commands of ip route and
	// ip address in ip/iproute.c and ip/ipaddress.c (man/man8/ip-route.8.in,
	// ip-address.8.in); ss's getopt string and long_opts[] in misc/ss.c
	// (man/man8/ss.8 has -H, --no-header).
	{Name: "ip", Package: "iproute", Version: "4.11.0", Source: "iproute2/iproute2@v4.11.0:ip/ip.c", Style: SingleDash, Abbrev: true, StopAtOperand: true,
		Long: long("loops=", "family=", "4", "6", "0", "I", "D", "M", "B", "human", "human-readable", "iec", "stats", "statistics", "details", "resolve", "oneline", "timestamp", "tshort", "numeric", "Version", "force", "batch=", "brief", "rcvbuf=", "color", "help", "netns=", "all"),
		Sub: []*Tool{
			{Name: "address", Abbrev: true, StopAtOperand: true, Sub: operandVerbs("add", "change", "replace", "delete", "list", "show", "lst", "flush", "save", "showdump", "restore", "help"), Source: "iproute2/iproute2@v4.11.0:ip/ipaddress.c"},
			{Name: "addrlabel", Style: Operands}, {Name: "maddress", Style: Operands},
			{Name: "route", Abbrev: true, StopAtOperand: true, Sub: operandVerbs("add", "change", "replace", "prepend", "append", "test", "delete", "list", "show", "lst", "get", "flush", "save", "restore", "showdump", "help"), Source: "iproute2/iproute2@v4.11.0:ip/iproute.c"},
			{Name: "rule", Style: Operands}, {Name: "neighbor", Style: Operands}, {Name: "neighbour", Style: Operands},
			{Name: "ntable", Style: Operands}, {Name: "ntbl", Style: Operands}, {Name: "link", Style: Operands},
			{Name: "fou", Style: Operands}, {Name: "ila", Style: Operands}, {Name: "macsec", Style: Operands},
			{Name: "tunnel", Style: Operands}, {Name: "tunl", Style: Operands}, {Name: "tuntap", Style: Operands},
			{Name: "tap", Style: Operands}, {Name: "token", Style: Operands}, {Name: "tcpmetrics", Style: Operands},
			{Name: "monitor", Style: Operands}, {Name: "xfrm", Style: Operands}, {Name: "mroute", Style: Operands},
			{Name: "mrule", Style: Operands}, {Name: "netns", Style: Operands}, {Name: "netconf", Style: Operands},
			{Name: "vrf", Style: Operands}, {Name: "help", Style: Operands},
		},
		Note: "after OBJECT COMMAND come keywords and values, which are not checked"},
	{Name: "ss", Package: "iproute", Version: "4.11.0", Source: "iproute2/iproute2@v4.11.0:misc/ss.c", Short: "dhaletuwxnro460spbEf:miA:D:F:vVzZN:KHS",
		Long: long("numeric", "resolve", "options", "extended", "memory", "info", "processes", "bpf", "events", "dccp", "tcp", "sctp", "udp", "raw", "unix", "all", "listening", "ipv4", "ipv6", "packet", "family=", "socket=", "query=", "summary", "diag=", "filter=", "version", "help", "context", "contexts", "net=", "kill", "no-header")},

	// curl 7.29.0: aliases[] in curl/curl@curl-7_29_0:src/tool_getparam.c;
	// the -w variables in src/tool_writeout.c and docs/curl.1 ("local_ip
	// ... (Added in 7.29.0)").
	{Name: "curl", Package: "curl", Version: "7.29.0", Source: "curl/curl@curl-7_29_0:src/tool_getparam.c",
		Short: "012346aA:b:Bc:C:d:D:e:E:fF:gGhH:iIjJkK:lLm:MnNo:OpP:qQ:r:RsSt:T:u:U:vVw:x:X:Y:y:z:#",
		Long:  long("url=", "random-file=", "egd-file=", "connect-timeout=", "ciphers=", "disable-epsv", "epsv", "environment", "trace=", "trace-ascii=", "limit-rate=", "compressed", "tr-encoding", "digest", "negotiate", "ntlm", "ntlm-wb", "basic", "anyauth", "wdebug", "ftp-create-dirs", "create-dirs", "max-redirs=", "proxy-ntlm", "crlf", "stderr=", "interface=", "krb=", "krb4=", "max-filesize=", "disable-eprt", "eprt", "ftp-ssl", "ssl", "ftp-pasv", "socks5=", "socks=", "tcp-nodelay", "proxy-digest", "proxy-basic", "retry=", "retry-delay=", "retry-max-time=", "proxy-negotiate", "ftp-account=", "proxy-anyauth", "trace-time", "ignore-content-length", "ftp-skip-pasv-ip", "ftp-method=", "local-port=", "socks4=", "socks4a=", "ftp-alternative-to-user=", "ftp-ssl-reqd", "ssl-reqd", "sessionid", "ftp-ssl-control", "ftp-ssl-ccc", "ftp-ssl-ccc-mode=", "libcurl=", "raw", "post301", "keepalive", "socks5-hostname=", "keepalive-time=", "post302", "noproxy=", "socks5-gssapi-service=", "socks5-gssapi-nec", "proxy1.0=", "tftp-blksize=", "mail-from=", "mail-rcpt=", "ftp-pret", "proto=", "proto-redir=", "resolve=", "delegation=", "mail-auth=", "post303", "metalink", "http1.0", "tlsv1", "sslv2", "sslv3", "ipv4", "ipv6", "append", "user-agent=", "cookie=", "use-ascii", "cookie-jar=", "continue-at=", "data=", "data-ascii=", "data-binary=", "data-urlencode=", "dump-header=", "referer=", "cert=", "cacert=", "cert-type=", "key=", "key-type=", "pass=", "engine=", "capath=", "pubkey=", "hostpubmd5=", "crlfile=", "tlsuser=", "tlspassword=", "tlsauthtype=", "ssl-allow-beast", "fail", "form=", "form-string=", "globoff", "get", "help", "header=", "include", "head", "junk-session-cookies", "remote-header-name", "insecure", "config=", "list-only", "location", "location-trusted", "max-time=", "manual", "netrc", "netrc-optional", "netrc-file=", "buffer", "output=", "remote-name", "remote-name-all", "proxytunnel", "ftpport=", "ftp-port=", "disable", "quote=", "range=", "remote-time", "silent", "show-error", "telnet-options=", "upload-file=", "user=", "proxy-user=", "verbose", "version", "write-out=", "proxy=", "request=", "http-request=", "speed-limit=", "speed-time=", "time-cond=", "progress-bar", "xattr"),
		Rules: []Rule{{Bad: curlWriteOut}}},

	// yum 3.4.3: the options of YumOptionParser in
	// rpm-software-management/yum@02a6d7ad ("Bump version to 3.4.3"):cli.py,
	// its commands in yumcommands.py, clean's arguments in checkCleanArg.
	{Name: "yum", Package: "yum", Version: "3.4.3", Source: "rpm-software-management/yum@02a6d7ad:cli.py", Short: "htCc:R:d:e:qvyx:",
		Long:  long("help", "tolerant", "cacheonly", "config=", "randomwait=", "debuglevel=", "showduplicates", "errorlevel=", "rpmverbosity=", "quiet", "verbose", "assumeyes", "version", "installroot=", "enablerepo=", "disablerepo=", "exclude=", "disableexcludes=", "obsoletes", "noplugins", "nogpgcheck", "disableplugin=", "enableplugin=", "skip-broken", "color=", "releasever=", "setopt="),
		Sub:   verbs("install", "update", "update-to", "distribution-synchronization", "distro-sync", "info", "list", "erase", "remove", "groups", "group", "makecache", "clean", "provides", "whatprovides", "check-update", "search", "upgrade", "upgrade-to", "localinstall", "localupdate", "resolvedep", "shell", "deplist", "help", "reinstall", "downgrade", "version", "history", "check", "check-rpmdb", "load-transaction", "load-ts"),
		Rules: []Rule{{Bad: yumClean}}},
	// rpm 4.11.3: rpm-software-management/rpm@rpm-4.11.3-release:doc/rpm.8;
	// --import is rpmpopt.in's alias to rpmkeys --import (rpmkeys.c).
	{Name: "rpm", Package: "rpm", Version: "4.11.3", Source: "rpm-software-management/rpm@rpm-4.11.3-release:doc/rpm.8, rpmpopt.in",
		Short: "DEFLRUVacdefghilpqsv",
		Long:  long("import", "checksig", "query", "verify", "install", "upgrade", "freshen", "erase", "allfiles", "allmatches", "badreloc", "changelog", "conflicts", "dbpath=", "dump", "excludedocs", "excludepath=", "filesbypkg", "force", "ftpport=", "ftpproxy=", "hdrid", "httpport=", "httpproxy=", "ignorearch", "ignoreos", "ignoresize", "includedocs", "justdb", "last", "nocaps", "nocollections", "nodeps", "nodigest", "nofiledigest", "nofiles", "nogroup", "nolinkto", "nomanifest", "nomd", "nomode", "nomtime", "noorder", "nopost", "nopostun", "nopre", "nopreun", "nordev", "noscripts", "nosignature", "nosize", "notriggerin", "notriggerpostun", "notriggerprein", "notriggers", "notriggerun", "nouser", "obsoletes", "oldpackage", "percent", "pipe=", "pkgid", "prefix=", "provides", "qf=", "querybynumber", "queryformat=", "querytags", "quiet", "rcfile=", "relocate=", "replacefiles", "replacepkgs", "root=", "scripts", "setperms", "setugids", "showrc", "specfile", "test", "tid", "triggeredby", "triggers", "undefine=", "version", "whatprovides", "whatrequires", "define=", "eval=")},

	// openssl 1.0.2k: samicrusader/openssl-1.0.2@f4e45a2 ("openssl-1.0.2k"):
	// apps/genpkey.c and apps/req.c (options), doc/apps/genpkey.pod and
	// doc/apps/req.pod; the -pkeyopt names in crypto/*/*_pmeth.c.
	{Name: "openssl", Package: "openssl", Version: "1.0.2k", Source: "samicrusader/openssl-1.0.2@f4e45a2:apps/openssl.c", Style: SingleDash,
		Sub: []*Tool{
			{Name: "genpkey", Style: SingleDash, Source: "samicrusader/openssl-1.0.2@f4e45a2:apps/genpkey.c",
				Long: long("out=", "outform=", "pass=", "engine=", "paramfile=", "algorithm=", "pkeyopt=", "genparam", "text")},
			{Name: "req", Style: SingleDash, Source: "samicrusader/openssl-1.0.2@f4e45a2:apps/req.c",
				Long: long("inform=", "outform=", "in=", "out=", "passin=", "passout=", "text", "pubkey", "noout", "verify", "modulus", "new", "rand=", "newkey=", "pkeyopt=", "nodes", "key=", "keyform=", "keygen_engine=", "engine=", "config=", "multivalue-rdn", "subj=", "x509", "days=", "set_serial=", "extensions=", "reqexts=", "asn1-kludge", "no-asn1-kludge", "newhdr", "batch", "verbose", "nameopt=", "reqopt=", "subject", "utf8", "sigopt=", "md5", "sha1", "sha256", "sha384", "sha512")},
		},
		Rules: []Rule{{Bad: genpkeyNamedCurve}}},

	// sudo 1.8.23: short_opts and long_opts[] in
	// sudo-project/sudo@SUDO_1_8_23:src/parse_args.c.
	{Name: "sudo", Package: "sudo", Version: "1.8.23", Source: "sudo-project/sudo@SUDO_1_8_23:src/parse_args.c", Short: "+Aa:bC:c:D:Eeg:Hh::iKklnPp:r:SsT:t:U:u:Vv",
		Long: long("askpass", "auth-type=", "background", "close-from=", "login-class=", "preserve-env=?", "edit", "group=", "set-home", "help", "host=", "login", "remove-timestamp", "reset-timestamp", "list", "non-interactive", "preserve-groups", "prompt=", "role=", "stdin", "shell", "type=", "command-timeout=", "other-user=", "user=", "version", "validate"),
		Wrap: RunsCommand},

	// keepalived 1.3.5 (CentOS 7.9 base): long_options[] and the getopt
	// string in acassen/keepalived@v1.3.5:keepalived/core/main.c. It has no
	// --config-test (keepalived 2.0 added it); given an unknown option,
	// 1.3.5 exits 0 without reading its configuration.
	{Name: "keepalived", Package: "keepalived", Version: "1.3.5", Source: "acassen/keepalived@v1.3.5:keepalived/core/main.c", Short: "vhlndDRS:f:p:i:mMPCr:VXac:IxA:Ls:",
		Long: long("use-file=", "vrrp", "check", "log-console", "log-detail", "log-facility=", "release-vips", "dont-release-vrrp", "dont-release-ipvs", "dont-respawn", "dont-fork", "dump-conf", "pid=", "vrrp_pid=", "checkers_pid=", "address-monitoring", "snmp", "snmp-agent-socket=", "core-dump", "core-dump-pattern=?", "mem-check-log", "namespace=", "config-id=", "version", "help")},
	// haproxy 1.5.18 (CentOS 7.9 base): the option loop and usage() in
	// lark/haproxy-1.5.18:src/haproxy.c (each option a word of its own).
	{Name: "haproxy", Package: "haproxy", Version: "1.5.18", Source: "lark/haproxy-1.5.18:src/haproxy.c", Style: NoCluster, Short: "f:L:n:N:C:m:p:vdDVqc",
		Long: long("vv", "db", "dM", "de", "dp", "dS", "dG", "dV", "Ds", "sf", "st")},

	// --- installed by the bundle's RPMs, not by CentOS: their versions are
	// the stack's (manifest/stacks/kubesphere.yaml), and EL7 does not limit
	// them. Only the subcommands and flags the deployer uses, and their
	// neighbours, are listed, from those versions' reference documentation;
	// the files named were not read in full when this table was written.
	//
	// containerd.io 1.6.33: containerd's global --config and "config dump"
	// (containerd/containerd@v1.6.33:cmd/containerd/command/main.go,
	// config.go); ctr's --namespace, "version" and "images pull
	// --hosts-dir" (cmd/ctr/app/main.go, cmd/ctr/commands/images/pull.go,
	// cmd/ctr/commands/resolver.go).
	{Name: "containerd", Package: "bundle: containerd.io", Version: "1.6.33", Source: "containerd/containerd@v1.6.33:cmd/containerd/command/main.go", Style: GoFlag,
		Long: long("config=", "c=", "log-level=", "l=", "address=", "a=", "root=", "state=", "help", "h", "version", "v"),
		Sub:  []*Tool{{Name: "config", Style: GoFlag, Sub: []*Tool{{Name: "dump", Style: GoFlag}, {Name: "default", Style: GoFlag}}}}},
	{Name: "ctr", Package: "bundle: containerd.io", Version: "1.6.33", Source: "containerd/containerd@v1.6.33:cmd/ctr/app/main.go", Style: GoFlag,
		Long: long("namespace=", "n=", "address=", "a=", "timeout=", "connect-timeout=", "debug", "help", "h", "version", "v"),
		Sub: []*Tool{{Name: "version", Style: GoFlag},
			// run [flags] IMAGE ID [COMMAND [ARG...]]: run's own flags
			// (cmd/ctr/commands/run/run.go) and the container flags it
			// shares (commands.ContainerFlags, cmd/ctr/commands/commands.go)
			// this deployer uses; the command runs in the container.
			{Name: "run", Style: GoFlag, Source: "containerd/containerd@v1.6.33:cmd/ctr/commands/run/run.go", StopAtOperand: true,
				Long: long("rm", "null-io", "log-uri=", "detach", "d", "fifo-dir=", "cgroup=", "platform=", "cni", "mount=", "net-host", "env=", "label=", "snapshotter=", "config=", "c=", "cwd=", "privileged", "read-only", "tty", "t", "runtime=")},
			{Name: "images", Style: GoFlag, Sub: []*Tool{{Name: "pull", Style: GoFlag, Source: "containerd/containerd@v1.6.33:cmd/ctr/commands/images/pull.go",
				Long: long("snapshotter=", "label=", "platform=", "all-platforms", "all-metadata", "print-chainid", "max-concurrent-downloads=", "skip-verify", "k", "plain-http", "user=", "u=", "refresh=", "hosts-dir=", "tlscacert=", "tlscert=", "tlskey=", "http-dump", "http-trace")}}}}},
	// kubeadm and kubectl (kubernetes 1.26.15, the oldest of the window):
	// cobra flags, GNU style; kubernetes/kubernetes@v1.26.15:
	// cmd/kubeadm/app/cmd/{init,join,reset,token,config}.go, cmd/upgrade/,
	// cmd/kubeadm/app/cmd/phases/init/uploadcerts.go, and kubectl's
	// staging/src/k8s.io/kubectl/pkg/cmd/{get,wait,delete}/.
	{Name: "kubeadm", Package: "bundle: kubeadm", Version: "1.26.15", Source: "kubernetes/kubernetes@v1.26.15:cmd/kubeadm/app/cmd",
		Long: long("help", "rootfs=", "v="), Short: "hv:",
		Sub: []*Tool{
			{Name: "init", Long: long("config=", "upload-certs", "skip-phases=", "ignore-preflight-errors=", "certificate-key=", "dry-run", "skip-token-print", "skip-certificate-key-print"),
				Sub: []*Tool{{Name: "phase", Sub: []*Tool{{Name: "upload-certs", Long: long("config=", "upload-certs", "certificate-key=", "skip-certificate-key-print", "kubeconfig=")}}}}},
			{Name: "join", Long: long("config=", "ignore-preflight-errors=", "skip-phases=", "dry-run")},
			{Name: "reset", Short: "f", Long: long("force", "cri-socket=", "ignore-preflight-errors=", "cert-dir=", "kubeconfig=", "skip-phases=", "dry-run")},
			{Name: "token", Long: long("kubeconfig=", "dry-run"), Sub: []*Tool{{Name: "create", Long: long("ttl=", "description=", "usages=", "groups=", "config=", "print-join-command", "certificate-key=")}}},
			{Name: "version", Short: "o:", Long: long("output=")}, // cmd/version.go
			{Name: "config", Long: long("kubeconfig="), Sub: []*Tool{{Name: "images", Sub: []*Tool{{Name: "list", Short: "o:", Long: long("config=", "kubernetes-version=", "image-repository=", "feature-gates=", "output=", "allow-missing-template-keys")}}}}},
			// cmd/certs.go: "renew all" and "check-expiration" take
			// --config, --cert-dir and --kubeconfig (no --output in 1.26).
			{Name: "certs", Sub: []*Tool{
				{Name: "renew", Sub: []*Tool{{Name: "all", Long: long("config=", "cert-dir=", "kubeconfig=")}}},
				{Name: "check-expiration", Long: long("config=", "cert-dir=", "kubeconfig=")}}},
			// cmd/upgrade/{plan,apply,node,common}.go: plan and apply take
			// the version as an operand; --patches from 1.22 on.
			{Name: "upgrade", Sub: []*Tool{
				{Name: "plan", Short: "o:", Long: long("config=", "kubeconfig=", "feature-gates=", "ignore-preflight-errors=", "allow-experimental-upgrades", "allow-release-candidate-upgrades", "print-config", "output=", "show-managed-fields")},
				{Name: "apply", Short: "yf", Long: long("yes", "force", "dry-run", "etcd-upgrade", "certificate-renewal", "patches=", "config=", "kubeconfig=", "feature-gates=", "ignore-preflight-errors=", "allow-experimental-upgrades", "allow-release-candidate-upgrades", "print-config")},
				{Name: "node", Long: long("dry-run", "etcd-upgrade", "certificate-renewal", "patches=", "kubeconfig=", "ignore-preflight-errors=", "skip-phases=")}}},
		}},
	// cri-tools 1.26 (crictl built from v1.26.1, packaged as the stack's
	// cri-tools-1.26.0): urfave/cli flags; the global ones in
	// kubernetes-sigs/cri-tools@v1.26.1:cmd/crictl/main.go, "ps" in
	// cmd/crictl/container.go (--name is a regular expression, util.go).
	{Name: "crictl", Package: "bundle: cri-tools", Version: "1.26.1", Source: "kubernetes-sigs/cri-tools@v1.26.1:cmd/crictl/main.go", Style: GoFlag,
		Long: long("config=", "c=", "runtime-endpoint=", "r=", "image-endpoint=", "i=", "timeout=", "t=", "debug", "D", "help", "h", "version", "v"),
		Sub: []*Tool{{Name: "ps", Style: GoFlag, Source: "kubernetes-sigs/cri-tools@v1.26.1:cmd/crictl/container.go",
			Long: long("verbose", "v", "id=", "name=", "pod=", "p=", "image=", "state=", "s=", "label=", "quiet", "q", "output=", "o=", "all", "a", "latest", "l", "last=", "n=", "no-trunc", "resolve-image-path", "r")},
			// exec CONTAINER COMMAND...: the command runs in the
			// container, not on the host, so its words are not checked.
			{Name: "exec", Style: GoFlag, Source: "kubernetes-sigs/cri-tools@v1.26.1:cmd/crictl/exec.go", StopAtOperand: true,
				Long: long("sync", "s", "timeout=", "interactive", "i", "tty", "t")}}},
	{Name: "kubectl", Package: "bundle: kubectl", Version: "1.26.15", Source: "kubernetes/kubernetes@v1.26.15:staging/src/k8s.io/kubectl/pkg/cmd",
		Short: "n:s:v:", Long: long("kubeconfig=", "namespace=", "server=", "context=", "request-timeout=", "v="),
		Sub: []*Tool{
			{Name: "get", Short: "o:l:A", Long: long("no-headers", "output=", "selector=", "all-namespaces", "show-labels", "watch")},
			{Name: "wait", Short: "l:A", Long: long("for=", "all", "timeout=", "selector=", "all-namespaces")},
			{Name: "delete", Short: "l:A", Long: long("ignore-not-found", "wait", "timeout=", "selector=", "all", "grace-period=", "force")},
			// drain: staging/src/k8s.io/kubectl/pkg/cmd/drain/drain.go.
			// uncordon: the same file.
			{Name: "uncordon", Short: "l:", Long: long("selector=", "dry-run=?")},
			{Name: "drain", Long: long("ignore-daemonsets", "delete-emptydir-data", "timeout=", "force", "grace-period=", "selector=", "pod-selector=", "disable-eviction", "skip-wait-for-delete-timeout=", "chunk-size=", "dry-run=?"), Short: "l:"},
		}},
	// Harbor 2.8.4's offline installer runs its own script; the deployer
	// passes it no argument, so none is listed.
	// deploy's own certificate renewal script (internal/kubeadm/certs,
	// Script), which /kubernetes/upkeep installs on each master.
	{Name: "appliance-cert-renew", Package: "deploy", Version: "-", Source: "internal/kubeadm/certs/certs.go (Script)", Long: long("now")},
	// deploy's etcd snapshot script (internal/kubeadm/snapshot,
	// BackupScript): no options.
	{Name: "appliance-etcd-backup", Package: "deploy", Version: "-", Source: "internal/kubeadm/snapshot/snapshot.go (BackupScript)"},
	{Name: "install.sh", Package: "bundle: harbor-offline-installer", Version: "2.8.4", Source: "goharbor/harbor@v2.8.4:make/install.sh (not read: no argument is used)"},
}

// verbs are subcommands with no options of their own.
func verbs(names ...string) []*Tool {
	out := make([]*Tool, len(names))
	for i, n := range names {
		out[i] = &Tool{Name: n}
	}
	return out
}

// operandVerbs are subcommands whose words are all operands (ip's).
func operandVerbs(names ...string) []*Tool {
	out := verbs(names...)
	for _, t := range out {
		t.Style = Operands
	}
	return out
}

// curlWriteOut: the %{variables} of -w must be 7.29.0's (tool_writeout.c).
func curlWriteOut(w []string) string {
	vars := []string{"url_effective", "http_code", "response_code", "http_connect", "time_total", "time_namelookup", "time_connect", "time_appconnect", "time_pretransfer", "time_starttransfer", "size_header", "size_request", "size_download", "size_upload", "speed_download", "speed_upload", "content_type", "num_connects", "time_redirect", "num_redirects", "ftp_entry_path", "redirect_url", "ssl_verify_result", "filename_effective", "remote_ip", "remote_port", "local_ip", "local_port"}
	for i, a := range w {
		var f string
		switch {
		case (a == "-w" || a == "--write-out") && i+1 < len(w):
			f = w[i+1]
		case strings.HasPrefix(a, "--write-out="):
			f = strings.TrimPrefix(a, "--write-out=")
		default:
			continue
		}
		for rest := f; ; {
			j := strings.Index(rest, "%{")
			if j < 0 {
				break
			}
			end := strings.IndexByte(rest[j:], '}')
			if end < 0 {
				break
			}
			if v := rest[j+2 : j+end]; !slices.Contains(vars, v) {
				return "-w variable %{" + v + "} is not in curl 7.29.0 (curl/curl@curl-7_29_0:src/tool_writeout.c)"
			}
			rest = rest[j+end:]
		}
	}
	return ""
}

// yumClean: clean takes 3.4.3's arguments (yumcommands.py checkCleanArg).
func yumClean(w []string) string {
	valid := []string{"headers", "packages", "metadata", "dbcache", "plugins", "expire-cache", "rpmdb", "all"}
	for i, a := range w {
		if a != "clean" {
			continue
		}
		if i+1 >= len(w) {
			return "clean needs an argument"
		}
		for _, b := range w[i+1:] {
			if strings.HasPrefix(b, "-") {
				continue
			}
			if !slices.Contains(valid, b) {
				return "clean " + b + " is not in yum 3.4.3 (checkCleanArg in yumcommands.py)"
			}
		}
		return ""
	}
	return ""
}

// genpkeyNamedCurve: OpenSSL 1.0.2k's EC_GROUP_new leaves asn1_flag without
// OPENSSL_EC_NAMED_CURVE (crypto/ec/ec_lib.c), so a key from "genpkey
// -algorithm EC" carries explicit curve parameters unless "-pkeyopt
// ec_param_enc:named_curve" asks otherwise (crypto/ec/ec_pmeth.c); Go's
// crypto/x509 (and most TLS peers) refuse such keys and requests. OpenSSL
// 1.1.0 made named curves the default, so only EL7 shows it.
func genpkeyNamedCurve(w []string) string {
	if len(w) == 0 || w[0] != "genpkey" {
		return ""
	}
	ec, named := false, false
	for i := 1; i+1 < len(w); i++ {
		switch {
		case w[i] == "-algorithm" && strings.EqualFold(w[i+1], "EC"):
			ec = true
		case w[i] == "-pkeyopt" && w[i+1] == "ec_param_enc:named_curve":
			named = true
		}
	}
	if ec && !named {
		return "genpkey -algorithm EC without -pkeyopt ec_param_enc:named_curve writes explicit curve parameters in OpenSSL 1.0.2k (samicrusader/openssl-1.0.2@f4e45a2:crypto/ec/ec_lib.c, EC_GROUP_new), which Go's crypto/x509 refuses"
	}
	return ""
}
