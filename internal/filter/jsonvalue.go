package filter

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// errSyntax sends parseJSON's caller to encoding/json, whose error (or
// answer) is the reference.
var errSyntax = errors.New("json syntax")

// parseJSON turns a JSON text into the values jq works on, as
// json.Unmarshal into an any does, in one pass: no validating scan ahead
// of decoding, no reflection. It is the cost of every --where message.
// On anything it does not take, encoding/json decides.
func parseJSON(b []byte) (any, error) { return parseJSONInto(b, nil) }

// parseJSONInto is parseJSON reading a top-level object into obj (empty)
// when obj is not nil.
func parseJSONInto(b []byte, obj map[string]any) (any, error) {
	p := jsonParser{b: b, obj: obj}
	v, err := p.value()
	if err == nil {
		p.space()
		if p.i != len(b) {
			err = errSyntax
		}
	}
	if err != nil {
		var v any
		err := json.Unmarshal(b, &v)
		return v, err
	}
	return v, nil
}

type jsonParser struct {
	b []byte
	i int
	// obj, when not nil, is the map for the first object read.
	obj map[string]any
}

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (any, error) {
	p.space()
	if p.i >= len(p.b) {
		return nil, errSyntax
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.string()
	case c == 't':
		return true, p.word("true")
	case c == 'f':
		return false, p.word("false")
	case c == 'n':
		return nil, p.word("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, errSyntax
}

func (p *jsonParser) word(w string) error {
	if len(p.b)-p.i < len(w) || string(p.b[p.i:p.i+len(w)]) != w {
		return errSyntax
	}
	p.i += len(w)
	return nil
}

func (p *jsonParser) object() (any, error) {
	p.i++ // {
	m := p.obj
	if m == nil {
		m = map[string]any{}
	} else {
		p.obj = nil
	}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, errSyntax
		}
		k, err := p.string()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, errSyntax
		}
		p.i++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		if more, err := p.next('}'); !more {
			if err != nil {
				return nil, err
			}
			return m, nil
		}
	}
}

func (p *jsonParser) array() (any, error) {
	p.i++ // [
	a := []any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if more, err := p.next(']'); !more {
			if err != nil {
				return nil, err
			}
			return a, nil
		}
	}
}

// next reads what follows a member or an element: a comma (more to come)
// or end, which closes the object or array; anything else is an error.
func (p *jsonParser) next(end byte) (more bool, err error) {
	p.space()
	if p.i >= len(p.b) {
		return false, errSyntax
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		return true, nil
	case end:
		p.i++
		return false, nil
	}
	return false, errSyntax
}

// string reads a string token; one with escapes or bytes that are not
// UTF-8 is left to encoding/json, which knows their every rule.
func (p *jsonParser) string() (string, error) {
	start := p.i
	p.i++ // "
	plain := true
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			tok := p.b[start:p.i]
			if plain && utf8.Valid(tok) {
				return string(tok[1 : len(tok)-1]), nil
			}
			var s string
			if err := json.Unmarshal(tok, &s); err != nil {
				return "", err
			}
			return s, nil
		case c == '\\':
			plain = false
			p.i += 2
		case c < 0x20:
			return "", errSyntax
		default:
			p.i++
		}
	}
	return "", errSyntax
}

func (p *jsonParser) number() (any, error) {
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			p.i++
			continue
		}
		break
	}
	tok := p.b[start:p.i]
	if !validNumber(tok) {
		return nil, errSyntax
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return nil, errSyntax // out of range: encoding/json's error
	}
	return f, nil
}

// validNumber checks JSON's number grammar, which is stricter than
// strconv's (no leading zeros, no "+1", no ".5", no hex).
func validNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}
