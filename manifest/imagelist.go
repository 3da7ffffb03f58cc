package manifest

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ListedImage is one reference read from an image list file.
type ListedImage struct {
	Ref     string
	Section string // the most recent "##section" line, or ""
	Line    int
}

// ListError is a malformed line of an image list file.
type ListError struct {
	Line int
	Msg  string
}

func (e *ListError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ParseImageList reads KubeSphere's images-list.txt format: one image
// reference per line, "##name" lines that start a section, "#" comment lines
// and blank lines. Surrounding spaces are ignored. A line holding anything
// other than one token is an error; references are returned as written and
// are not validated here (see ParseImageRef). Lines longer than 4 KiB are
// refused. It stops at the first read error and returns it.
func ParseImageList(r io.Reader) ([]ListedImage, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	var out []ListedImage
	section := ""
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "":
		case strings.HasPrefix(text, "##"):
			section = strings.TrimSpace(strings.TrimPrefix(text, "##"))
		case strings.HasPrefix(text, "#"):
		case strings.ContainsAny(text, " \t"):
			return out, &ListError{Line: line, Msg: fmt.Sprintf("%q holds more than one word; write one image reference per line", text)}
		default:
			out = append(out, ListedImage{Ref: text, Section: section, Line: line})
		}
	}
	if err := sc.Err(); err != nil {
		return out, &ListError{Line: line + 1, Msg: err.Error()}
	}
	return out, nil
}
