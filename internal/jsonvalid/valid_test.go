package jsonvalid

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// cases are edge cases of the grammar; each is checked against
// encoding/json.Valid, which is the verdict Valid must give.
var cases = []string{
	``, ` `, `null`, ` null `, "\t\r\n1\n", `nul`, `nulll`, `true`, `tru`, `false`, `falsе`, `True`,
	`0`, `-0`, `-`, `01`, `-01`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1e5`, `1E-5`, `1.5e+10`, `1ee5`, `+1`, `1 2`,
	`""`, `"`, `"abc`, `"a\"b"`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\x"`, `"\u00e9"`, `"\u00G0"`, `"\u12"`, `"\`,
	"\"a\tb\"", "\"a\x00\"", "\"\x7f\"", "\"\xff\xfe\"", "\"é\"",
	`[]`, `[ ]`, `[1]`, `[1,]`, `[,1]`, `[1 2]`, `[1,2]`, `[`, `]`, `[[[]]]`, `[[]`, `[]]`,
	`{}`, `{ }`, `{"a":1}`, `{"a" : 1 , "b":[2]}`, `{"a"}`, `{"a":}`, `{a:1}`, `{"a":1,}`, `{,}`, `{"a":1 "b":2}`,
	`{"a":1]`, `[1}`, `{"a":{"b":{}}}`, `{1:2}`, `{"a":1}}`, `{"a":1}x`, `[true,false,null]`, `[truefalse]`,
	`{"id":1,"user":"user-000001","amount":"1.01","at":"2024-05-01T12:00:01.000Z","ok":true,"note":null}`,
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, c := range cases {
		if got, want := Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("Valid(%q) = %v, want %v (encoding/json)", c, got, want)
		}
	}
}

// TestValidDepth checks the nesting limit is encoding/json's: 10000 deep
// is valid, 10001 is not.
func TestValidDepth(t *testing.T) {
	for _, n := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
		for _, open := range []string{"[", `{"k":`} {
			close := "]"
			if open != "[" {
				close = "}"
			}
			b := []byte(strings.Repeat(open, n) + "0" + strings.Repeat(close, n))
			if got, want := Valid(b), json.Valid(b); got != want {
				t.Errorf("%d deep %s: Valid = %v, want %v", n, open, got, want)
			}
		}
	}
}

func TestValidAllocatesNothing(t *testing.T) {
	b := []byte(cases[len(cases)-1])
	if n := testing.AllocsPerRun(100, func() { Valid(b) }); n != 0 {
		t.Errorf("Valid allocated %v times per run, want 0", n)
	}
}

// FuzzValid holds Valid to encoding/json.Valid's verdict on any input.
func FuzzValid(f *testing.F) {
	for _, c := range fuzzSeeds() {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, want %v (encoding/json)", b, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	v := []byte(cases[len(cases)-1])
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		Valid(v)
	}
}

func BenchmarkEncodingJSONValid(b *testing.B) {
	v := []byte(cases[len(cases)-1])
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		json.Valid(v)
	}
}

// TestValidStringPositions puts each byte the string loop must look at (a
// quote, a backslash, escapes, control characters, and bytes next to them
// in value) at every position of strings long enough to span several
// words, as a key and as a value, and checks the verdict is
// encoding/json's: the eight-byte loop must find the first such byte
// wherever it falls in a word.
func TestValidStringPositions(t *testing.T) {
	specials := []string{`"`, `\`, `\"`, `\\`, `\n`, `\u00e9`, `\u00`, `\x`, "\x00", "\x1f", "\x20", "\x21", "\x23", "\x5b", "\x5d", "\x7f", "\x80", "\xff"}
	for n := 0; n < 20; n++ {
		for pos := 0; pos <= n; pos++ {
			for _, sp := range specials {
				s := strings.Repeat("a", pos) + sp + strings.Repeat("b", n-pos)
				for _, doc := range []string{`"` + s + `"`, `{"` + s + `":1}`, `["` + s + `",2]`, `{"k":"` + s + `"}`} {
					if got, want := Valid([]byte(doc)), json.Valid([]byte(doc)); got != want {
						t.Errorf("Valid(%q) = %v, want %v (encoding/json)", doc, got, want)
					}
				}
			}
		}
	}
}

// BenchmarkValidRecords checks 1000 different records of the shape the
// consume benchmark produces (~100 B, short keys and strings), so branch
// history cannot learn a single value.
func BenchmarkValidRecords(b *testing.B) {
	vs := records(1000)
	n := 0
	for _, v := range vs {
		n += len(v)
	}
	b.SetBytes(int64(n / len(vs)))
	for i := 0; b.Loop(); i++ {
		if !Valid(vs[i%len(vs)]) {
			b.Fatal("not valid")
		}
	}
}

// records are n different values of the shape the consume benchmark
// produces.
func records(n int) [][]byte {
	vs := make([][]byte, n)
	for i := range vs {
		vs[i] = fmt.Appendf(nil, `{"id":%d,"user":"user-%06d","amount":"%d.%02d","at":"2024-05-01T12:%02d:%02d.000Z","ok":%t,"note":null}`,
			i*7919, i, i, i%100, i/60%60, i%60, i%3 != 0)
	}
	return vs
}

// fuzzSeeds are the cases and tricky values for the fuzz targets' seed
// corpus: escapes and quotes at each place in a word, control bytes,
// nesting past maxDepth, numbers of every form and trailing garbage.
func fuzzSeeds() []string {
	s := append([]string(nil), cases...)
	for n := 0; n < 9; n++ {
		pad := strings.Repeat("a", n)
		s = append(s, `"`+pad+`\"\u00e9"`, `{"`+pad+`\"":1}`, `["`+pad+"\x01\"]", `"`+pad+`\\"`, `"`+pad+"\x1f\"", `"`+pad+`\`)
	}
	s = append(s,
		strings.Repeat("[", maxDepth)+strings.Repeat("]", maxDepth),
		strings.Repeat("[", maxDepth+1)+strings.Repeat("]", maxDepth+1),
		strings.Repeat(`{"a":`, 100)+"0"+strings.Repeat("}", 100),
		`-0`, `-0.0e-0`, `1e5`, `1E+5`, `01`, `-01`, `0e`, `1.e5`, `-`, `2.`, `1e5x`, `1e5 `, `[1e5,-0]`,
		`{"a":1} x`, `{"a":1}}`, `[1]]`, `null null`, `"a" "b"`, "{\"a\":1}\x00", `{"a":1}/`,
	)
	return s
}
