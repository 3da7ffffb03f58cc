package termtext

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ünïcødé 日本":              "plain text, ünïcødé 日本",
		"two\nlines\tand a tab":               "two\nlines\tand a tab",
		"\x1b[2J\x1b]0;pwn\x07":               `\x1b[2J\x1b]0;pwn\x07`,
		"over\rwrite\b":                       `over\rwrite\x08`,
		"del\x7f c1\u009b[31m nel\u0085":      `del\x7f c1\u009b[31m nel\u0085`,
		"rtl\u202eevil ls\u2028 zw\u200b":     `rtl\u202eevil ls\u2028 zw\u200b`,
		"bad \xff\xfe utf8, real \ufffd kept": `bad \xff\xfe utf8, real ` + "\ufffd" + ` kept`,
		"tag \U000E0001":                      `tag \U000e0001`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Line("a\nb\tc"); got != `a\nb\tc` {
		t.Errorf("Line kept a newline or tab: %q", got)
	}
}

// TestWriterSplitsRunes: a character split across writes is escaped whole,
// and a held tail is written on Close.
func TestWriterSplitsRunes(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	in := "a\u009bb\u202ec\x1bd日"
	for i := range len(in) {
		io.WriteString(w, in[i:i+1])
	}
	io.WriteString(w, "\xe6")
	w.Close()
	if want := `a\u009bb\u202ec\x1bd日\xe6`; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestJSONStaysExact(t *testing.T) {
	v := map[string]string{"error": "\x1b[2J \u009b31m \u202e \x7f \U000E0001 ok"}
	raw, _ := json.MarshalIndent(v, "", "  ")
	safe := JSON(raw)
	var back map[string]string
	if err := json.Unmarshal(safe, &back); err != nil || back["error"] != v["error"] {
		t.Fatalf("JSON changed the value: %q, %v", back["error"], err)
	}
	if strings.ContainsFunc(string(safe), func(r rune) bool { return unsafe(r) && r != '\n' }) {
		t.Errorf("JSON left a character a terminal acts on: %q", safe)
	}
}

// FuzzEscape: nothing Escape returns holds a character a terminal acts on
// but newline and tab, and it is valid UTF-8; text without such characters
// is returned as it is.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a\x1b[2Jb", "\xff", "\u009b", "\u202e", "日本\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Escape(%q) = %q is not UTF-8", s, out)
		}
		for _, r := range out {
			if unsafe(r) && r != '\n' && r != '\t' {
				t.Fatalf("Escape(%q) = %q holds U+%04X", s, out, r)
			}
		}
		if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return unsafe(r) && r != '\n' && r != '\t' }) && out != s {
			t.Fatalf("Escape changed safe text %q to %q", s, out)
		}
		var b bytes.Buffer
		w := NewWriter(&b)
		for i := 0; i < len(s); i += 3 {
			io.WriteString(w, s[i:min(i+3, len(s))])
		}
		w.Close()
		if b.String() != out {
			t.Fatalf("the writer gave %q, Escape %q", b.String(), out)
		}
	})
}
