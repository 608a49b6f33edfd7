// Package escape reads the backslash escapes that consume's -f formats and
// produce's -D and -K delimiters share, as kcat spells them:
// \n \r \t \0 \\ and \xHH.
package escape

import (
	"errors"
	"fmt"
	"strconv"
)

// Known lists the escapes, for error messages.
const Known = `\n \r \t \0 \\ \xHH`

// At decodes the escape whose backslash is s[i]. It returns the byte it
// stands for and the index of the escape's last character.
func At(s string, i int) (byte, int, error) {
	if i+1 >= len(s) {
		return 0, i, errors.New(`trailing backslash (write \\ for a backslash)`)
	}
	switch c := s[i+1]; c {
	case 'n':
		return '\n', i + 1, nil
	case 'r':
		return '\r', i + 1, nil
	case 't':
		return '\t', i + 1, nil
	case '0':
		return 0, i + 1, nil
	case '\\':
		return '\\', i + 1, nil
	case 'x':
		if i+4 > len(s) {
			return 0, i, errors.New(`\x needs two hex digits`)
		}
		v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
		if err != nil {
			return 0, i, fmt.Errorf(`\x%s: want two hex digits`, s[i+2:i+4])
		}
		return byte(v), i + 3, nil
	default:
		return 0, i, fmt.Errorf(`unknown escape \%c (known: %s)`, c, Known)
	}
}

// Decode returns s with every escape replaced by its byte.
func Decode(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		b, end, err := At(s, i)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		i = end
	}
	return out, nil
}
