package jsonvalid

import (
	"encoding/binary"
	"math/bits"
)

// Shape is Valid for a run of values that mostly share one shape, as the
// values of a topic do when one producer writes them: the same keys in the
// same order, each holding the same kind of value. It remembers the last
// valid value as literal bytes (the punctuation and the keys) with slots
// between them for the values of members that are strings, numbers, true,
// false or null; a value that is those same bytes with a string, number or
// literal in each slot is valid without being read against the grammar.
// Any other value is read by Valid, and its shape becomes the one to
// match, though not for one value of another shape among many of this
// one. Where shapes keep changing, Shape stops trying for a while, so its
// cost over Valid stays small.
//
// The verdict is always Valid's. The zero Shape is ready for use; a Shape
// is for one goroutine.
type Shape struct {
	segs []seg
	// ok says segs holds a shape (a value too big for maxSegs has none).
	ok bool
	// misses counts the values in a row that did not match. debt is
	// what misses cost, less one for each value that matched since;
	// at maxDebt Shape backs off: skip is how many values are left to
	// read without trying, and backoff how many were skipped the last
	// time (0 once the debt is paid).
	misses, debt, skip, backoff int
}

// seg is up to 16 literal bytes of a shape, as two little-endian words and
// masks of the bytes in them, and what follows them.
type seg struct {
	w, m [2]uint64
	n    int
	slot uint8
	// text is the length of the slot's string in the last value that
	// had one there: match tries that length first.
	text int
}

// What follows a seg's bytes.
const (
	slotNone   = iota // the next seg
	slotString        // a string's text, up to its closing quote, which starts the next seg
	slotScalar        // a number, true, false or null
)

const (
	// maxSegs bounds a shape, and so the work of building one: about
	// 60 members.
	maxSegs = 128
	// A match saves about half of Valid's time. A miss costs the try on
	// top of Valid (missCost matches' worth), and building the new shape
	// about as much again as Valid (buildCost). At maxDebt (4 values in a
	// row of new shapes) Shape backs off: minBackoff values read without
	// trying, twice as many each time up to maxBackoff while the debt
	// comes back before it is paid.
	missCost   = 1
	buildCost  = 4
	maxDebt    = missCost + 3*buildCost
	minBackoff = 16
	maxBackoff = 1 << 16
)

// Valid reports whether b is exactly one JSON value, as the package's Valid
// does.
func (s *Shape) Valid(b []byte) bool {
	ok := s.match(b) // Valid inlines into its caller: one call a value
	return ok
}

// slow is Valid for a value that does not match, or while s backs off.
func (s *Shape) slow(b []byte) bool {
	if s.skip > 0 {
		s.skip--
		return valid(b)
	}
	if !valid(b) {
		return false
	}
	// One value of another shape keeps the shape: the next is most
	// often of the shape again. Two in a row change it.
	if s.misses++; s.misses >= 2 || !s.ok {
		s.build(b)
		s.debt += buildCost
	} else {
		s.debt += missCost
	}
	if s.debt >= maxDebt {
		s.misses, s.debt = 0, 0
		s.backoff = min(max(2*s.backoff, minBackoff), maxBackoff)
		s.skip = s.backoff
	}
	return true
}

// match is Valid: when b is s's literal bytes with a value of the right
// kind in each slot, b is valid, as the value s was built from is; any
// other value, or any while s backs off, goes to slow.
func (s *Shape) match(b []byte) bool {
	if s.skip > 0 || !s.ok {
		return s.slow(b)
	}
	i := 0
	for k := range s.segs {
		g := &s.segs[k]
		if p := b[i:]; len(p) >= 16 || len(p) >= 8 && g.n <= 8 {
			x := (binary.LittleEndian.Uint64(p[:8]) ^ g.w[0]) & g.m[0]
			if g.n > 8 {
				x |= (binary.LittleEndian.Uint64(p[8:16]) ^ g.w[1]) & g.m[1]
			}
			if x != 0 {
				return s.slow(b)
			}
		} else if len(b)-i < g.n || (wordAt(b, i)^g.w[0])&g.m[0]|(wordAt(b, i+8)^g.w[1])&g.m[1] != 0 {
			return s.slow(b)
		}
		i += g.n
		switch g.slot {
		case slotString:
			st := i
			if n := g.text; len(b)-i >= n+8 && b[i+n] == '"' {
				// plain, in line: no quote, backslash or control
				// byte before b[i+n]. Flags are exact below the
				// lowest true one, so the bytes from n on cannot
				// flag those before it.
				j := 0
				for ; j+8 <= n; j += 8 {
					if special(binary.LittleEndian.Uint64(b[i+j:])) != 0 {
						goto scan
					}
				}
				if j == n || special(binary.LittleEndian.Uint64(b[i+j:]))&(1<<(8*(n-j))-1) == 0 {
					i += n
					continue
				}
			}
		scan:
			// As in valid's string loop: the lowest flagged byte is
			// exact, and is most often the closing quote.
			for i+8 <= len(b) {
				w := binary.LittleEndian.Uint64(b[i:])
				m := special(w)
				if m == 0 {
					i += 8
					continue
				}
				t := bits.TrailingZeros64(m)
				i += t >> 3
				if byte(w>>(t&56)) == '"' {
					g.text = i - st // the length to try next time
					goto next
				}
				break
			}
			if i = strTail(b, i); i < 0 {
				return s.slow(b)
			}
			i-- // back to the closing quote
			g.text = i - st
		case slotScalar:
			if i >= len(b) {
				return s.slow(b)
			}
			// null, true and integers, the most common, are read here;
			// anything else by scalar.
			switch c := b[i]; {
			case c == 'n' || c == 't':
				if len(b)-i >= 4 && (binary.LittleEndian.Uint32(b[i:]) == lit4("null") || binary.LittleEndian.Uint32(b[i:]) == lit4("true")) {
					i += 4
					goto next
				}
			case c >= '1' && c <= '9':
				j := i + 1
				for j < len(b) && b[j]-'0' < 10 {
					j++
				}
				if j < len(b) && b[j] != '.' && b[j]|0x20 != 'e' {
					i = j
					goto next
				}
			}
			if i = scalar(b, i); i < 0 {
				return s.slow(b)
			}
		}
	next:
	}
	if i != len(b) {
		return s.slow(b)
	}
	s.misses = 0
	if s.debt > 0 {
		s.debt--
	} else {
		s.backoff = 0
	}
	return true
}

// wordAt is the eight bytes of b from i, little-endian, with zeros for any
// past its end.
func wordAt(b []byte, i int) uint64 {
	if len(b)-i >= 8 {
		return binary.LittleEndian.Uint64(b[i:])
	}
	if i >= len(b) {
		return 0
	}
	if len(b) >= 8 {
		return binary.LittleEndian.Uint64(b[len(b)-8:]) >> (8 * (i + 8 - len(b)))
	}
	var w uint64
	for j := len(b) - 1; j >= i; j-- {
		w = w<<8 | uint64(b[j])
	}
	return w
}

// scalar reads a number, true, false or null at b[i] and returns the index
// past it, or -1.
func scalar(b []byte, i int) int {
	switch c := b[i]; c {
	case 't':
		if len(b)-i < 4 || binary.LittleEndian.Uint32(b[i:]) != lit4("true") {
			return -1
		}
		return i + 4
	case 'f':
		if len(b)-i < 5 || binary.LittleEndian.Uint32(b[i+1:]) != lit4("alse") {
			return -1
		}
		return i + 5
	case 'n':
		if len(b)-i < 4 || binary.LittleEndian.Uint32(b[i:]) != lit4("null") {
			return -1
		}
		return i + 4
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return number(b, i)
	}
	return -1
}

// build makes b's shape the one to match; b is valid. Strings are skipped
// whole, so a ':' outside them ends a member's name, and what follows it is
// a slot when it is a string or a scalar.
func (s *Shape) build(b []byte) {
	s.segs, s.ok = s.segs[:0], false
	start, i := 0, 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i = strTail(b, i+1)
			continue
		case ':':
			j := skipSpace(b, i+1)
			switch b[j] {
			case '{', '[':
				i = j
				continue
			case '"':
				if !s.lit(b[start:j+1], slotString) {
					return
				}
				i = strTail(b, j+1)
				start = i - 1
				s.segs[len(s.segs)-1].text = start - (j + 1)
				continue
			}
			if !s.lit(b[start:j], slotScalar) {
				return
			}
			i = scalar(b, j)
			start = i
			continue
		}
		i++
	}
	s.ok = s.lit(b[start:], slotNone)
}

// lit appends the literal bytes l, followed by slot, to s's segs, 16 bytes
// a seg; false when they do not fit in maxSegs.
func (s *Shape) lit(l []byte, slot uint8) bool {
	for {
		if len(s.segs) == maxSegs {
			return false
		}
		g := seg{n: min(len(l), 16)}
		g.m[0] = 1<<(8*min(g.n, 8)) - 1 // all ones for 8 and more
		g.m[1] = 1<<(8*max(g.n-8, 0)) - 1
		g.w[0], g.w[1] = wordAt(l, 0)&g.m[0], wordAt(l, 8)&g.m[1]
		if l = l[g.n:]; len(l) == 0 {
			g.slot = slot
			s.segs = append(s.segs, g)
			return true
		}
		s.segs = append(s.segs, g)
	}
}
