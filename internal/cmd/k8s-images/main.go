// Command k8s-images writes the Kubernetes control-plane images, built from
// the binaries of scripts/k8s/build.sh, as one OCI image layout, and pushes
// them into a registry on loopback. No docker and no registry are needed to
// build them.
//
//	k8s-images build --bin DIR --out LAYOUT [--stack kubesphere] [--component kubernetes] [--kubernetes-version V] [--xtables /usr/sbin/xtables-nft-multi]
//	k8s-images list  --layout LAYOUT
//	k8s-images push  --layout LAYOUT --addr 127.0.0.1:PORT
//
// build writes the images the built-in stack's component pins
// (manifest/stacks/kubesphere.yaml, component kubernetes), after checking
// them against `kubeadm config images list` of DIR/kubeadm for its own
// version (every name kubeadm pulls is pinned; the others are pause tags),
// plus the test workload registry.factory.example/library/hello:1.0,
// linux/amd64. Every image has
// one layer; timestamps and owners are fixed, so the same binaries give the
// same digests. LAYOUT must not exist yet (it is written next to it and
// renamed into place at the end).
//
// list prints the image names of a layout, one a line, sorted.
//
// push writes each image of the layout to ADDR/REPO:TAG, the registry host of
// its name dropped: registry.k8s.io/pause:3.9 goes to ADDR/pause:3.9,
// registry.factory.example/library/hello:1.0 to ADDR/library/hello:1.0. A
// stack manifest then maps both registries to ADDR with registryMirrors,
// beside the fixture images (scripts/lib/fixture-registry.sh). Only loopback
// addresses are accepted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "k8s-images:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

const usage = "usage: k8s-images build --bin DIR --out LAYOUT | list --layout LAYOUT | push --layout LAYOUT --addr 127.0.0.1:PORT"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New(usage)}
	}
	fs := flag.NewFlagSet("k8s-images "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var bin, out, layoutDir, addr, xtables, stack, component, version string
	switch args[0] {
	case "build":
		fs.StringVar(&bin, "bin", "", "directory with kubeadm, the control-plane binaries, etcd, coredns, pause, hello")
		fs.StringVar(&out, "out", "", "OCI image layout to write (must not exist)")
		fs.StringVar(&xtables, "xtables", DefaultXtables, "xtables-nft-multi to put into kube-proxy, with the libraries ldd finds")
		fs.StringVar(&stack, "stack", "kubesphere", "built-in stack (manifest/stacks) whose component's images to build")
		fs.StringVar(&component, "component", "kubernetes", "the stack's component")
		fs.StringVar(&version, "kubernetes-version", "", "tag of the kube-* images, when the binaries carry another version than the stack's (build.sh --previous)")
	case "list":
		fs.StringVar(&layoutDir, "layout", "", "OCI image layout")
	case "push":
		fs.StringVar(&layoutDir, "layout", "", "OCI image layout")
		fs.StringVar(&addr, "addr", "", "registry on loopback, host:port (plain HTTP)")
	default:
		return usageError{fmt.Errorf("unknown command %q; %s", args[0], usage)}
	}
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 0 {
		return usageError{fmt.Errorf("unexpected arguments %v", fs.Args())}
	}
	switch args[0] {
	case "build":
		if bin == "" || out == "" {
			return usageError{errors.New("build needs --bin and --out")}
		}
		want, err := StackImages(stack, component)
		if err != nil {
			return err
		}
		if version != "" {
			if want, err = Retag(want, version); err != nil {
				return err
			}
		}
		names, err := Build(ctx, BuildOptions{Images: want, BinDir: bin, Out: out, Xtables: xtables, Log: stderr})
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Fprintln(stdout, n)
		}
		return nil
	case "list":
		if layoutDir == "" {
			return usageError{errors.New("list needs --layout")}
		}
		imgs, err := ReadLayout(layoutDir)
		if err != nil {
			return err
		}
		for _, im := range imgs {
			fmt.Fprintln(stdout, im.Name)
		}
		return nil
	default:
		if layoutDir == "" || addr == "" {
			return usageError{errors.New("push needs --layout and --addr")}
		}
		pushed, err := Push(ctx, layoutDir, addr)
		for _, p := range pushed {
			fmt.Fprintf(stdout, "pushed %s %s\n", p.Ref, p.Digest)
		}
		return err
	}
}
