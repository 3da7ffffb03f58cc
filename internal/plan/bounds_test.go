package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJournalLineBound: a journal line longer than MaxRecordLine is
// refused, naming the file, the line and the limit, instead of being read
// whole into memory.
func TestJournalLineBound(t *testing.T) {
	dir := t.TempDir()
	long := `{"phase":"/a","state":"failed","time":"2026-01-01T00:00:00Z","error":"` + strings.Repeat("x", MaxRecordLine) + `"}` + "\n"
	good := `{"phase":"/b","state":"completed","time":"2026-01-01T00:00:00Z"}` + "\n"
	for name, data := range map[string]string{"first": long + good, "last": good + long} {
		t.Run(name, func(t *testing.T) {
			d := filepath.Join(dir, name)
			os.MkdirAll(d, 0o700)
			os.WriteFile(filepath.Join(d, JournalFile), []byte(data), 0o600)
			_, err := LoadStatus(d)
			if err == nil || !strings.Contains(err.Error(), JournalFile+":") || !strings.Contains(err.Error(), "longer than 1 MiB") {
				t.Fatalf("LoadStatus: %v, want an error naming the line and the 1 MiB limit", err)
			}
			if _, err := OpenJournal(d); err == nil || !strings.Contains(err.Error(), "longer than 1 MiB") {
				t.Fatalf("OpenJournal: %v, want the same refusal", err)
			}
		})
	}
}

// TestJournalSizeBound: a journal larger than MaxJournalSize is refused
// before it is read.
func TestJournalSizeBound(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, JournalFile)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse file: the size is there, the disk blocks are not.
	if err := f.Truncate(MaxJournalSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := LoadStatus(dir); err == nil || !strings.Contains(err.Error(), "larger than 64 MiB") || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadStatus: %v, want an error naming %s and the 64 MiB limit", err, path)
	}
}

// TestAppendCutsLongErrors: a record's error is cut to MaxRecordError
// before it is written, so the deployer never writes a journal it refuses
// to read back.
func TestAppendCutsLongErrors(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	msg := "first words " + strings.Repeat("é", MaxRecordLine) + " last words"
	mustAppend(t, j, Record{Phase: "/a", State: Failed, Time: time.Now(), Error: msg})
	j.Close()
	st, err := LoadStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := st["/a"].Error
	if len(got) > MaxRecordError || !strings.HasPrefix(got, "first words") || !strings.Contains(got, "bytes cut") || !strings.HasSuffix(got, "last words") {
		t.Errorf("error of %d bytes kept as %d bytes (%q...%q), want at most %d, its start and end kept",
			len(msg), len(got), got[:min(40, len(got))], got[max(0, len(got)-40):], MaxRecordError)
	}
}
