// Package termtext makes text that comes from outside the program safe to
// print on a terminal: a host's stderr, a cluster's event messages, a
// journal's errors, names read from a state directory. A terminal acts on
// some characters instead of showing them (ESC starts a sequence that can
// clear the screen, set the window title or rewrite what is shown; CR and
// backspace overwrite; U+202E reverses what follows), so those are written
// as visible escapes instead. It is the one place that decides which
// characters those are.
package termtext

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// unsafe reports whether a terminal may act on r rather than show it: the
// C0 controls (tab and newline are the caller's to keep), DEL, the C1
// controls (U+009B is CSI to many terminals), the line and paragraph
// separators, and the format characters (bidirectional overrides,
// zero-width characters, the byte order mark).
func unsafe(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Cf, r)
}

// escapeRune writes r as it is printed in Go source: \r, \x1b, \u202e.
func escapeRune(b *strings.Builder, r rune) {
	switch {
	case r == '\r':
		b.WriteString(`\r`)
	case r == '\t':
		b.WriteString(`\t`)
	case r == '\n':
		b.WriteString(`\n`)
	case r < 0x80:
		fmt.Fprintf(b, `\x%02x`, r)
	case r > 0xffff:
		fmt.Fprintf(b, `\U%08x`, r)
	default:
		fmt.Fprintf(b, `\u%04x`, r)
	}
}

func escape(s string, keep func(rune) bool) string {
	clean := true
	for i, r := range s {
		if (unsafe(r) && !keep(r)) || (r == utf8.RuneError && !validAt(s, i)) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i]) // not UTF-8
		case unsafe(r) && !keep(r):
			escapeRune(&b, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// validAt reports whether the U+FFFD decoded at s[i:] is really there
// (three bytes), not a byte that is not UTF-8.
func validAt(s string, i int) bool {
	_, n := utf8.DecodeRuneInString(s[i:])
	return n == 3
}

func keepLines(r rune) bool { return r == '\n' || r == '\t' }

func keepNone(rune) bool { return false }

// Escape returns s with every character a terminal may act on, and every
// byte that is not UTF-8, written as an escape (\x1b, \r, \u202e, \xff).
// Newlines and tabs are kept; printable text is unchanged.
func Escape(s string) string { return escape(s, keepLines) }

// Line is Escape for a one-line field: newlines and tabs are escaped too.
func Line(s string) string { return escape(s, keepNone) }

// NewWriter returns a writer that escapes, as Escape does, what passes
// through it to w. A character split across two writes is escaped whole: an
// incomplete UTF-8 sequence at the end of a write is held back until the
// next write or Close, which writes what is held and does not close w.
func NewWriter(w io.Writer) io.WriteCloser { return &writer{w: w} }

type writer struct {
	w    io.Writer
	held []byte
}

func (e *writer) Write(p []byte) (int, error) {
	buf := append(e.held, p...)
	cut := len(buf)
	// Hold back a tail that may be the start of a longer sequence.
	for k := 1; k <= utf8.UTFMax-1 && k <= len(buf); k++ {
		if utf8.RuneStart(buf[len(buf)-k]) {
			if !utf8.FullRune(buf[len(buf)-k:]) {
				cut = len(buf) - k
			}
			break
		}
	}
	e.held = append([]byte(nil), buf[cut:]...)
	if _, err := io.WriteString(e.w, Escape(string(buf[:cut]))); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (e *writer) Close() error {
	if len(e.held) == 0 {
		return nil
	}
	_, err := io.WriteString(e.w, Escape(string(e.held)))
	e.held = nil
	return err
}

// JSON rewrites encoded JSON so that the characters a terminal may act on,
// which encoding/json leaves raw (DEL, the C1 controls, the format
// characters), are \u escapes too: the decoded values are exactly the same,
// and the text is safe to print. Outside strings JSON holds none of them.
func JSON(b []byte) []byte {
	if !bytes.ContainsFunc(b, func(r rune) bool { return unsafe(r) && r != '\n' && r != '\t' && r != ' ' }) {
		return b
	}
	var out bytes.Buffer
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if unsafe(r) && r != '\n' && r != '\t' {
			if r > 0xffff {
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(&out, `\u%04x\u%04x`, hi, lo)
			} else {
				fmt.Fprintf(&out, `\u%04x`, r)
			}
		} else {
			out.Write(b[i : i+n])
		}
		i += n
	}
	return out.Bytes()
}
