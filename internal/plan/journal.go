package plan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// State is the state of a leaf phase.
type State string

// The states of a phase. A phase with no record is Unstarted.
const (
	Unstarted  State = "unstarted"
	InProgress State = "in_progress"
	Completed  State = "completed"
	Failed     State = "failed"
)

// Record is one line of the journal: a phase entered a state.
type Record struct {
	Phase   string    `json:"phase"`
	State   State     `json:"state"`
	Time    time.Time `json:"time"`
	Attempt int       `json:"attempt,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// JournalFile and LockFile are the names of the journal and of the lock file
// inside a state directory.
const (
	JournalFile = "journal.jsonl"
	LockFile    = "deploy.lock"
)

// Bounds on what is read from a state directory, which may come from
// anyone: the journal as a whole, each of its lines, and the error a record
// keeps (Append cuts longer ones, so the deployer never writes a line it
// would refuse to read).
const (
	MaxJournalSize = 64 << 20
	MaxRecordLine  = 1 << 20
	MaxRecordError = 64 << 10
)

// ErrLocked is returned when another process holds the state directory.
var ErrLocked = errors.New("state directory is locked by another deploy")

// Journal is the append-only record of phase state changes in a state
// directory: JSON lines, each written with one write and fsync'd before
// Append returns. It is the only store of plan state.
//
// A Journal opened with OpenJournal holds an exclusive lock (flock) on the
// state directory's lock file until Close, so two deploys never write one
// journal. The kernel drops the lock when the process dies, so a killed
// deployer leaves no stale lock. Append is safe for concurrent use.
type Journal struct {
	mu      sync.Mutex
	f       *os.File
	lock    *os.File
	records []Record
}

// OpenJournal locks dir (creating it, mode 0700) and opens its journal for
// appending, after reading the records already in it. A torn last line (the
// deployer was killed mid-write, so it was never acknowledged) is cut off the
// file; any other unreadable line is an error naming the line.
func OpenJournal(dir string) (j *Journal, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.Close()
		}
	}()
	path := filepath.Join(dir, JournalFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	records, good, err := readRecords(f, path)
	if err == nil {
		err = truncateTorn(f, good)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return &Journal{f: f, lock: lock, records: records}, nil
}

func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("%w: %s (held by pid %s); wait for that deploy to finish, "+
			"or use another --state-dir: %v", ErrLocked, dir, strings.TrimSpace(string(owner)), err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// ReadJournal returns the records of the journal in dir without locking it,
// so `deploy plan` can show a running deploy. A missing journal has no
// records; a torn last line is ignored.
func ReadJournal(dir string) ([]Record, error) {
	path := filepath.Join(dir, JournalFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	records, _, err := readRecords(f, path)
	return records, err
}

// readRecords parses every complete line and returns the byte offset just
// after the last good one. Only the final line may be torn: unterminated, or
// terminated but unparsable because the write was cut. A journal larger
// than MaxJournalSize, or a line longer than MaxRecordLine, is an error:
// the deployer writes neither.
func readRecords(f *os.File, path string) ([]Record, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("journal %s: %w", path, err)
	}
	if st.Size() > MaxJournalSize {
		return nil, 0, fmt.Errorf("journal %s is larger than %d MiB (%d bytes); deploy does not write such a journal: "+
			"restore the file or start over with a new --state-dir", path, MaxJournalSize>>20, st.Size())
	}
	br := bufio.NewReader(io.LimitReader(f, MaxJournalSize))
	var (
		records []Record
		good    int64
		lineNo  int
	)
	for {
		line, err := readLine(br, MaxRecordLine)
		if errors.Is(err, errLineTooLong) {
			return nil, 0, fmt.Errorf("journal %s:%d is longer than %d MiB; deploy does not write such a line: "+
				"restore the file or start over with a new --state-dir", path, lineNo+1, MaxRecordLine>>20)
		}
		if errors.Is(err, io.EOF) {
			return records, good, nil // an unterminated tail is torn
		}
		if err != nil {
			return nil, 0, fmt.Errorf("journal %s: %w", path, err)
		}
		lineNo++
		var rec Record
		if jerr := json.Unmarshal(bytes.TrimSpace(line), &rec); jerr != nil || rec.Phase == "" {
			if _, perr := br.Peek(1); errors.Is(perr, io.EOF) {
				return records, good, nil // torn last line
			}
			return nil, 0, fmt.Errorf("journal %s:%d is corrupt (%v); it is not the last line, so it was not a "+
				"torn write: restore the file or start over with a new --state-dir", path, lineNo, jerr)
		}
		records = append(records, rec)
		good += int64(len(line))
	}
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line of br with its '\n', reading at most max
// bytes of it: a longer line is errLineTooLong. At the end of the input it
// returns what is left, and io.EOF.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > max {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

func truncateTorn(f *os.File, good int64) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if st.Size() != good {
		if err := f.Truncate(good); err != nil {
			return fmt.Errorf("journal: dropping torn last record: %w", err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("state directory %s: fsync: %w", dir, err)
	}
	return nil
}

// Append writes the record as one line and fsyncs it. When Append returns nil
// the record survives a crash. An error longer than MaxRecordError is cut
// in the middle (cutError).
func (j *Journal) Append(rec Record) error {
	rec.Error = cutError(rec.Error)
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(line); err != nil {
		return fmt.Errorf("journal %s: %w", j.f.Name(), err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal %s: fsync: %w", j.f.Name(), err)
	}
	j.records = append(j.records, rec)
	return nil
}

// cutError returns s if it fits MaxRecordError bytes once written as JSON,
// else its start and end with the middle replaced by a note of how many
// bytes were cut, valid UTF-8 and within MaxRecordError bytes as JSON (each
// byte kept is at most 6 bytes as JSON: \u00XX).
func cutError(s string) string {
	if b, _ := json.Marshal(s); len(b) <= MaxRecordError {
		return s
	}
	keep := (MaxRecordError - 64) / 6 / 2
	head := strings.ToValidUTF8(s[:keep], "")
	tail := strings.ToValidUTF8(s[len(s)-keep:], "")
	return fmt.Sprintf("%s … (%d bytes cut) … %s", head, len(s)-len(head)-len(tail), tail)
}

// Records returns a copy of every record, oldest first.
func (j *Journal) Records() []Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Record(nil), j.records...)
}

// Close closes the journal and releases the lock.
func (j *Journal) Close() error {
	err := j.f.Close()
	if lerr := j.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// Status is the resolved state of a plan: the last record of each phase.
type Status map[string]Record

// Resolve folds records into a Status; the last record of a phase wins.
func Resolve(records []Record) Status {
	st := Status{}
	for _, r := range records {
		st[r.Phase] = r
	}
	return st
}

// State returns the state of a leaf (Unstarted when it has no record).
func (s Status) State(id string) State {
	if r, ok := s[id]; ok {
		return r.State
	}
	return Unstarted
}

// LoadStatus reads the journal in dir (without locking) and resolves it.
func LoadStatus(dir string) (Status, error) {
	recs, err := ReadJournal(dir)
	if err != nil {
		return nil, err
	}
	return Resolve(recs), nil
}

// Lock takes the lock of state directory dir, as a running deploy holds it,
// so that a day-two operation, whose journal is in a directory of its own,
// never runs beside a deployment or another operation on the same site.
// Close releases it.
func Lock(dir string) (io.Closer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	return lockDir(dir)
}
