package deploy

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// maxSecretFile bounds how much of a secret file is read: a password is
// one short line.
const maxSecretFile = 64 << 10

// ReadSecretFile returns the first line of file (without its line end),
// the way every password file given to deploy is read: the Harbor admin
// password file and --sudo-password-file. The file must be a regular file
// not readable or writable by group or others (chmod 600), at most 64 KiB,
// with a non-empty first line. Whatever follows the first line is ignored,
// so the caller masks exactly the secret it uses.
func ReadSecretFile(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file; write the password on the first line of a file (chmod 600)", file)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s is readable by group or others (mode %o); chmod 600 %s", file, fi.Mode().Perm(), file)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("%s is larger than %d KiB; it should hold one password on its first line", file, maxSecretFile>>10)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s is empty; write the password on its first line", file)
	}
	return line, nil
}
