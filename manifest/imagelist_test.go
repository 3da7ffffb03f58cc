package manifest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseImageList(t *testing.T) {
	in := "# header comment\nearly/image:1\n##k8s-images\n  kubesphere/pause:3.9  \n\n#comment\n## kubesphere-images \nkubesphere/ks-installer:v3.4.1\r\n"
	got, err := ParseImageList(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []ListedImage{
		{Ref: "early/image:1", Section: "", Line: 2},
		{Ref: "kubesphere/pause:3.9", Section: "k8s-images", Line: 4},
		{Ref: "kubesphere/ks-installer:v3.4.1", Section: "kubesphere-images", Line: 8},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestParseImageListErrors(t *testing.T) {
	tests := []struct {
		in   string
		line int
		msg  string
	}{
		{"a/b:1\nc/d:1 e/f:1\n", 2, "more than one word"},
		{"a/b:1\n" + strings.Repeat("x", 5000) + "\n", 2, "token too long"},
	}
	for _, tt := range tests {
		_, err := ParseImageList(strings.NewReader(tt.in))
		var le *ListError
		if !errors.As(err, &le) || le.Line != tt.line || !strings.Contains(le.Msg, tt.msg) {
			t.Errorf("ParseImageList: %v; want line %d %q", err, tt.line, tt.msg)
		}
	}
}
