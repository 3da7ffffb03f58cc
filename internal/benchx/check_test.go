package benchx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const recordedMD = `# make bench results

- commit: abc1234
- date: 2026-12-07T03:00:00Z
- load: 1.20 0.90 0.80 at start, 1.50 1.10 0.90 at end (2 CPUs)

| metric | ours | peer | ratio | target | result |
| --- | --- | --- | --- | --- | --- |
| build wall time, cold (s) | 4.00 | 8.00 | 0.500 | <= 0.70 | PASS |
| build CPU time, user+sys (s) | 6.00 | 9.00 | 0.667 | info | - |
| build peak RSS (MiB, max of runs) | 85.3 | 70.4 | 1.212 | ours < 300 | PASS |
| file size vs unique blobs+files (MiB) | 2060.7 | 2060.6 | 0.976 / 0.976 | info | - |
| seed pull throughput (MB/s) | 2400 | 2000 | 1.200 | >= 1.0 | PASS |
| push into a fresh registry (s) | 4.00 | 10.00 | 0.400 | <= 0.5 | PASS |
| repodata, 500 RPMs (s, best of 3) | 0.03 | 0.05 | 0.60 | <= 1.5 | PASS |

Runs: anything after the table is ignored.
`

// fresh returns the recorded table with one row's cells replaced.
func fresh(t *testing.T, metric string, cells ...string) *Results {
	t.Helper()
	res, err := Parse(strings.NewReader(recordedMD))
	if err != nil {
		t.Fatal(err)
	}
	for i := range res.Rows {
		if res.Rows[i].Metric == metric {
			r := &res.Rows[i]
			r.Ratio, r.Result = cells[0], cells[1]
		}
	}
	return res
}

func TestParse(t *testing.T) {
	res, err := Parse(strings.NewReader(recordedMD))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 7 {
		t.Fatalf("rows = %d, want 7", len(res.Rows))
	}
	if got := res.Meta["commit"]; got != "abc1234" {
		t.Errorf("commit = %q", got)
	}
	row, ok := res.Row("seed pull throughput (MB/s)")
	if !ok || row.Ratio != "1.200" || row.Target != ">= 1.0" || row.Result != "PASS" {
		t.Errorf("seed row = %+v, %v", row, ok)
	}
}

func TestParseRejectsNoTable(t *testing.T) {
	if _, err := Parse(strings.NewReader("- commit: x\n\nno table\n")); err == nil {
		t.Fatal("parsed a file without a table")
	}
	if _, err := Parse(strings.NewReader("| metric | ours |\n| --- | --- |\n| a | 1 |\n")); err == nil {
		t.Fatal("parsed a table without ratio, target and result columns")
	}
	const short = "| metric | ours | peer | ratio | target | result |\n| --- |\n| a | 1 |\n"
	if _, err := Parse(strings.NewReader(short)); err == nil {
		t.Fatal("parsed a row with 2 cells under a header of 6")
	}
}

func TestParseColumnsByName(t *testing.T) {
	const md = "| metric | ours | peer | limit | ratio | target | result |\n|---|---|---|---|---|---|---|\n" +
		"| build wall time, cold (s) | 4.0 | 8.0 | 3.0 | 0.500 | <= 0.70 | PASS |\n"
	res, err := Parse(strings.NewReader(md))
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Rows[0]; r.Ratio != "0.500" || r.Target != "<= 0.70" {
		t.Errorf("row = %+v, want ratio 0.500 and target <= 0.70", r)
	}
}

func TestCheck(t *testing.T) {
	const build, seed, push = "build wall time, cold (s)", "seed pull throughput (MB/s)", "push into a fresh registry (s)"
	tests := []struct {
		name   string
		fresh  *Results
		failed []string // metrics named in the findings, in order
	}{
		{"same", fresh(t, build, "0.500", "PASS"), nil},
		{"build better", fresh(t, build, "0.300", "PASS"), nil},
		{"build 14% worse", fresh(t, build, "0.570", "PASS"), nil},
		{"build 16% worse", fresh(t, build, "0.580", "PASS"), []string{build}},
		{"build misses target", fresh(t, build, "0.710", "MISS"), []string{build, build}},
		{"seed 10% lower", fresh(t, seed, "1.091", "PASS"), nil},
		{"seed 20% lower", fresh(t, seed, "1.000", "PASS"), []string{seed}},
		{"seed higher", fresh(t, seed, "1.500", "PASS"), nil},
		{"seed below target", fresh(t, seed, "0.990", "MISS"), []string{seed, seed}},
		{"seed says PASS below target", fresh(t, seed, "0.95", "PASS"), []string{seed, seed}},
		{"seed broken", fresh(t, seed, "-", "BROKEN"), []string{seed, seed}},
		{"seed not available", fresh(t, seed, "-", "not available"), []string{seed}},
		{"push 12% worse", fresh(t, push, "0.45", "PASS"), nil},
		{"push over 0.5", fresh(t, push, "0.52", "MISS"), []string{push, push}},
		{"rss miss", fresh(t, "build peak RSS (MiB, max of runs)", "1.5", "MISS"), []string{"build peak RSS (MiB, max of runs)"}},
		{"info rows ignored", fresh(t, "build CPU time, user+sys (s)", "5.0", "-"), nil},
	}
	recorded, err := Parse(strings.NewReader(recordedMD))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(recorded, tc.fresh, DefaultTolerance)
			var names []string
			for _, f := range got {
				names = append(names, f.Metric)
			}
			if strings.Join(names, ";") != strings.Join(tc.failed, ";") {
				t.Errorf("findings = %v, want metrics %v", got, tc.failed)
			}
		})
	}
}

func TestCheckMissingRow(t *testing.T) {
	recorded, _ := Parse(strings.NewReader(recordedMD))
	f, _ := Parse(strings.NewReader(recordedMD))
	f.Rows = f.Rows[1:] // no build row
	got := Check(recorded, f, DefaultTolerance)
	if len(got) != 1 || !strings.Contains(got[0].Why, "missing") {
		t.Errorf("findings = %v, want the build row missing", got)
	}
}

// TestOtherMachine: make bench-check says when the recorded run cannot
// tell the code from the machine.
func TestOtherMachine(t *testing.T) {
	res := func(machine string) *Results {
		r := &Results{Meta: map[string]string{}}
		if machine != "" {
			r.Meta["machine"] = machine
		}
		return r
	}
	const a, b = "CPU A, 2 CPUs, 24 GiB, kernel 6.1, root ext4 on /dev/vda", "CPU B, 2 CPUs, 24 GiB, kernel 6.1, root ext4 on /dev/vda"
	for _, tc := range []struct {
		recorded, fresh, want string
	}{
		{a, a, ""},
		{a, b, "another machine"},
		{"", a, "do not name their machine"},
		{a, "", ""}, // a fresh file without the line (BENCH_FRESH of an old run): nothing to say
	} {
		got := OtherMachine(res(tc.recorded), res(tc.fresh))
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("OtherMachine(%q, %q) = %q, want %q", tc.recorded, tc.fresh, got, tc.want)
		}
	}
}

func TestProfileFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(ProfileEnv, dir)
	stop := ProfileFromEnv("prog")
	stop()
	for _, n := range []string{"cpu", "block", "mutex"} {
		if st, err := os.Stat(filepath.Join(dir, "prog-"+n+".pprof")); err != nil || st.Size() == 0 {
			t.Errorf("%s profile: %v", n, err)
		}
	}
	t.Setenv(ProfileEnv, "")
	ProfileFromEnv("off")()
	if _, err := os.Stat(filepath.Join(dir, "off-cpu.pprof")); err == nil {
		t.Error("profiled with the variable empty")
	}
}
