package inventory

import (
	_ "embed"
	"reflect"
	"strings"
)

// Example is a commented inventory of a site with three masters behind a
// VIP, two workers (one also the registry host) and every optional field
// shown, commented out, with its default or an example value. It loads as
// it is (TestExampleLoads); `deploy inventory --example` prints it.
//
//go:embed example.yaml
var Example []byte

// FieldPaths lists every field an inventory file may have, as paths
// ("hosts[].address", "ssh.jumpHost.port"), in the order of the types.
func FieldPaths() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			p := prefix + name
			out = append(out, p)
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft.Kind() == reflect.Struct:
				walk(ft, p+".")
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), p+"[].")
			}
		}
	}
	walk(reflect.TypeOf(Inventory{}), "")
	return out
}
