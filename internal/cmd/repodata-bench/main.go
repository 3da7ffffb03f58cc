// Command repodata-bench writes yum repodata for a directory of RPMs with
// packages rpms/rpmfile and rpms/repodata, as createrepo_c DIR would, so
// scripts/rpm-fixtures/bench.sh can time the two on the same files.
//
//	repodata-bench DIR
package main

import (
	"fmt"
	"os"

	"github.com/factory-appliance/appliance/rpms/repodata"
	"github.com/factory-appliance/appliance/rpms/rpmfile"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: repodata-bench DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "repodata-bench:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	pkgs, err := rpmfile.ReadPackagesDir(dir, 0)
	if err != nil {
		return err
	}
	return repodata.Write(dir, pkgs, repodata.Options{})
}
