package siteca

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/factory-appliance/appliance/internal/atomicfile"
)

// writeAtomic writes data to path with mode perm so that readers see either
// the old file or the whole new one.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	if err := atomicfile.Write(path, data, perm); err != nil {
		return fmt.Errorf("site CA: %w", err)
	}
	return nil
}

// lockDir takes an exclusive advisory lock on the state directory, so that
// processes sharing it create one CA and one server certificate at a time.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("site CA: lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("site CA: lock %s: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
