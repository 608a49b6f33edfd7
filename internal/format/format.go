// Package format turns decoded records into the bytes `streamctl consume`
// prints: the bare value for pipes, a readable and coloured form for
// terminals, kcat-style format strings, and the JSON envelope.
package format

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/streamctl/streamctl/internal/envelope"
)

// Formatter appends one record's output, newline included, to dst.
type Formatter interface {
	Append(dst []byte, r *envelope.Record) []byte
}

// Plain prints the value and a newline, nothing else: the pipe default, so
// `streamctl consume t | wc -l` counts messages. A null value is an empty
// line.
type Plain struct{}

// Append implements Formatter.
func (Plain) Append(dst []byte, r *envelope.Record) []byte {
	dst = append(dst, r.Value...)
	return append(dst, '\n')
}

// JSON prints the lossless envelope, one object per line.
type JSON struct{}

// Append implements Formatter.
func (JSON) Append(dst []byte, r *envelope.Record) []byte {
	dst = envelope.Append(dst, r)
	return append(dst, '\n')
}

// Style is a pair of strings that go around a piece of output, such as an
// ANSI colour code and its reset. The zero Style adds nothing.
type Style struct{ Start, End string }

func (s Style) wrap(dst []byte, b []byte) []byte {
	dst = append(dst, s.Start...)
	dst = append(dst, b...)
	return append(dst, s.End...)
}

// Palette holds the styles of the terminal form.
type Palette struct {
	Meta, Key, String, Number, Literal, Punct Style
}

// Pretty is the terminal form: a dimmed line with topic, partition, offset,
// time, key and headers, then the value, JSON values indented and coloured.
// Times are in UTC, so that output does not depend on where it runs.
type Pretty struct {
	Palette Palette
}

// Append implements Formatter.
func (p Pretty) Append(dst []byte, r *envelope.Record) []byte {
	meta := make([]byte, 0, 128)
	meta = append(meta, r.Topic...)
	meta = append(meta, '/')
	meta = strconv.AppendInt(meta, int64(r.Partition), 10)
	meta = append(meta, " @"...)
	meta = strconv.AppendInt(meta, r.Offset, 10)
	if r.HasTimestamp {
		ts := time.UnixMilli(r.Timestamp).UTC()
		meta = append(meta, "  "...)
		meta = ts.AppendFormat(meta, "2006-01-02T15:04:05.000Z07:00")
	}
	dst = p.Palette.Meta.wrap(dst, meta)
	dst = append(dst, "  "...)
	if r.Key == nil {
		dst = p.Palette.Meta.wrap(dst, []byte("key=(null)"))
	} else {
		dst = p.Palette.Meta.wrap(dst, []byte("key="))
		dst = p.Palette.Key.wrap(dst, printable(nil, r.Key))
	}
	for _, h := range r.Headers {
		dst = append(dst, "  "...)
		hb := printable(append([]byte(h.Key), '='), h.Value)
		if h.Value == nil {
			hb = append([]byte(h.Key), "=(null)"...)
		}
		dst = p.Palette.Meta.wrap(dst, hb)
	}
	dst = append(dst, '\n')
	switch {
	case r.Value == nil:
		// Not "null", which a JSON or text value may well be.
		dst = p.Palette.Meta.wrap(dst, []byte("(null)"))
	case r.ValueJSON:
		dst = appendPrettyJSON(dst, r.Value, p.Palette)
	default:
		dst = printable(dst, r.Value)
	}
	return append(dst, '\n')
}

// printable appends b with bytes that are not valid UTF-8 or are control
// characters other than newline and tab shown as \xHH, so that a terminal
// never receives raw escape sequences from a message.
func printable(dst, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n == 1, r < 0x20 && r != '\n' && r != '\t', r == 0x7f:
			dst = append(dst, '\\', 'x', hexDigits[b[0]>>4], hexDigits[b[0]&0xf])
		default:
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendPrettyJSON indents valid JSON by two spaces and colours its tokens.
func appendPrettyJSON(dst, b []byte, pal Palette) []byte {
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		for i := 0; i < depth; i++ {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case ' ', '\t', '\n', '\r':
		case '{', '[':
			// Keep empty containers on one line.
			j := skipSpace(b, i+1)
			if j < len(b) && (b[j] == '}' || b[j] == ']') {
				dst = pal.Punct.wrap(dst, []byte{c, b[j]})
				i = j
				continue
			}
			dst = pal.Punct.wrap(dst, []byte{c})
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = pal.Punct.wrap(dst, []byte{c})
		case ',':
			dst = pal.Punct.wrap(dst, []byte{c})
			newline()
		case ':':
			dst = pal.Punct.wrap(dst, []byte{c})
			dst = append(dst, ' ')
		case '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(b) {
				j = len(b) - 1
			}
			style := pal.String
			if k := skipSpace(b, j+1); k < len(b) && b[k] == ':' {
				style = pal.Key
			}
			dst = style.wrap(dst, b[i:j+1])
			i = j
		default:
			j := i
			for j < len(b) && !isDelim(b[j]) {
				j++
			}
			style := pal.Number
			if c == 't' || c == 'f' || c == 'n' {
				style = pal.Literal
			}
			dst = style.wrap(dst, b[i:j])
			i = j - 1
		}
	}
	return dst
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', '{', '}', '[', ']', '"':
		return true
	}
	return false
}
