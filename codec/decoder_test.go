package codec

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDecoderMatchesChain runs values through a Decoder and through its
// Chain: the text and the errors (with the byte they name) must be the
// same, for values of one shape, values one byte off it, other shapes and
// empty ones, and for chains other than "json".
func TestDecoderMatchesChain(t *testing.T) {
	var wires []string
	for i := range 20 {
		wires = append(wires, fmt.Sprintf(`{"id":%d,"user":"user-%06d","ok":%t,"note":null}`, i*37, i, i%2 == 0))
	}
	wires = append(wires,
		`{"id":01,"user":"user-000001","ok":true,"note":null}`,
		`{"id":1,"user":"user-0000"01","ok":true,"note":null}`,
		"{\"id\":1,\"user\":\"user-\x01\",\"ok\":true,\"note\":null}",
		`{"id":1,"user":"user-\q","ok":true,"note":null}`,
		`{"id":1,"user":"user-000001","ok":tru,"note":null}`,
		`{"id":1,"user":"user-000001","ok":true,"note":null}}`,
		`{"id":1,"user":"a\"b","ok":true,"note":null}`,
		`{"other":[1,2]}`, `{"other":[1,2,3]}`, ``, `null`, `[`,
	)
	for _, spec := range []string{"json", "raw", "hex", "json|binary"} {
		c := mustParse(t, spec)
		dec := c.NewDecoder()
		for _, w := range wires {
			wire := []byte(w)
			if spec == "json|binary" {
				wire = []byte(b64(w))
			}
			got, gotErr := dec.Decode(wire)
			want, wantErr := c.Decode(wire)
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s: Decode(%q) mismatch (-chain +decoder):\n%s", spec, w, diff)
			}
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Errorf("%s: Decode(%q) error %v, want the chain's %v", spec, w, gotErr, wantErr)
			}
		}
	}
}

func TestDecoderDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	dec := mustParse(t, "json").NewDecoder()
	in := []byte(`{"a":[1,2,{"b":"c"}],"d":"e"}`)
	dec.Decode(in) // learns the shape
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := dec.Decode(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("json Decoder.Decode allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkDecoderJSON(b *testing.B) {
	dec := mustParse(b, "json").NewDecoder()
	wire := []byte(benchDoc)
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dec.Decode(wire); err != nil {
			b.Fatal(err)
		}
	}
}
