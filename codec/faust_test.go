package codec

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStripFaustMeta(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"top level", `{"id":1,"__faust":{"ns":"shop.Order"}}`, `{"id":1}`},
		{"nested in objects and lists", `{"a":{"x":1,"__faust":{"ns":"m.A"}},"l":[{"__faust":{"ns":"m.B"},"y":2}],"__faust":{"ns":"m.C"}}`, `{"a":{"x":1},"l":[{"y":2}]}`},
		{"unchanged input keeps its bytes", "{ \"id\" : 1,\n \"name\": \"\\u00e9\" }", "{ \"id\" : 1,\n \"name\": \"\\u00e9\" }"},
		{"untouched values keep their bytes", `{"__faust":{"ns":"m"}, "n": 1.50, "s": "\u00e9"}`, `{"n":1.50,"s":"\u00e9"}`},
		{"a string mentioning __faust is not a key", `{"note":"__faust"}`, `{"note":"__faust"}`},
		{"not an object", `[1,2]`, `[1,2]`},
		{"scalar", `"__faust"`, `"__faust"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := StripFaustMeta([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("StripFaustMeta mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := StripFaustMeta([]byte(`{"a":`)); err == nil || !strings.Contains(err.Error(), "invalid json") {
		t.Errorf("got %v, want an invalid json error", err)
	}
}

func TestAddFaustMeta(t *testing.T) {
	tests := []struct {
		name, in, ns, want string
	}{
		{"adds last like faust", `{"id":1}`, "shop.Order", `{"id":1,"__faust":{"ns":"shop.Order"}}`},
		{"empty object", ` {} `, "m.E", `{"__faust":{"ns":"m.E"}}`},
		{"replaces", `{"__faust":{"ns":"old"},"id":1}`, "new", `{"id":1,"__faust":{"ns":"new"}}`},
		{"leaves nested metadata", `{"a":{"__faust":{"ns":"m.A"}}}`, "m.B", `{"a":{"__faust":{"ns":"m.A"}},"__faust":{"ns":"m.B"}}`},
		{"keeps formatting", "{\n  \"id\": 1\n}\n", "m", "{\n  \"id\": 1\n,\"__faust\":{\"ns\":\"m\"}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AddFaustMeta([]byte(tt.in), tt.ns)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("AddFaustMeta mismatch (-want +got):\n%s", diff)
			}
		})
	}
	for _, in := range []string{`[1]`, `"s"`, `{`} {
		if _, err := AddFaustMeta([]byte(in), "m"); err == nil {
			t.Errorf("AddFaustMeta(%s): got no error", in)
		}
	}
}
