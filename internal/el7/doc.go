// Package el7 knows which commands and options a CentOS 7.9 host has, and
// checks the deployer's host commands and systemd units against that.
//
// Why: the test site's hosts are Debian bookworm containers (systemd 252,
// iproute2 6.1, OpenSSL 3), so a command that works there can still fail on
// the CentOS 7.9 hosts the appliance is for (systemd 219, iproute 4.11,
// OpenSSL 1.0.2k, ...). `systemctl show --value`, for one, came with
// systemd 230 and runs everywhere but on EL7.
//
// What is here:
//   - Tools (table.go): each program the deployer runs on a host, the version
//     CentOS 7.9 ships, the options that version has, and where they were
//     read (that version's source, man page or NEWS; a comment per tool). The
//     versions were checked against an `rpm -qa` of a CentOS 7.9.2009 host;
//     systemd's options and directives against Red Hat's own 219 tree
//     (redhat-plumbers/systemd-rhel7, branch rhel-7.9), which carries
//     backports upstream 219 lacks (systemctl --now). For the other programs
//     the options are upstream's at that version: RHEL backports only add to
//     them, so the table errs towards refusing.
//   - Check (check.go): parses a command line as POSIX shell
//     (mvdan.cc/sh/v3/syntax), follows it into the shells and wrappers it
//     starts (sh -c, bash -c, sudo, flock, exec), and reports every program
//     that is not in the table and every option, subcommand or known
//     pitfall the EL7 version does not have.
//   - CheckUnit (unit.go): the sections and directives of a unit file against
//     systemd 219's, and each Exec line's command through Check.
//
// The deployer's tests feed every command their dry runs and recorded runs
// send to a host through Check (internal/deploy/el7_test.go), and the site
// test does the same with the host logs of a real deployment; so a command
// or option EL7 lacks fails `make test` although the Debian test hosts run it.
package el7
