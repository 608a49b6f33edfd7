// Package filter decides which consumed messages are written: --grep
// patterns on the raw bytes (kcl's syntax), asked before anything is
// decoded, and --where jq expressions on the JSON envelope -J prints.
// Every pattern and expression must hold.
package filter

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/IBM/sarama"
	"github.com/itchyny/gojq"
	"github.com/streamctl/streamctl/internal/envelope"
)

// PatternError is a --grep pattern or --where expression that cannot be
// used.
type PatternError struct {
	Pattern string
	Err     error
}

func (e *PatternError) Error() string { return fmt.Sprintf("%q: %v", e.Pattern, e.Err) }
func (e *PatternError) Unwrap() error { return e.Err }

// Filter is a set of patterns and expressions that all must hold.
type Filter struct {
	greps  []grep
	wheres []where
	// fc is the message the fast path is judging; errSeen says a runtime
	// error was already returned, with gojq's message.
	fc      fctx
	errSeen bool
	// cur is the record being judged, for header().
	cur *envelope.Record
	// doc and value are the maps of the last document (see document).
	doc, value map[string]any
}

// where is one --where expression: gojq's code, and the fast path's when
// the expression is in it.
type where struct {
	code *gojq.Code
	fast node
}

type grep struct {
	not  bool
	part byte // 'k' key, 'v' value, 't' topic, 'K' header key, 'V' header value, 'h' header NAME
	name string
	re   *regexp.Regexp
	// lit, when not nil, is a literal every match starts with, and rest
	// the remainder anchored: re matches b when rest matches right after
	// an occurrence of lit (see splitLiteral).
	lit  []byte
	rest matcher
}

// New compiles greps ([!]k:|v:|t:|hk:|hv:|h:NAME=REGEX) and wheres (jq).
// env is what $ENV and env hold.
func New(greps, wheres []string, env map[string]string) (*Filter, error) {
	f := &Filter{}
	for _, p := range greps {
		g, err := parseGrep(p)
		if err != nil {
			return nil, &PatternError{Pattern: p, Err: err}
		}
		f.greps = append(f.greps, g)
	}
	envList := make([]string, 0, len(env))
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	for _, w := range wheres {
		q, err := gojq.Parse(w)
		if err != nil {
			return nil, &PatternError{Pattern: w, Err: err}
		}
		code, err := gojq.Compile(q,
			gojq.WithEnvironLoader(func() []string { return envList }),
			gojq.WithFunction("header", 1, 1, f.header),
		)
		if err != nil {
			return nil, &PatternError{Pattern: w, Err: err}
		}
		f.wheres = append(f.wheres, where{code: code, fast: compileFast(q, env)})
	}
	return f, nil
}

func parseGrep(p string) (grep, error) {
	var g grep
	s := p
	if rest, ok := strings.CutPrefix(s, "!"); ok {
		g.not, s = true, rest
	}
	prefix, expr, ok := strings.Cut(s, ":")
	if !ok {
		return g, errors.New("want [!]k:|v:|t:|hk:|hv:|h:NAME=REGEX")
	}
	switch prefix {
	case "k":
		g.part = 'k'
	case "v":
		g.part = 'v'
	case "t":
		g.part = 't'
	case "hk":
		g.part = 'K'
	case "hv":
		g.part = 'V'
	case "h":
		name, re, ok := strings.Cut(expr, "=")
		if !ok || name == "" {
			return g, errors.New("h: wants NAME=REGEX")
		}
		g.part, g.name, expr = 'h', name, re
	default:
		return g, fmt.Errorf("unknown part %q: want k, v, t, hk, hv or h", prefix)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return g, err
	}
	g.re = re
	g.lit, g.rest = splitLiteral(expr)
	return g, nil
}

// Raw reports whether a message's raw bytes pass every --grep pattern.
func (f *Filter) Raw(topic string, key, value []byte, headers []*sarama.RecordHeader) bool {
	for i := range f.greps {
		g := &f.greps[i]
		if g.match(topic, key, value, headers) == g.not {
			return false
		}
	}
	return true
}

func (g *grep) match(topic string, key, value []byte, headers []*sarama.RecordHeader) bool {
	switch g.part {
	case 'k':
		return g.matchBytes(key)
	case 'v':
		return g.matchBytes(value)
	case 't':
		return g.re.MatchString(topic)
	}
	for _, h := range headers {
		switch {
		case g.part == 'K' && g.matchBytes(h.Key),
			g.part == 'V' && g.matchBytes(h.Value),
			g.part == 'h' && string(h.Key) == g.name && g.matchBytes(h.Value):
			return true
		}
	}
	return false
}

// Decoded reports whether rec, as -J would print it, passes every --where
// expression. An expression that fails on it (an error, not a false) is
// an error: the caller counts it as no match.
func (f *Filter) Decoded(rec *envelope.Record) (bool, error) {
	if len(f.wheres) == 0 {
		return true, nil
	}
	f.fc.reset(rec)
	defer f.fc.release()
	var doc map[string]any
	for _, w := range f.wheres {
		if w.fast != nil {
			v, st := w.fast.eval(&f.fc)
			if st == stOK {
				if !v.truthy() {
					return false, nil
				}
				continue
			}
			if st == stErr && f.errSeen {
				return false, errFast
			}
			// Unsure, or the first error, whose message gojq gives.
		}
		if doc == nil {
			doc = f.document(rec)
		}
		ok, err := f.run(w.code, doc, rec)
		if err != nil {
			f.errSeen = true
			return false, err
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// document is rec's document in the maps of the last one, cleared: nothing
// of a document outlives Decoded, and a fresh map per message is much of
// the filter's garbage.
func (f *Filter) document(rec *envelope.Record) map[string]any {
	if f.doc == nil {
		f.doc, f.value = make(map[string]any, 9), map[string]any{}
	}
	clear(f.doc)
	clear(f.value)
	return fill(f.doc, f.value, rec)
}

// run is gojq's verdict on doc: empty, false and null are no match.
func (f *Filter) run(code *gojq.Code, doc map[string]any, rec *envelope.Record) (bool, error) {
	f.cur = rec
	defer func() { f.cur = nil }()
	v, ok := code.Run(doc).Next()
	if !ok {
		return false, nil // empty: no match
	}
	if err, isErr := v.(error); isErr {
		return false, err
	}
	return v != nil && v != false, nil
}

// header is jq's header("name"): the first value of that header of the
// record being judged, as a string, or null when it has none.
func (f *Filter) header(_ any, args []any) any {
	name, ok := args[0].(string)
	if !ok {
		return fmt.Errorf("header: want a string name, got %v", args[0])
	}
	if f.cur == nil {
		return nil
	}
	for _, h := range f.cur.Headers {
		if h.Key == name {
			if h.Value == nil {
				return nil
			}
			return string(h.Value)
		}
	}
	return nil
}

// Document is rec as -J prints it, as the Go values jq works on: the
// envelope's fields are set directly and only a JSON value or key is
// parsed, once.
func Document(rec *envelope.Record) map[string]any {
	return fill(make(map[string]any, 9), nil, rec)
}

// fill sets doc to rec's document; a JSON object value is read into value
// when it is not nil.
func fill(doc, value map[string]any, rec *envelope.Record) map[string]any {
	doc["topic"] = rec.Topic
	if rec.Partition >= 0 {
		doc["partition"] = float64(rec.Partition)
	}
	if rec.Offset >= 0 {
		doc["offset"] = float64(rec.Offset)
	}
	doc["timestamp"] = float64(rec.Timestamp)
	setField(doc, "key", rec.Key, rec.KeyJSON, nil)
	setField(doc, "value", rec.Value, rec.ValueJSON, value)
	hs := make([]any, len(rec.Headers))
	for i, h := range rec.Headers {
		m := make(map[string]any, 2)
		setField(m, "key", []byte(h.Key), false, nil)
		setField(m, "value", h.Value, false, nil)
		hs[i] = m
	}
	doc["headers"] = hs
	return doc
}

// setField sets name, and name_encoding where it is not text, as
// envelope.Append writes them.
func setField(m map[string]any, name string, b []byte, asJSON bool, into map[string]any) {
	if b == nil {
		m[name] = nil
		return
	}
	if asJSON {
		if v, err := parseJSONInto(b, into); err == nil {
			m[name], m[name+"_encoding"] = v, string(envelope.JSON)
			return
		}
	}
	if utf8.Valid(b) {
		m[name] = string(b)
		return
	}
	m[name], m[name+"_encoding"] = base64.StdEncoding.EncodeToString(b), string(envelope.Base64)
}
