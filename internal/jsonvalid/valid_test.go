package jsonvalid

import (
	"encoding/json"
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
	for _, c := range cases {
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
