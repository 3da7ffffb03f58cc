package bundle

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestInspect(t *testing.T) {
	entries, images := standardEntries()
	file := writeBundle(t, entries, images, []byte("sig"))
	r := openBytes(t, file)
	s, err := Inspect(r)
	if err != nil {
		t.Fatal(err)
	}
	var shared, content int64
	for _, e := range entries {
		content += int64(len(e.data))
		if len(e.data) > 2*ChunkSize {
			shared = int64(len(e.data))
		}
	}
	if s.DedupSavedBytes != shared {
		t.Errorf("dedup saved %d bytes, want the shared layer's %d", s.DedupSavedBytes, shared)
	}
	if s.ContentBytes != content || s.Artifacts != len(entries) || s.Images != 2 || !s.Signed {
		t.Errorf("summary %+v", s)
	}
	if s.CompressedBytes != int64(len(file)) || s.Ratio <= 1 {
		t.Errorf("compressed %d (file %d), ratio %.3f", s.CompressedBytes, len(file), s.Ratio)
	}
	var text, js bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"test 1.0", "saved by dedup", "blob", "app"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Summary
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.DedupSavedBytes != s.DedupSavedBytes {
		t.Errorf("JSON summary does not round-trip: %v", err)
	}
}
