package benchx

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
)

// ProfileEnv names the environment variable that makes a command profile
// itself: APPLIANCE_PPROF=DIR writes DIR/PROG-cpu.pprof, PROG-block.pprof
// and PROG-mutex.pprof, for the benchmarks (docs/bench.md). PROG is the
// command's name and its subcommand ("deploy-serve"); the last run of a
// subcommand wins. Unset, nothing is profiled and nothing is written.
const ProfileEnv = "APPLIANCE_PPROF"

// blockRate samples blocking events so that one of about every 10 µs
// blocked is recorded (runtime.SetBlockProfileRate).
const blockRate = 10_000

// ProfileFromEnv starts profiling when ProfileEnv is set and returns the
// function that stops it and writes the profiles; call it before the
// program exits (also on error paths that call os.Exit). A failure to start
// is printed and profiling skipped: it never stops the command.
func ProfileFromEnv(prog string) (stop func()) {
	dir := os.Getenv(ProfileEnv)
	if dir == "" {
		return func() {}
	}
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		prog += "-" + filepath.Base(os.Args[1])
	}
	cpu, err := startCPU(filepath.Join(dir, prog+"-cpu.pprof"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s: %v (not profiling)\n", prog, ProfileEnv, err)
		return func() {}
	}
	runtime.SetBlockProfileRate(blockRate)
	runtime.SetMutexProfileFraction(10)
	return func() {
		pprof.StopCPUProfile()
		if err := cpu.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %s: %v\n", prog, ProfileEnv, err)
		}
		for _, name := range []string{"block", "mutex"} {
			if err := writeProfile(name, filepath.Join(dir, prog+"-"+name+".pprof")); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %s: %v\n", prog, ProfileEnv, err)
			}
		}
	}
}

func startCPU(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
