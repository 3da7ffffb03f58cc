package parts

import (
	"strings"
	"testing"
)

func TestPartCutter(t *testing.T) {
	cases := []struct {
		name   string
		size   int64
		pieces []int64
		want   string // per piece: "." same part, "|" a new part; "!" an error
	}{
		{"all fit", 10, []int64{3, 3, 4}, "..."},
		{"exact fit then cut", 10, []int64{10, 1}, ".|"},
		{"cut before the piece that overflows", 10, []int64{6, 5, 5, 1}, ".|.|"},
		{"a piece as large as a part", 10, []int64{1, 10, 10}, ".||"},
		{"empty pieces never cut", 10, []int64{10, 0, 0}, "..."},
		{"a piece larger than a part", 10, []int64{3, 11}, ".!"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cut := NewCutter(c.size)
			var got strings.Builder
			for _, n := range c.pieces {
				next, err := cut.Add(n)
				switch {
				case err != nil:
					got.WriteByte('!')
				case next:
					got.WriteByte('|')
				default:
					got.WriteByte('.')
				}
				if err != nil {
					break
				}
			}
			if got.String() != c.want {
				t.Errorf("cuts %q, want %q", got.String(), c.want)
			}
		})
	}
}

func TestPartCutterMax(t *testing.T) {
	cut := NewCutter(1)
	for i := 1; i < Max; i++ {
		if next, err := cut.Add(1); err != nil || next != (i > 1) {
			t.Fatalf("piece %d: next %v, err %v", i, next, err)
		}
	}
	if _, err := cut.Add(1); err != nil {
		t.Fatalf("part %d: %v", Max, err)
	}
	if _, err := cut.Add(1); err == nil || !strings.Contains(err.Error(), "more than 999 parts") {
		t.Fatalf("part %d: err %v, want the part limit", Max+1, err)
	}
}
