package progress

import "testing"

func TestParseBytes(t *testing.T) {
	cases := map[string]int64{"2GiB": 2 << 30, "512MiB": 512 << 20, "10KiB": 10240, "1GB": 1e9, "4096": 4096, "7B": 7}
	for in, want := range cases {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "-1MiB", "1.5GiB", "0", "99999999999GiB"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) succeeded", bad)
		}
	}
}
