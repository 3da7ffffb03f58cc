package manifest

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
)

// bigList is an image list of at least size bytes, each image distinct.
func bigList(size int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "registry.factory.example/library/image-%06d:1.0\n", i)
	}
	return []byte(b.String())
}

// listStack names each of lists as an image list of one component.
func listStack(lists ...string) []byte {
	var b strings.Builder
	b.WriteString(stack("  components:\n    - name: core\n      images:\n"))
	for _, l := range lists {
		fmt.Fprintf(&b, "        - list: %s\n", l)
	}
	return []byte(b.String())
}

// parseAlloc parses data in fsys and returns the bytes the parse
// allocated and its error.
func parseAlloc(t *testing.T, fsys fstest.MapFS, data []byte) (uint64, error) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ParseFS(fsys, "m.yaml", data)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, err
}

// TestImageListNamedManyTimes: a 3 MiB image list named ten times (also
// as "./images/list.txt") is read once, and the repeats are one error each,
// not one per image: the parse allocates about what reading the list once
// does, and the error text stays short. It used to parse the list ten
// times and report every image of nine of them, hundreds of megabytes.
func TestImageListNamedManyTimes(t *testing.T) {
	fsys := fstest.MapFS{"images/list.txt": {Data: bigList(3 << 20)}}
	once, _ := parseAlloc(t, fsys, listStack("images/list.txt"))
	names := []string{"images/list.txt"}
	for i := range 9 {
		names = append(names, []string{"./images/list.txt", "images/list.txt", "images//list.txt"}[i%3])
	}
	many, err := parseAlloc(t, fsys, listStack(names...))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("ParseFS = %v, want an ErrorList", err)
	}
	t.Logf("named once: %d MiB allocated; named ten times: %d MiB, %d errors, %d bytes of error text", once>>20, many>>20, len(list), len(err.Error()))
	if many > 2*once {
		t.Fatalf("naming the list ten times allocated %d bytes, more than twice the %d of naming it once", many, once)
	}
	if len(list) != 9 {
		t.Fatalf("%d errors, want one per repeated name (9):\n%.2000s", len(list), err)
	}
	for i, e := range list {
		if want := fmt.Sprintf("m.yaml:%d: image list images/list.txt is already named at m.yaml:8; name each list once", 9+i); !strings.HasPrefix(e.Error(), want) {
			t.Errorf("error %d is %q, want it to start %q", i, e, want)
		}
	}
}

// TestErrorsCapped: two lists holding the same 60,000 images make one
// duplicate per image; only MaxErrors are reported, then a count of the
// rest, and a megabyte-long value is not echoed whole.
func TestErrorsCapped(t *testing.T) {
	data := bigList(3 << 20)
	fsys := fstest.MapFS{"images/a.txt": {Data: data}, "images/b.txt": {Data: data}}
	alloc, err := parseAlloc(t, fsys, listStack("images/a.txt", "images/b.txt"))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("ParseFS = %v, want an ErrorList", err)
	}
	dups := strings.Count(string(data), "\n") // every image of b.txt
	t.Logf("%d duplicates: %d errors, %d bytes of error text, %d MiB allocated", dups, len(list), len(err.Error()), alloc>>20)
	if len(list) != MaxErrors+1 {
		t.Fatalf("%d errors listed, want the first %d and a count", len(list), MaxErrors)
	}
	last := list[len(list)-1].Error()
	if want := fmt.Sprintf("m.yaml: and %d more problems, not listed (only the first %d are); fix those above and run again", dups-MaxErrors, MaxErrors); last != want {
		t.Errorf("last line %q, want %q", last, want)
	}
	if !strings.HasPrefix(list[0].Error(), "images/b.txt:1: image registry.factory.example/library/image-000000:1.0 is listed twice") {
		t.Errorf("first error %q", list[0])
	}

	long := strings.Repeat("a", 1<<20) + ":1"
	_, err = ParseFS(fstest.MapFS{}, "m.yaml", []byte(stack("  components:\n    - name: core\n      images: [\""+long+"\", \""+long+"\"]\n")))
	if err == nil {
		t.Fatal("a megabyte-long image reference was accepted")
	}
	if n := len(err.Error()); n > 2000 {
		t.Errorf("error text of %d bytes for a 1 MiB value, want it clipped:\n%.300s", n, err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("...(%d bytes)", len(long))) {
		t.Errorf("error does not say how long the clipped value was:\n%.600s", err)
	}
}
