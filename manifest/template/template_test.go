package template

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/factory-appliance/appliance/manifest"
)

// TestRenderBoundsTheWork: templates that would spin or take gigabytes
// (issue 18: a range over 1e11, a string doubled in a loop, exponential
// template calls, huge printf widths) stop quickly with a
// *LimitError naming the file, the line and the limit.
func TestRenderBoundsTheWork(t *testing.T) {
	for _, c := range []struct {
		name, src, where, limit string
	}{
		{"range literal", "a\n{{range 100000000000}}{{end}}", "big.yaml:2:", "MaxTemplateRange"},
		{"range variable", "{{$n := 100000000000}}\n\n{{range $n}}{{end}}", "big.yaml:3:", "MaxTemplateRange"},
		{"range through a function", `{{range required "x" 100000000000}}{{end}}`, "big.yaml:1:", "MaxTemplateRange"},
		{"nested ranges", "{{range 10000}}{{range 10000}}\n{{range 10000}}{{end}}{{end}}{{end}}", "big.yaml:", "MaxTemplateSteps"},
		{"doubling", `{{$x := "0123456789"}}{{range 40}}{{$x = print $x $x}}{{end}}{{len $x}}`, "big.yaml:1:", "MaxTemplateString"},
		{"doubling printf", `{{$x := "0123456789"}}{{range 40}}{{$x = printf "%s%s" $x $x}}{{end}}`, "big.yaml:1:", "MaxTemplateString"},
		{"many copies", `{{$x := "0123456789abcdef"}}{{range 17}}{{$x = print $x $x}}{{end}}` + "\n" + `{{range 10000}}{{$y := print $x}}{{end}}`, "big.yaml:2:", "MaxTemplateBytes"},
		{"indent", `{{indent 100000000000 "x"}}`, "big.yaml:1:", "MaxTemplateString"},
		{"indent lines", `{{$x := "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n"}}{{range 16}}{{$x = print $x $x}}{{end}}{{indent 1000 $x}}`, "big.yaml:1:", "MaxTemplateString"},
		{"printf width", `{{printf "%1000000000d" 1}}`, "big.yaml:1:", "printf widths"},
		{"printf star", `{{printf "%*d" 1000000000 1}}`, "big.yaml:1:", "printf widths"},
		{"printf precision", `{{printf "%.1000000000f" 1.0}}`, "big.yaml:1:", "printf widths"},
		{"exponential calls", `{{define "r"}}{{if .}}{{template "r" (slice . 1)}}{{template "r" (slice . 1)}}{{end}}{{end}}` + "\n" +
			`{{template "r" "0123456789012345678901234567890123456789"}}`, "big.yaml:1:", "MaxTemplateSteps"},
		{"reserved name", `{{rangeLimit "x" -1000000 1}}`, "big.yaml:1:", "reserved names"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := Render("big.yaml", []byte(c.src), SampleData(nil))
			took := time.Since(start)
			var le *LimitError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), c.where) || !strings.Contains(err.Error(), c.limit) {
				t.Fatalf("Render: %v; want a *LimitError at %s naming %s", err, c.where, c.limit)
			}
			if le.File != "big.yaml" {
				t.Errorf("the error names file %q, want big.yaml", le.File)
			}
			// The work limits stop it long before the deadline (1 s at
			// most here, a few under the race detector).
			if took >= RenderTimeout {
				t.Errorf("took %v to stop: only the deadline stopped it", took)
			}
		})
	}
}

// TestRenderWithinBounds: templates doing what stacks do render as before.
func TestRenderWithinBounds(t *testing.T) {
	data := SampleData(nil)
	for src, want := range map[string]string{
		`{{range $i, $m := .Storage.Ceph.Monitors}}{{$i}}={{$m}};{{end}}`: "0=192.0.2.21:6789;1=192.0.2.22:6789;2=192.0.2.23:6789;",
		`{{range 3}}{{.}}{{end}}`:               "012",
		`{{printf "%5d|%-4s|%.2f" 7 "ab" 1.5}}`: "    7|ab  |1.50",
		`{{define "m"}}[{{.}}]{{end}}{{range .Storage.Ceph.Monitors}}{{template "m" .}}{{end}}`: "[192.0.2.21:6789][192.0.2.22:6789][192.0.2.23:6789]",
		`{{block "b" .Site.Registry}}<{{.}}>{{end}}`:                                            "<harbor.site.example>",
		`{{indent 2 "a\nb"}} {{upper "x"}} {{join "," .Storage.Ceph.Monitors | len}}`:           "  a\n  b X 47",
		`{{print 1 "a" true}} {{html "<a>"}} {{js "'"}} {{urlquery "a b"}} {{println "x"}}`:     "1atrue &lt;a&gt; \\' a+b x\n",
		`{{range 10000}}{{end}}done`: "done",
	} {
		got, err := Render("ok.yaml", []byte(src), data)
		if err != nil || string(got) != want {
			t.Errorf("Render(%q) = %q, %v; want %q", src, got, err, want)
		}
	}
}

// FuzzRender: no template of at most a few KiB makes Render run long or
// panic; it renders, fails, or stops at a limit.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		`{{range 100000000000}}{{end}}`,
		`{{$x := "ab"}}{{range 40}}{{$x = print $x $x}}{{end}}`,
		`{{define "r"}}{{if .}}{{template "r" (slice . 1)}}{{template "r" (slice . 1)}}{{end}}{{end}}{{template "r" "0123456789012345678901234567890"}}`,
		`{{range .Storage.Ceph.Monitors}}{{printf "%5s" .}}{{end}}`,
		`{{indent 4 (join "\n" .Storage.Ceph.Monitors)}}`,
	} {
		f.Add(s)
	}
	data := SampleData(nil)
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4096 {
			return
		}
		start := time.Now()
		out, err := Render("fuzz", []byte(src), data)
		if took := time.Since(start); took > RenderTimeout+time.Second {
			t.Fatalf("Render took %v", took)
		}
		if err == nil && len(out) > manifest.MaxManifestSize {
			t.Fatalf("output of %d bytes", len(out))
		}
	})
}

// TestQuote: quote's literal is what YAML and JSON both read back, for the
// inputs that broke the old one (issue 18: a newline became a space, byte
// 0x85 made the file unparseable).
func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            `"plain"`,
		`a"b\c`:            `"a\"b\\c"`,
		"a\nb":             `"a\nb"`,
		"tab\tcr\r":        `"tab\tcr\r"`,
		"\x85":             "\"\ufffd\"",
		"nel\u0085":        `"nel\u0085"`,
		"esc\x1b[2J":       `"esc\u001b[2J"`,
		"ls\u2028ps\u2029": `"ls\u2028ps\u2029"`,
		"bom\ufeff":        `"bom\ufeff"`,
		"del\x7f":          `"del\u007f"`,
		"ünïcødé 日本":       `"ünïcødé 日本"`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
		checkQuoteRoundTrip(t, in)
	}
}

// FuzzQuote: for every input, quote's literal parses as YAML (alone, in a
// block mapping and in a flow mapping) and as JSON, back to the input (a
// byte that is not UTF-8 read as U+FFFD).
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\x85", "\u0085", "\u2028", "\"\\", "\x00\x1f\x7f\x9f", "\ufeff\ufffe\uffff", "#: -[]{},&*!|>'%@`", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkQuoteRoundTrip(t, s) })
}

func checkQuoteRoundTrip(t *testing.T, s string) {
	t.Helper()
	want := string([]rune(s))
	q := quote(s)
	var js string
	if err := json.Unmarshal([]byte(q), &js); err != nil || js != want {
		t.Fatalf("JSON reads quote(%q) = %s as %q, %v", s, q, js, err)
	}
	for _, doc := range []string{q, "v: " + q + "\n", "{v: " + q + ", w: 1}", "- " + q + "\n- x\n"} {
		var v any
		if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatalf("YAML does not parse %q: %v", doc, err)
		}
		var got any
		switch x := v.(type) {
		case string:
			got = x
		case map[string]any:
			got = x["v"]
		case []any:
			got = x[0]
		}
		if got != want {
			t.Fatalf("YAML reads %q as %q, want %q", doc, got, want)
		}
	}
}

func TestTemplateStrict(t *testing.T) {
	tmpl, err := New("x").Parse("{{ .Site.VIP }} {{ quote .Name }} {{ indent 2 .Body }}")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	data := map[string]any{"Site": map[string]any{"VIP": "10.0.0.10"}, "Name": `a"b`, "Body": "x\ny"}
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	if want := `10.0.0.10 "a\"b"   x` + "\n  y"; b.String() != want {
		t.Errorf("rendered %q, want %q", b.String(), want)
	}
	if err := tmpl.Execute(&b, map[string]any{"Site": map[string]any{}}); err == nil {
		t.Error("a missing key rendered without error")
	}
}
