package signing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// PasswordEnv is the environment variable that holds a private key's
// password, as for the cosign CLI. Set but empty means the empty password.
const PasswordEnv = "COSIGN_PASSWORD"

// PasswordFunc returns the password of a private key.
type PasswordFunc func() ([]byte, error)

// EnvOrTerminalPassword returns the PasswordFunc the commands use:
// COSIGN_PASSWORD if it is set; otherwise, when standard input is a
// terminal, a prompt on standard error (asked twice and compared when
// confirm is true, as when a new key is made); otherwise an error wrapping
// ErrNoPassword that says how to set COSIGN_PASSWORD. The password is never
// echoed or logged.
func EnvOrTerminalPassword(confirm bool) PasswordFunc {
	src := passwordSource{
		lookupEnv:  os.LookupEnv,
		isTerminal: func() bool { return term.IsTerminal(int(os.Stdin.Fd())) },
		readSecret: func() ([]byte, error) { return term.ReadPassword(int(os.Stdin.Fd())) },
		prompt:     os.Stderr,
	}
	return func() ([]byte, error) { return src.password(confirm) }
}

// passwordSource holds what EnvOrTerminalPassword reads from, so tests can
// stand in for the environment and the terminal.
type passwordSource struct {
	lookupEnv  func(string) (string, bool)
	isTerminal func() bool
	readSecret func() ([]byte, error)
	prompt     io.Writer
}

func (s passwordSource) password(confirm bool) ([]byte, error) {
	if pw, ok := s.lookupEnv(PasswordEnv); ok {
		return []byte(pw), nil
	}
	if !s.isTerminal() {
		return nil, fmt.Errorf("%w: standard input is not a terminal, so the key password cannot be asked for; set it in the environment (export %s=<password>)", ErrNoPassword, PasswordEnv)
	}
	pw, err := s.ask("Enter password for private key: ")
	if err != nil || !confirm {
		return pw, err
	}
	again, err := s.ask("Enter password for private key again: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pw, again) {
		return nil, errors.New("the two passwords differ; run the command again")
	}
	return pw, nil
}

func (s passwordSource) ask(prompt string) ([]byte, error) {
	fmt.Fprint(s.prompt, prompt)
	pw, err := s.readSecret()
	fmt.Fprintln(s.prompt)
	if err != nil {
		return nil, fmt.Errorf("read password from terminal: %w", err)
	}
	return pw, nil
}
