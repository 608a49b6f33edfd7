package filter

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"slices"
	"unicode/utf8"
)

// matchBytes is g.re.Match(b). With a literal start, it looks for the
// literal (bytes.Index, fast) and asks the rest, anchored, only right
// after it: no literal, no match, and no regexp run at all. After a few
// occurrences where the rest fails, the whole regexp decides, so that the
// cost stays linear.
func (g *grep) matchBytes(b []byte) bool {
	if g.lit == nil {
		return g.re.Match(b)
	}
	from := 0
	for tries := 0; tries < 4; tries++ {
		i := bytes.Index(b[from:], g.lit)
		if i < 0 {
			return false
		}
		i += from
		if g.rest == nil || g.rest.Match(b[i+len(g.lit):]) {
			return true
		}
		from = i + 1
	}
	return g.re.Match(b)
}

// matcher reports whether a pattern matches at the start of b.
type matcher interface{ Match(b []byte) bool }

// splitLiteral splits expr, when it starts with a literal, into that
// literal and a matcher of the rest at its start (nil when expr is only
// the literal). It declines (nil, nil) what would not mean the same: a
// literal that folds case or holds U+FFFD (which matches any byte that is
// not UTF-8), or a rest whose meaning depends on what comes before it (^,
// \b, \B).
func splitLiteral(expr string) ([]byte, matcher) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, nil
	}
	re = re.Simplify()
	first, rest := re, []*syntax.Regexp(nil)
	if re.Op == syntax.OpConcat && len(re.Sub) > 0 {
		first, rest = re.Sub[0], re.Sub[1:]
	}
	if first.Op != syntax.OpLiteral || first.Flags&syntax.FoldCase != 0 || len(first.Rune) == 0 || !plainRunes(first.Rune) {
		return nil, nil
	}
	lit := []byte(string(first.Rune))
	if len(rest) == 0 {
		return lit, nil
	}
	if s, ok := simpleSeq(rest); ok {
		return lit, s
	}
	if slices.ContainsFunc(rest, looksBack) {
		return nil, nil
	}
	tail := &syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: rest}
	anchored, err := regexp.Compile(`^(?:` + tail.String() + `)`)
	if err != nil {
		return nil, nil
	}
	return lit, anchored
}

// looksBack reports whether r holds an assertion on what precedes it.
func looksBack(r *syntax.Regexp) bool {
	switch r.Op {
	case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	return slices.ContainsFunc(r.Sub, looksBack)
}

// seq is a rest made of literals and repeated rune sets where a repeat
// never competes with what follows it (the sets are disjoint), so that
// taking as many as it can is the only choice: no backtracking, no
// regexp machine.
type seq []step

type step struct {
	lit      []byte    // a literal, or
	set      []rune    // a rune set, as syntax's pairs of bounds
	ascii    [2]uint64 // set's runes below 128, as bits
	min, max int       // how many of set (max -1: no bound)
	end      bool      // \z: the end of the text
}

func (st step) has(r rune) bool {
	for i := 0; i < len(st.set); i += 2 {
		if st.set[i] <= r && r <= st.set[i+1] {
			return true
		}
	}
	return false
}

func (s seq) Match(b []byte) bool {
	pos := 0
	for _, st := range s {
		switch {
		case st.end:
			return pos == len(b)
		case st.lit != nil:
			if !bytes.HasPrefix(b[pos:], st.lit) {
				return false
			}
			pos += len(st.lit)
		default:
			n := 0
			for (st.max < 0 || n < st.max) && pos < len(b) {
				if c := b[pos]; c < utf8.RuneSelf {
					if st.ascii[c/64]&(1<<(c%64)) == 0 {
						break
					}
					pos++
					n++
					continue
				}
				r, w := utf8.DecodeRune(b[pos:])
				if !st.has(r) {
					break
				}
				pos += w
				n++
			}
			if n < st.min {
				return false
			}
		}
	}
	return true
}

// simpleSeq makes subs a seq when they are one.
func simpleSeq(subs []*syntax.Regexp) (seq, bool) {
	var s seq
	for i, r := range subs {
		var st step
		switch r.Op {
		case syntax.OpLiteral:
			if r.Flags&syntax.FoldCase != 0 || !plainRunes(r.Rune) {
				return nil, false
			}
			st.lit = []byte(string(r.Rune))
		case syntax.OpEndText:
			if i != len(subs)-1 {
				return nil, false
			}
			st.end = true
		case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
			st.set, st.min, st.max = runeSet(r), 1, 1
		case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
			set := runeSet(r.Sub[0])
			if set == nil {
				return nil, false
			}
			st.set, st.min, st.max = set, 0, -1
			if r.Op == syntax.OpPlus {
				st.min = 1
			}
			if r.Op == syntax.OpQuest {
				st.max = 1
			}
		default:
			return nil, false
		}
		if st.set == nil && st.lit == nil && !st.end {
			return nil, false
		}
		for c := rune(0); c < utf8.RuneSelf; c++ {
			if st.set != nil && st.has(c) {
				st.ascii[c/64] |= 1 << (c % 64)
			}
		}
		s = append(s, st)
	}
	// A repeat must not be able to take what the next step starts with.
	for i := 0; i+1 < len(s); i++ {
		st, next := s[i], s[i+1]
		if st.set == nil || st.min == st.max {
			continue
		}
		switch {
		case next.end:
		case next.lit != nil:
			r, _ := utf8.DecodeRune(next.lit)
			if st.has(r) {
				return nil, false
			}
		case next.min >= 1:
			for j := 0; j < len(next.set); j += 2 {
				if overlaps(st.set, next.set[j], next.set[j+1]) {
					return nil, false
				}
			}
		default:
			return nil, false
		}
	}
	return s, true
}

func overlaps(set []rune, lo, hi rune) bool {
	for i := 0; i < len(set); i += 2 {
		if set[i] <= hi && lo <= set[i+1] {
			return true
		}
	}
	return false
}

// runeSet is the runes a single-rune regexp matches, or nil.
func runeSet(r *syntax.Regexp) []rune {
	switch r.Op {
	case syntax.OpCharClass:
		if len(r.Rune) == 0 {
			return nil
		}
		return r.Rune
	case syntax.OpAnyCharNotNL:
		return []rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune}
	case syntax.OpAnyChar:
		return []rune{0, utf8.MaxRune}
	case syntax.OpLiteral:
		if len(r.Rune) == 1 && r.Flags&syntax.FoldCase == 0 && plainRunes(r.Rune) {
			return []rune{r.Rune[0], r.Rune[0]}
		}
	}
	return nil
}

// plainRunes reports whether a literal's runes match exactly their UTF-8
// bytes: not U+FFFD (which matches any byte that is not UTF-8), nor a rune
// that has no UTF-8 form.
func plainRunes(rs []rune) bool {
	for _, r := range rs {
		if r == utf8.RuneError || !utf8.ValidRune(r) {
			return false
		}
	}
	return true
}
