package format

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/streamctl/streamctl/internal/envelope"
	"github.com/streamctl/streamctl/internal/escape"
)

// Template is a kcat-style format string (-f), compiled once.
//
//	%t topic   %p partition   %o offset   %T timestamp (ms)
//	%k key     %K key length (-1 for null)
//	%s value   %S value length (-1 for null)
//	%R value length as a 4-byte big-endian integer (-1 for null), for
//	   framing binary values as kcat does
//	%h headers as name=value,name=value   %% a percent sign
//	\n \r \t \\ \xHH escapes
type Template struct {
	ops []op
}

type op struct {
	verb byte   // 0 for a literal
	lit  []byte // the literal bytes
}

// ParseTemplate compiles a format string, naming the position of any
// unknown verb or bad escape.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{}
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			t.ops = append(t.ops, op{lit: lit})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("format: lone %% at the end (use %%%% for a percent sign)")
			}
			i++
			switch v := s[i]; v {
			case '%':
				lit = append(lit, '%')
			case 't', 'p', 'o', 'T', 'k', 'K', 's', 'S', 'R', 'h':
				flush()
				t.ops = append(t.ops, op{verb: v})
			default:
				return nil, fmt.Errorf("format: unknown verb %%%c at position %d (want one of %%t %%p %%o %%T %%k %%K %%s %%S %%R %%h %%%%)", v, i)
			}
		case '\\':
			b, end, err := escape.At(s, i)
			if err != nil {
				return nil, fmt.Errorf("format: position %d: %w", i, err)
			}
			lit = append(lit, b)
			i = end
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return t, nil
}

// Append implements Formatter.
func (t *Template) Append(dst []byte, r *envelope.Record) []byte {
	for _, o := range t.ops {
		switch o.verb {
		case 0:
			dst = append(dst, o.lit...)
		case 't':
			dst = append(dst, r.Topic...)
		case 'p':
			dst = strconv.AppendInt(dst, int64(r.Partition), 10)
		case 'o':
			dst = strconv.AppendInt(dst, r.Offset, 10)
		case 'T':
			dst = strconv.AppendInt(dst, r.Timestamp, 10)
		case 'k':
			dst = append(dst, r.Key...)
		case 'K':
			dst = appendLen(dst, r.Key)
		case 's':
			dst = append(dst, r.Value...)
		case 'S':
			dst = appendLen(dst, r.Value)
		case 'R':
			n := int32(-1)
			if r.Value != nil {
				n = int32(len(r.Value))
			}
			dst = binary.BigEndian.AppendUint32(dst, uint32(n))
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, h.Key...)
				dst = append(dst, '=')
				dst = append(dst, h.Value...)
			}
		}
	}
	return dst
}

func appendLen(dst, b []byte) []byte {
	if b == nil {
		return append(dst, "-1"...)
	}
	return strconv.AppendInt(dst, int64(len(b)), 10)
}
