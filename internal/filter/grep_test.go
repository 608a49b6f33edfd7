package filter

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestGrepMatchesRegexp holds the literal-first matching to the regexp's
// own verdict on random patterns and inputs, leaning on the cases where
// it could go wrong (assertions, folding, U+FFFD, bytes that are not
// UTF-8, repeats that compete with what follows).
func TestGrepMatchesRegexp(t *testing.T) {
	pieces := []string{`ab`, `a`, `é`, `\xff`, `[0-9]`, `[a-c]`, `.`, `\d`, `\w`, `\b`, `\B`, `^`, `$`, `(?m)$`, `(?m)^`,
		`(?i)a`, `\z`, `x*`, `[0-9]+`, `y?`, `(a|b)`, `a{2,3}`, `\x{FFFD}`, `(?s).`, `\n`, `"`, `:`, `[^"]*`, `[0-9]*`,
		`.+`, `\x{D800}`, `[\x{FFFD}a]+`, `(?i)[a-c]+`, `c`, `9`, `"user":"user-`, `[0-9a-f]+`}
	chars := []string{"a", "b", "c", "0", "1", "9", "é", "\xff", "\n", `"`, ":", "x", "y", " ", "\xef\xbf\xbd", "A", "user-", `"user":"user-`}
	r := rand.New(rand.NewPCG(3, 4))
	split := 0
	const n = 4000
	for range n {
		var p strings.Builder
		if r.IntN(4) > 0 {
			p.WriteString([]string{"ab", "a", `"user":"user-`, "é", "x", "0"}[r.IntN(6)])
		}
		for range r.IntN(5) {
			p.WriteString(pieces[r.IntN(len(pieces))])
		}
		pattern := p.String()
		g, err := parseGrep("v:" + pattern)
		if err != nil {
			continue
		}
		if g.lit != nil {
			split++
		}
		for range 30 {
			var in strings.Builder
			for range r.IntN(16) {
				in.WriteString(chars[r.IntN(len(chars))])
			}
			b := []byte(in.String())
			if got, want := g.matchBytes(b), g.re.Match(b); got != want {
				t.Fatalf("%q on %q: %v, the regexp says %v", pattern, b, got, want)
			}
		}
	}
	if split < n/2 {
		t.Errorf("only %d of %d patterns were split at a literal", split, n)
	}
}

func TestGrepSplit(t *testing.T) {
	for _, tc := range []struct {
		pattern   string
		lit       string
		simpleSeq bool
	}{
		{`"user":"user-[0-9]+"`, `"user":"user-`, true}, // what scripts/bench.sh measures
		{`paid`, `paid`, false},
		{`ab[cd]`, `ab`, true},
		{`ab(c|d)`, `ab`, false},    // a capture: the anchored regexp
		{`id-[0-9]+$`, `id-`, true}, // $ is the end of the text
		{`ab\b`, ``, false},
		{`^ab`, ``, false},
		{`(?i)ab`, ``, false},
		{`\x{FFFD}x`, ``, false},
	} {
		g, err := parseGrep("v:" + tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if string(g.lit) != tc.lit {
			t.Errorf("%s: literal %q, want %q", tc.pattern, g.lit, tc.lit)
		}
		if _, ok := g.rest.(seq); ok != tc.simpleSeq {
			t.Errorf("%s: matched without a regexp %v, want %v", tc.pattern, ok, tc.simpleSeq)
		}
	}
}

// FuzzGrepMatchesRegexp: on any pattern and input, the literal-first
// matching gives the regexp's verdict.
func FuzzGrepMatchesRegexp(f *testing.F) {
	f.Add(`"user":"user-[0-9]+"`, []byte(`{"user":"user-12"}`))
	f.Add(`ab[^"]*"x`, []byte("ab\xff\"x"))
	f.Fuzz(func(t *testing.T, pattern string, in []byte) {
		g, err := parseGrep("v:" + pattern)
		if err != nil {
			return
		}
		if got, want := g.matchBytes(in), g.re.Match(in); got != want {
			t.Fatalf("%q on %q: %v, the regexp says %v", pattern, in, got, want)
		}
	})
}
