// Package jsonvalid checks that bytes are one JSON value, giving the same
// verdict as encoding/json's Valid in one pass, without allocating: the
// consume path checks every -s json value with it, and encoding/json's
// scanner (a function call per byte, a pooled state stack) cost more than
// the fetch and the write of the value together.
package jsonvalid

import (
	"encoding/binary"
	"math/bits"
)

// maxDepth is encoding/json's nesting limit: 10000 arrays or objects deep
// is valid, one more is not.
const maxDepth = 10000

// class sorts the bytes inside a JSON string: 0 for a byte that is just
// text, 1 for one the string loop must look at ('"', '\\' and the control
// characters, which JSON does not allow raw).
var class = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = 1
	}
	t['"'], t['\\'] = 1, 1
	return t
}()

// Valid reports whether b is exactly one JSON value, with optional
// whitespace around it, as encoding/json.Valid does: the grammar of RFC
// 8259, any byte from 0x20 up inside strings (encoding/json does not check
// UTF-8 either), and at most maxDepth nested arrays and objects.
func Valid(b []byte) bool {
	ok := valid(b) // Valid inlines into its caller: one call per value
	return ok
}

// valid is Valid. objects is the stack of open containers: bit d is set
// when the container at depth d+1 is an object. Most values nest less than
// 64 deep: one word, which costs nothing to clear, holds them; a deeper
// one moves the stack to room for maxDepth.
//
// Strings are read inside this loop rather than in a function: a typical
// record is a dozen short keys and values, and a call for each cost more
// than the bytes in it. key says whether the string being read is a
// member's name (a ':' and the value follow) or a value.
func valid(b []byte) bool {
	var shallow [1]uint64
	objects := shallow[:]
	depth := 0
	inObject := false // the innermost open container is an object
	key := false
	var c byte
	i := skipSpace(b, 0)
value: // a value starts at b[i]
	if i >= len(b) {
		return false
	}
	c = b[i]
dispatch: // c is b[i], the first byte of a value
	switch c {
	case '"':
		i++
		goto str
	case '{':
		if depth == maxDepth {
			return false
		}
		if depth == 64*len(objects) {
			deep := make([]uint64, maxDepth/64+1)
			copy(deep, objects)
			objects = deep
		}
		objects[depth/64] |= 1 << (depth % 64)
		depth++
		if i = skipSpace(b, i+1); i < len(b) && b[i] == '}' {
			depth--
			inObject = depth > 0 && objects[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			i++
			goto after
		}
		inObject = true
		goto name
	case '[':
		if depth == maxDepth {
			return false
		}
		if depth == 64*len(objects) {
			deep := make([]uint64, maxDepth/64+1)
			copy(deep, objects)
			objects = deep
		}
		objects[depth/64] &^= 1 << (depth % 64)
		depth++
		if i = skipSpace(b, i+1); i < len(b) && b[i] == ']' {
			depth--
			inObject = depth > 0 && objects[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			i++
			goto after
		}
		inObject = false
		goto value
	case 't':
		if len(b)-i < 4 || binary.LittleEndian.Uint32(b[i:]) != lit4("true") {
			return false
		}
		i += 4
	case 'f':
		if len(b)-i < 5 || binary.LittleEndian.Uint32(b[i+1:]) != lit4("alse") {
			return false
		}
		i += 5
	case 'n':
		if len(b)-i < 4 || binary.LittleEndian.Uint32(b[i:]) != lit4("null") {
			return false
		}
		i += 4
	default:
		if c != '-' && (c < '0' || c > '9') {
			return false
		}
		// Most numbers are integers: read those here, and leave zeros,
		// fractions and exponents to number.
		j := i
		if c == '-' {
			j++
		}
		if j < len(b) && b[j] >= '1' && b[j] <= '9' {
			j++
			for j < len(b) && b[j]-'0' < 10 {
				j++
			}
			if j >= len(b) || b[j] != '.' && b[j]|0x20 != 'e' {
				i = j
				goto after
			}
		}
		if i = number(b, i); i < 0 {
			return false
		}
	}
after: // a value ended at b[i]: what may follow depends on its container
	if i < len(b) && b[i] <= ' ' {
		i = skipSpace(b, i)
	}
	if depth == 0 {
		return i == len(b)
	}
	if i >= len(b) {
		return false
	}
	switch c := b[i]; {
	case c == ',':
		i++
		if i < len(b) && b[i] <= ' ' {
			i = skipSpace(b, i)
		}
		if inObject {
			goto name
		}
		goto value
	case inObject && c == '}', !inObject && c == ']':
		depth--
		inObject = depth > 0 && objects[(depth-1)/64]&(1<<((depth-1)%64)) != 0
		i++
		goto after
	}
	return false
name: // an object member's name starts at b[i]
	if i >= len(b) || b[i] != '"' {
		return false
	}
	i++
	key = true
str: // the rest of a string whose opening quote is before b[i]
	// Eight bytes at a time; the lowest flagged byte is exact, and in
	// most strings it is the closing quote.
	// The flagged byte is tested in the word already loaded.
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		m := special(w)
		if m == 0 {
			i += 8
			continue
		}
		t := bits.TrailingZeros64(m) // the flag is bit 7 of its byte
		i += t >> 3
		if byte(w>>(t&56)) == '"' {
			i++
			// What follows the quote is often in w too: a key's ':'
			// and its value's first byte, or a value's ',' and the
			// next key's quote. Taking them from w saves two loads
			// that each waited for the one before.
			if t>>3 <= 6 {
				next := w >> (t&56 + 8)
				if key {
					if byte(next) == ':' {
						key = false
						i++
						if c = byte(next >> 8); t>>3 <= 5 && c > ' ' {
							goto dispatch
						}
						if i < len(b) && b[i] <= ' ' {
							i = skipSpace(b, i)
						}
						goto value
					}
				} else if t>>3 <= 5 && inObject && byte(next) == ',' && byte(next>>8) == '"' {
					i += 2
					key = true
					goto str
				}
			}
			goto strEnd
		}
		break
	}
	if i = strTail(b, i); i < 0 {
		return false
	}
strEnd:
	if !key {
		goto after
	}
	key = false
	if i < len(b) && b[i] <= ' ' {
		i = skipSpace(b, i)
	}
	if i >= len(b) || b[i] != ':' {
		return false
	}
	i++
	if i < len(b) && b[i] <= ' ' {
		i = skipSpace(b, i)
	}
	goto value
}

// lit4 is the little-endian word of a 4-byte literal.
func lit4(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// skipSpace returns the index of the first byte from i on that is not JSON
// whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// strTail reads the rest of a string whose opening quote is before b[i]
// and returns the index past its closing quote, or -1: what the loop in
// valid leaves, escapes and a string's last few bytes.
func strTail(b []byte, i int) int {
	for {
		// Eight bytes at a time while none of them needs a look (long
		// values are mostly text); the flag is exact in its lowest byte,
		// and the byte loop below checks again anyway.
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			if m := special(w); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		for i < len(b) && class[b[i]] == 0 {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !hex(b[i+2]) || !hex(b[i+3]) || !hex(b[i+4]) || !hex(b[i+5]) {
					return -1
				}
				i += 6
			default:
				return -1
			}
		default: // a control character
			return -1
		}
	}
}

// special flags (0x80) the bytes of w that are a quote, a backslash or
// below 0x20; bytes above a flagged one may be flagged wrongly.
//
// A byte below 0x21 after flipping bit 1 is a control character (still
// below 0x20) or a quote (0x22 becomes 0x20), so one subtraction finds
// both.
func special(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	ctlQuote, backslash := w^(ones*0x02), w^(ones*'\\')
	return ((ctlQuote-ones*0x21)&^ctlQuote | (backslash-ones)&^backslash) & highs
}

func hex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number reads a number starting at b[i] and returns the index past it,
// or -1: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func number(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
