package jsonvalid

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// shapes are values to learn a shape from: members of every kind, escapes
// and multi-word strings, numbers of every form, nesting, arrays (literal
// in a shape) and whitespace.
var shapes = []string{
	`{"id":1,"user":"user-000001","amount":"1.01","at":"2024-05-01T12:00:01.000Z","ok":true,"note":null}`,
	`{"a":-0,"b":1e5,"c":0.5,"d":-12.75E-3,"e":false,"f":""}`,
	`{"s":"tab\tnot here \u00e9 \" \\ \/ end","long":"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"}`,
	`{"n":{"m":{"k":"v","x":7},"arr":[1,"two",{"three":3}]},"z":[]}`,
	" { \"k\" : \"v\" ,\n\t\"n\" : 12 } \n",
	`{"k":"v"}`,
	`{"":0}`,
	`[{"a":1},{"a":2}]`,
	`"just a string"`,
	`12345`,
}

func TestShapeMatchesItsValue(t *testing.T) {
	for _, v := range shapes {
		var s Shape
		first := s.Valid([]byte(v))
		if again := s.Valid([]byte(v)); !first || !again || !matched(&s) {
			t.Errorf("shape of %q: Valid %v then %v, does not match the value it was built from", v, first, again)
		}
	}
}

// TestShapeEdits learns each shape, then checks values one byte away from
// it (a byte replaced, inserted or removed, at every position, with bytes
// that matter to the grammar), so that the slots of every kind meet
// digits, quotes, escapes and control bytes in every place. Verdicts must
// be encoding/json's, and some edits must match the shape (the fast path).
func TestShapeEdits(t *testing.T) {
	var repl []byte
	for c := 0; c <= 0x22; c++ {
		repl = append(repl, byte(c))
	}
	repl = append(repl, "0123456789-+.eE\\/untfal{}[]:,x\x7f\x80\xff"...)
	hits := 0
	for _, v := range shapes {
		for pos := 0; pos <= len(v); pos++ {
			for op := 0; op < 3; op++ {
				for _, c := range repl {
					if op == 2 && c != repl[0] {
						break // removing needs no byte
					}
					e := edit([]byte(v), pos, op, c)
					if e == nil {
						continue
					}
					var s Shape
					s.Valid([]byte(v))
					if got, want := s.Valid(e), json.Valid(e); got != want {
						t.Fatalf("after %q, Valid(%q) = %v, want %v (encoding/json)", v, e, got, want)
					}
					if matched(&s) {
						hits++
					}
				}
			}
		}
	}
	if hits == 0 {
		t.Fatal("no edit matched its shape: the fast path went untested")
	}
}

// matched says the last value s checked matched its shape: a value that
// did not counted a miss, and a Shape's first value is one.
func matched(s *Shape) bool { return s.ok && s.misses == 0 }

// edit replaces (op 0), inserts before (op 1) or removes (op 2) the byte at
// pos; nil when there is none to replace or remove.
func edit(v []byte, pos, op int, c byte) []byte {
	if op != 1 && pos == len(v) {
		return nil
	}
	e := append([]byte(nil), v[:pos]...)
	switch op {
	case 0:
		e = append(e, c)
		return append(e, v[pos+1:]...)
	case 1:
		e = append(e, c)
		return append(e, v[pos:]...)
	}
	return append(e, v[pos+1:]...)
}

// TestShapeValues checks the cases and the records of the benchmark, in
// order, through one Shape, and each case after each shape.
func TestShapeValues(t *testing.T) {
	var s Shape
	vs := append(records(1000), bytesOf(cases)...)
	for _, p := range []string{"AB", "AAB", "AABB"} {
		vs = append(vs, interleaved(p)...)
	}
	for _, v := range vs {
		if got, want := s.Valid(v), json.Valid(v); got != want {
			t.Fatalf("Valid(%q) = %v, want %v (encoding/json)", v, got, want)
		}
	}
	for _, v := range shapes {
		for _, c := range cases {
			var s Shape
			s.Valid([]byte(v))
			if got, want := s.Valid([]byte(c)), json.Valid([]byte(c)); got != want {
				t.Errorf("after %q, Valid(%q) = %v, want %v (encoding/json)", v, c, got, want)
			}
		}
	}
}

// TestShapeBacksOff feeds values whose shapes keep changing: after 4 of
// them Shape stops trying, for longer each time while it has not matched
// enough to pay for the misses; once it has, the next back-off is short
// again.
func TestShapeBacksOff(t *testing.T) {
	var s Shape
	a := []byte(`{"a":1}`)
	newShapes := func(prefix string) {
		t.Helper()
		for i := range 4 {
			if !s.Valid(fmt.Appendf(nil, `{"%s%d":1}`, prefix, i)) {
				t.Fatal("valid value not valid")
			}
		}
	}
	newShapes("k")
	if s.skip != minBackoff {
		t.Fatalf("after 4 values of new shapes, skip = %d, want %d", s.skip, minBackoff)
	}
	for range minBackoff {
		s.Valid(a)
	}
	if s.skip != 0 {
		t.Fatalf("skip = %d after skipping %d values, want 0", s.skip, minBackoff)
	}
	newShapes("j")
	if s.skip != 2*minBackoff {
		t.Fatalf("second back-off: skip = %d, want %d", s.skip, 2*minBackoff)
	}
	s.skip = 0
	for range maxDebt + 2 {
		s.Valid(a) // two misses (the second builds a's shape), then matches
	}
	if s.debt != 0 || s.backoff != 0 {
		t.Fatalf("after matches: debt %d, backoff %d, want 0 and 0", s.debt, s.backoff)
	}
	newShapes("i")
	if s.skip != minBackoff {
		t.Fatalf("back-off after the debt was paid: skip = %d, want %d", s.skip, minBackoff)
	}
}

// TestShapeKeepsShapeForOneOther: one value of another shape among values
// of one shape does not replace it; two in a row do.
func TestShapeKeepsShapeForOneOther(t *testing.T) {
	var s Shape
	a, b := []byte(`{"a":1}`), []byte(`{"b":"x"}`)
	for _, v := range [][]byte{a, a, b} {
		s.Valid(v)
	}
	if s.Valid(a); !matched(&s) {
		t.Fatal("a value of the shape after one of another shape did not match")
	}
	s.Valid(b)
	s.Valid(b)
	if s.Valid(b); !matched(&s) {
		t.Fatal("the third of a new shape in a row did not match: the shape did not change")
	}
}

// TestShapeTooBig checks a value with more literal bytes than maxSegs
// holds gets no shape, and still its verdict.
func TestShapeTooBig(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range maxSegs {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	b.WriteString(`"end":0}`)
	var s Shape
	if !s.Valid([]byte(b.String())) || s.ok {
		t.Fatalf("too big a value: Valid false or ok %v, want true and false", s.ok)
	}
	if !s.Valid([]byte(`{"k":1}`)) || !s.ok {
		t.Fatal("a small value after a too big one has no shape")
	}
}

func TestShapeAllocatesNothing(t *testing.T) {
	vs := records(100)
	var s Shape
	s.Valid(vs[0])
	i := 0
	if n := testing.AllocsPerRun(1000, func() { s.Valid(vs[i%len(vs)]); i++ }); n != 0 {
		t.Errorf("Shape.Valid allocated %v times per run, want 0", n)
	}
}

// FuzzShape learns a's shape and checks b, then a again: any pair must get
// encoding/json's verdicts.
func FuzzShape(f *testing.F) {
	for _, v := range shapes {
		for _, c := range append(fuzzSeeds(), shapes...) {
			f.Add([]byte(v), []byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var s Shape
		for _, v := range [][]byte{a, b, a} {
			if got, want := s.Valid(v), json.Valid(v); got != want {
				t.Fatalf("Valid(%q) after %q = %v, want %v (encoding/json)", v, a, got, want)
			}
		}
	})
}

// FuzzShapeEdit learns v's shape and checks v with one byte replaced,
// inserted or removed: values close to a shape are where a wrong match
// would hide.
func FuzzShapeEdit(f *testing.F) {
	for _, v := range shapes {
		for pos := 0; pos < len(v); pos += 3 {
			f.Add([]byte(v), uint16(pos), uint8(pos%3), byte(`"\0-x`[pos%5]))
		}
	}
	f.Fuzz(func(t *testing.T, v []byte, pos uint16, op uint8, c byte) {
		e := edit(v, int(pos)%(len(v)+1), int(op%3), c)
		if e == nil {
			return
		}
		var s Shape
		s.Valid(v)
		if got, want := s.Valid(e), json.Valid(e); got != want {
			t.Fatalf("after %q, Valid(%q) = %v, want %v (encoding/json)", v, e, got, want)
		}
	})
}

func BenchmarkShapeRecords(b *testing.B) {
	vs := records(1000)
	n := 0
	for _, v := range vs {
		n += len(v)
	}
	b.SetBytes(int64(n / len(vs)))
	var s Shape
	for i := 0; b.Loop(); i++ {
		if !s.Valid(vs[i%len(vs)]) {
			b.Fatal("not valid")
		}
	}
}

// BenchmarkShapeInterleaved has two shapes, two values of one for each of
// the other; Valid takes about as long as in BenchmarkValidRecords.
func BenchmarkShapeInterleaved(b *testing.B) {
	vs := interleaved("AAB")
	var s Shape
	for i := 0; b.Loop(); i++ {
		if !s.Valid(vs[i%len(vs)]) {
			b.Fatal("not valid")
		}
	}
}

// interleaved makes values of two shapes, A and B, in the order pattern
// repeats.
func interleaved(pattern string) [][]byte {
	vs := make([][]byte, 999)
	for i := range vs {
		if pattern[i%len(pattern)] == 'A' {
			vs[i] = fmt.Appendf(nil, `{"id":%d,"user":"user-%06d","amount":"%d.%02d","at":"2024-05-01T12:%02d:%02d.000Z","ok":true,"note":null}`, i, i, i, i%100, i/60%60, i%60)
		} else {
			vs[i] = fmt.Appendf(nil, `{"id":%d,"kind":"refund","amount":"%d.%02d","at":"2024-05-01T12:%02d:%02d.000Z","reason":"late"}`, i, i, i%100, i/60%60, i%60)
		}
	}
	return vs
}

// BenchmarkShapeMixed is the worst case: every value a new shape.
func BenchmarkShapeMixed(b *testing.B) {
	vs := make([][]byte, 1000)
	for i := range vs {
		vs[i] = fmt.Appendf(nil, `{"id%d":%d,"user":"user-%06d","amount":"%d.%02d","at":"2024-05-01T12:%02d:%02d.000Z","ok":%t,"note":null}`,
			i, i*7919, i, i, i%100, i/60%60, i%60, i%3 != 0)
	}
	var s Shape
	for i := 0; b.Loop(); i++ {
		if !s.Valid(vs[i%len(vs)]) {
			b.Fatal("not valid")
		}
	}
}

func bytesOf(ss []string) [][]byte {
	bs := make([][]byte, len(ss))
	for i, s := range ss {
		bs[i] = []byte(s)
	}
	return bs
}
