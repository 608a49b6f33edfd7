package filter

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseJSON answers as json.Unmarshal into an any does, valid or not.
func TestParseJSONAsEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"id":123456,"user":"user-123456","ok":true,"note":null}`,
		` { "a" : [ 1 , -2.5e3 , 0 , -0 , 1E+2, 0.001 ] , "b" : { } , "c" : [ ] } `,
		`"\u00e9\n\"\\\/\ud83d\ude00"`, `"caf\u00e9 ünï"`, "\"\xff\"", `{"a":1,"a":2}`,
		`[[[[]]]]`, `true`, `false`, `null`, `12`, `1e400`, `-`, `01`, `1.`, `.5`, `+1`, `1e`, `0x10`,
		`{"a":1,}`, `[1,]`, `{"a"}`, `{"a":1 "b":2}`, `"abc`, "\"a\tb\"", `nul`, `{} x`, ``, `   `,
		`{"k":"v\u0000"}`, `[1, 2, {"x": [true, null]}]`, `"\x"`,
	} {
		var want any
		wantErr := json.Unmarshal([]byte(in), &want)
		got, err := parseJSON([]byte(in))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%q: error %v, want %v", in, err, wantErr)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q (-encoding/json +parseJSON):\n%s", in, diff)
		}
	}
}

func FuzzParseJSON(f *testing.F) {
	f.Add(`{"a":[1,"x",null,{"b":false}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		var want any
		wantErr := json.Unmarshal([]byte(in), &want)
		got, err := parseJSON([]byte(in))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: error %v, want %v", in, err, wantErr)
		}
		if wantErr == nil && !cmp.Equal(want, got) {
			t.Fatalf("%q: %v, want %v", in, got, want)
		}
	})
}
