package state

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// RandomSecret is a new random secret of 24 URL-safe characters.
func RandomSecret() (string, error) {
	buf := make([]byte, 18)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// Secret reads the secret file name (ReadSecretFile), making one with
// newSecret (mode 0600, created exclusively) when there is none, and
// reports whether it made it. A dry run makes nothing and returns a
// placeholder, "<name>".
func (d Dir) Secret(name string, newSecret func() (string, error), dry bool) (s string, made bool, err error) {
	file := d.Path(name)
	s, err = ReadSecretFile(file)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return s, false, err
	}
	if dry {
		return "<" + name + ">", false, nil
	}
	if s, err = newSecret(); err != nil {
		return "", false, err
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", false, err
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", false, err
	}
	if err := f.Close(); err != nil {
		return "", false, err
	}
	return s, true, nil
}
