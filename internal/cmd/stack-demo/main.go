// Command stack-demo is the workload of the test site's small chart stack
// (internal/deploy/sitetest/testdata/stack-demo) and of its stand-in for
// Calico (internal/deploy/sitetest/testdata/demo-cni.yaml), built into an
// image by scripts/site-test.sh. It is not part of the product.
//
//	stack-demo serve DIR    write DIR/<hostname> (proving the volume is
//	                        writable), then answer HTTP on :8080 with the
//	                        names found in DIR and the MESSAGE variable
//	stack-demo once DIR     write DIR/<hostname> and exit 0 (a Job)
//	stack-demo host SCRIPT  chroot into /host (the node's root, mounted by
//	                        a privileged pod), chdir /, and exec
//	                        the node's /bin/sh -c SCRIPT with this
//	                        environment (the image has no shell; a
//	                        DaemonSet's script runs as if on the node)
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(0)
	if len(os.Args) != 3 || (os.Args[1] != "serve" && os.Args[1] != "once" && os.Args[1] != "host") {
		log.Fatal("usage: stack-demo serve|once DIR, or stack-demo host SCRIPT")
	}
	if os.Args[1] == "host" {
		log.Fatal(onHost(hostRoot, os.Args[2]))
	}
	dir := os.Args[2]
	host, err := os.Hostname()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	mark := filepath.Join(dir, host)
	if err := os.WriteFile(mark, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("stack-demo: wrote %s", mark)
	if os.Args[1] == "once" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		fmt.Fprintf(w, "%s from %s; %s holds %s\n", os.Getenv("MESSAGE"), host, dir, strings.Join(names, " "))
	})
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// hostRoot is where the pod of stack-demo host mounts the node's root.
const hostRoot = "/host"

// onHost runs script with the node's /bin/sh, chrooted into root; it
// returns only if that fails.
func onHost(root, script string) error {
	if err := syscall.Chroot(root); err != nil {
		return fmt.Errorf("chroot %s: %w", root, err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	err := syscall.Exec("/bin/sh", []string{"sh", "-c", script}, os.Environ())
	return fmt.Errorf("exec /bin/sh in %s: %w", root, err)
}
