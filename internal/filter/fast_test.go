package filter

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/itchyny/gojq"
	"github.com/streamctl/streamctl/internal/envelope"
)

// testEnv is $ENV in the tests that compare with gojq.
var testEnv = map[string]string{"X": "x", "EMPTY": "", "N": "1", "=": "eq"}

// verdict is what a --where expression makes of a message.
type verdict int

const (
	vNoMatch verdict = iota
	vMatch
	vError
	vUnsure // the fast path handed the message to gojq
)

func (v verdict) String() string { return [...]string{"no match", "match", "error", "unsure"}[v] }

// gojqVerdict is the reference: gojq on the whole document, as Decoded
// runs it outside the fast path.
func gojqVerdict(t testing.TB, f *Filter, rec *envelope.Record) verdict {
	t.Helper()
	ok, err := f.run(f.wheres[0].code, Document(rec), rec)
	switch {
	case err != nil:
		return vError
	case ok:
		return vMatch
	}
	return vNoMatch
}

func fastVerdict(f *Filter, rec *envelope.Record) verdict {
	f.fc.reset(rec)
	v, st := f.wheres[0].fast.eval(&f.fc)
	switch {
	case st == stErr:
		return vError
	case st == stUnsure:
		return vUnsure
	case v.truthy():
		return vMatch
	}
	return vNoMatch
}

// checkSame fails unless the fast path, when expr is in it, gives gojq's
// verdict on rec. It reports whether expr is in the fast path.
func checkSame(t testing.TB, expr string, rec *envelope.Record) bool {
	t.Helper()
	f, err := New(nil, []string{expr}, testEnv)
	if err != nil {
		return false
	}
	if f.wheres[0].fast == nil {
		return false
	}
	want := gojqVerdict(t, f, rec)
	got := fastVerdict(f, rec)
	if got != vUnsure && got != want {
		t.Errorf("%s on value %q (json %v) key %q (json %v) headers %q: fast path %v, gojq %v",
			expr, rec.Value, rec.ValueJSON, rec.Key, rec.KeyJSON, rec.Headers, got, want)
	}
	// And Decoded as a whole agrees, error or not.
	ok, err := f.Decoded(rec)
	if d := verdictOf(ok, err); d != want {
		t.Errorf("%s on value %q: Decoded %v, gojq %v", expr, rec.Value, d, want)
	}
	return true
}

func verdictOf(ok bool, err error) verdict {
	switch {
	case err != nil:
		return vError
	case ok:
		return vMatch
	}
	return vNoMatch
}

func TestFastEdgeCases(t *testing.T) {
	rec := func(value string) *envelope.Record {
		return &envelope.Record{Topic: "orders", Partition: 2, Offset: 7, Timestamp: 1000, HasTimestamp: true,
			Key: []byte("k"), Value: []byte(value), ValueJSON: true,
			Headers: []envelope.Header{{Key: "h", Value: []byte("one")}, {Key: "h", Value: []byte("two")}, {Key: "n"}, {Key: "bin", Value: []byte{0xff}}}}
	}
	for _, tc := range []struct {
		where, value string
		want         verdict
	}{
		{`.value.a == 1`, `{"a":1.0}`, vMatch},                                     // 1 == 1.0
		{`.value.a == 1`, `{"a":1e0}`, vMatch},                                     //
		{`.value.a == 12345678901234567890`, `{"a":12345678901234567891}`, vMatch}, // both as float64
		{`.value.a < 1e1000`, `{"a":1e308}`, vMatch},                               // the literal is +Inf
		{`.value.a == 1`, `{"a":1,"b":1e400}`, vError},                             // not JSON to encoding/json: a string
		{`.value == "{\"a\":1,\"b\":1e400}"`, `{"a":1,"b":1e400}`, vMatch},         // ... which is the text
		{`.value.missing`, `{"a":1}`, vNoMatch},                                    // missing is null
		{`.value.missing.deeper == null`, `{"a":1}`, vMatch},                       // null.x is null
		{`.value.a.b`, `{"a":"s"}`, vError},                                        // indexing a string
		{`.value.a.b`, `{"a":[1]}`, vError},                                        // indexing an array with a name
		{`.value.a`, `[1]`, vError},                                                //
		{`.value.a`, `not json`, vError},                                           // a text value is a string
		{`.value == "not json"`, `not json`, vMatch},                               //
		{`.value.a == 2`, `{"a":1,"a":2}`, vMatch},                                 // the last duplicate wins
		{`.value.a.b == 1`, `{"a":{"b":1},"a":5}`, vError},                         //
		{`.value["a"] == 1`, `{"\u0061":1}`, vMatch},                               // keys compared decoded
		{`.value."a b" == "x"`, `{"a b":"x"}`, vMatch},                             //
		{`.value.s == "é"`, `{"s":"\u00e9"}`, vMatch},                              // strings compared decoded
		{`.value.s < "é"`, `{"s":"z"}`, vMatch},                                    // by codepoint
		{`.value.s > "\uffff"`, `{"s":"😀"}`, vMatch},                               //
		{`.value.x < false`, `{"x":null}`, vMatch},                                 // null < false < true < numbers < strings < arrays < objects
		{`.value.x < true`, `{"x":false}`, vMatch},                                 //
		{`.value.x < 0`, `{"x":true}`, vMatch},                                     //
		{`.value.x < ""`, `{"x":-1e300}`, vMatch},                                  //
		{`.value.x > "zzz"`, `{"x":[]}`, vMatch},                                   //
		{`.value.x > "zzz"`, `{"x":{}}`, vMatch},                                   //
		{`.value.x == .value.y`, `{"x":[1],"y":[1]}`, vMatch},                      // unsure: gojq decides
		{`.value.ok and .value.id >= 0`, `{"id":1,"ok":true}`, vMatch},             //
		{`.value.ok and .value.id.x`, `{"id":1,"ok":false}`, vNoMatch},             // and stops at false
		{`.value.ok or .value.id.x`, `{"id":1,"ok":false}`, vError},                //
		{`.value.ok or .value.id.x`, `{"id":1,"ok":1}`, vMatch},                    //
		{`.value.ok | not`, `{"ok":null}`, vMatch},                                 //
		{`(.value.ok | not) and .value.n == -3`, `{"ok":false,"n":-3}`, vMatch},
		{`.value.ok`, `{"ok":0}`, vMatch},           // jq's truth
		{`.value.ok`, `{"ok":""}`, vMatch},          //
		{`.value.ok`, `{"ok":false}`, vNoMatch},     //
		{`.value_encoding == "json"`, `{}`, vMatch}, //
		{`.value_encoding == null`, `x`, vMatch},    //
		{`.key == "k" and .key_encoding == null`, `{}`, vMatch},
		{`.partition == 2 and .offset == 7 and .topic == "orders" and .timestamp == 1000`, `{}`, vMatch},
		{`.topic.x`, `{}`, vError},
		{`header("h") == "one"`, `{}`, vMatch}, // the first value
		{`header("n") == null and header("none") == null`, `{}`, vMatch},
		{`header("bin") == "\u00ff"`, `{}`, vNoMatch}, // raw bytes, not decoded
		{`header("bin") > "a"`, `{}`, vMatch},
		{` .value .a == 1`, "\n {\"a\" : 1 } \n", vMatch},
		{`.value.a == $ENV.X and .value.b == $ENV.NONE`, `{"a":"x"}`, vMatch},
	} {
		r := rec(tc.value)
		f, err := New(nil, []string{tc.where}, testEnv)
		if err != nil {
			t.Fatalf("%s: %v", tc.where, err)
		}
		if f.wheres[0].fast == nil {
			t.Errorf("%s: not in the fast path", tc.where)
			continue
		}
		if got := gojqVerdict(t, f, r); got != tc.want {
			t.Errorf("%s on %s: gojq %v, the table says %v", tc.where, tc.value, got, tc.want)
		}
		checkSame(t, tc.where, r)
	}
}

func TestFastSubset(t *testing.T) {
	for _, tc := range []struct {
		where string
		fast  bool
	}{
		{`.value.ok and .value.id >= 0`, true}, // what scripts/bench.sh measures
		{`.value.a.b == "x" or .key != null`, true},
		{`.value["a"] | not`, true},
		{`-1 < .offset`, true},
		{`header("x")`, true},
		{`1 == 1`, false}, // constants: gojq
		{`true`, false},
		{`.value.tags[0]`, false},
		{`.value.a?`, false},
		{`.value | .a`, false},
		{`.headers[0].key`, false},
		{`.foo`, false},              // not a field of the document: gojq
		{`.value.a == $ENV.X`, true}, // a constant
		{`.value.a == $ENV["X"] and .value.b == $ENV.NONE`, true},
		{`$ENV.X == "1"`, false}, // two constants
		{`.value.a == $ENV`, false},
		{`.value.a == env.X`, false},
		{`.value.a == "\(.key)"`, false},
		{`.value.a | test("x")`, false},
		{`def f: .; f`, false},
	} {
		f, err := New(nil, []string{tc.where}, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.where, err)
		}
		if got := f.wheres[0].fast != nil; got != tc.fast {
			t.Errorf("%s: in the fast path %v, want %v", tc.where, got, tc.fast)
		}
	}
}

// TestFastErrorMessage: the first runtime error is gojq's, later ones are
// only counted.
func TestFastErrorMessage(t *testing.T) {
	f, err := New(nil, []string{`.value.a.b`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &envelope.Record{Topic: "t", Value: []byte(`{"a":"s"}`), ValueJSON: true}
	_, want := f.run(f.wheres[0].code, Document(rec), rec)
	if _, err := f.Decoded(rec); err == nil || err.Error() != want.Error() {
		t.Fatalf("first error %v, want gojq's %v", err, want)
	}
	if _, err := f.Decoded(rec); err == nil {
		t.Fatal("second message: no error")
	}
}

// gen makes random documents and expressions over the fast path's subset,
// leaning on the cases where it could go wrong.
type gen struct{ r *rand.Rand }

func (g gen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

var genKeys = []string{"a", "b", "ok", "id", "a b", "é"}

func (g gen) jsonValue(depth int) string {
	switch n := g.r.IntN(10); {
	case n == 0 && depth < 3:
		var b strings.Builder
		b.WriteString("{")
		for i := range g.r.IntN(4) {
			if i > 0 {
				b.WriteString(",")
			}
			k := g.pick(genKeys...)
			if k == "a" && g.r.IntN(3) == 0 {
				k = `\u0061` // the same key, escaped
			}
			fmt.Fprintf(&b, "%s\"%s\" : %s", g.pick("", " ", "\n"), k, g.jsonValue(depth+1))
		}
		b.WriteString("}")
		return b.String()
	case n == 1 && depth < 3:
		return "[" + g.jsonValue(depth+1) + "," + g.jsonValue(depth+1) + "]"
	case n <= 3:
		return g.pick("0", "1", "1.0", "-1", "1e0", "2", "-0", "1e400", "12345678901234567890", "12345678901234567891", "0.1", "1e-400", "9007199254740993")
	case n <= 6:
		return g.pick(`"x"`, `""`, `"\u00e9"`, `"é"`, `"z"`, `"\"q\\"`, `"\ud83d\ude00"`, `"a b"`, "\"\xff\"", `"\ud800"`)
	}
	return g.pick("null", "true", "false")
}

func (g gen) literal() string {
	if g.r.IntN(6) == 0 {
		return g.pick(`$ENV.X`, `$ENV.EMPTY`, `$ENV["N"]`, `$ENV.NONE`, `$ENV[""]`)
	}
	return g.pick("null", "true", "false", "0", "1", "1.0", "-1", "2", "1e1000", "-1e1000", "12345678901234567890",
		"9007199254740992", `"x"`, `""`, `"é"`, `"z"`, `"\"q\\"`, `"😀"`, `"a b"`, `"{}"`, `"json"`, `"one"`)
}

func (g gen) path() string {
	switch g.r.IntN(8) {
	case 0:
		return g.pick(".topic", ".partition", ".offset", ".timestamp", ".key_encoding", ".value_encoding", ".topic.x", ".partition.x")
	case 1:
		return g.pick(".key", `.key.a`, `.["key"]`)
	case 2:
		return g.pick(`header("h")`, `header("n")`, `header("none")`, `header("bin")`)
	}
	p := ".value"
	for range g.r.IntN(4) {
		k := g.pick(genKeys...)
		if k == "a b" || k == "é" || g.r.IntN(4) == 0 {
			p += fmt.Sprintf(`["%s"]`, k)
		} else {
			p += "." + k
		}
	}
	return p
}

func (g gen) expr(depth int) string {
	switch n := g.r.IntN(10); {
	case n < 2 && depth < 3:
		return g.expr(depth+1) + g.pick(" and ", " or ") + g.expr(depth+1)
	case n == 2 && depth < 3:
		return "(" + g.expr(depth+1) + " | not)"
	case n == 3:
		return g.path()
	case n == 4:
		return g.path() + g.pick(" == ", " != ", " < ", " <= ", " > ", " >= ") + g.path()
	case n < 7:
		return g.literal() + g.pick(" == ", " != ", " < ", " <= ", " > ", " >= ") + g.path()
	}
	return g.path() + g.pick(" == ", " != ", " < ", " <= ", " > ", " >= ") + g.literal()
}

func (g gen) record() *envelope.Record {
	rec := &envelope.Record{Topic: g.pick("t", "orders", "é"), Partition: int32(g.r.IntN(3)) - 1, Offset: int64(g.r.IntN(3)) - 1,
		Timestamp: int64(g.r.IntN(3)) * 1000}
	side := func() ([]byte, bool) {
		switch g.r.IntN(8) {
		case 0:
			return nil, g.r.IntN(2) == 0
		case 1:
			return []byte(g.pick("x", "not json", "{", `{"a":1`, "\xff\xfe", `"x"`, "")), g.r.IntN(2) == 0
		case 2:
			return []byte(g.jsonValue(0)), false
		}
		return []byte(g.jsonValue(0)), true
	}
	rec.Key, rec.KeyJSON = side()
	rec.Value, rec.ValueJSON = side()
	for range g.r.IntN(3) {
		h := envelope.Header{Key: g.pick("h", "n", "bin")}
		switch g.r.IntN(3) {
		case 0:
			h.Value = []byte(g.pick("one", "x", "", "é"))
		case 1:
			h.Value = []byte{0xff}
		}
		rec.Headers = append(rec.Headers, h)
	}
	return rec
}

// TestFastMatchesGojq holds the fast path to gojq's verdict (match, no
// match or error) on random documents and expressions of its subset.
func TestFastMatchesGojq(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	n, fast := 30000, 0
	if testing.Short() {
		n = 3000
	}
	for range n {
		expr, rec := g.expr(0), g.record()
		if checkSame(t, expr, rec) {
			fast++
		}
		if t.Failed() {
			return
		}
	}
	if fast < n*9/10 {
		t.Errorf("only %d of %d generated expressions took the fast path", fast, n)
	}
}

// FuzzFastMatchesGojq: any expression the fast path takes, on any value,
// gets gojq's verdict.
func FuzzFastMatchesGojq(f *testing.F) {
	f.Add(`.value.ok and .value.id >= 0`, []byte(`{"id":1,"ok":true}`), true)
	f.Add(`.value.a.b == "x" or (.value.c | not)`, []byte(`{"a":{"b":"x"}}`), true)
	f.Add(`.value["a"] < 1e1000`, []byte(`{"a":1e400}`), true)
	f.Add(`header("h") == "v" and .key == null`, []byte(`x`), false)
	f.Fuzz(func(t *testing.T, expr string, value []byte, valueJSON bool) {
		if _, err := gojq.Parse(expr); err != nil {
			return
		}
		rec := &envelope.Record{Topic: "t", Partition: 0, Offset: 1, Key: value, KeyJSON: !valueJSON,
			Value: value, ValueJSON: valueJSON, Headers: []envelope.Header{{Key: "h", Value: value}}}
		checkSame(t, expr, rec)
	})
}
