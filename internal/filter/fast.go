package filter

// The --where fast path: expressions made of comparisons between paths of
// the document and literals, joined by and, or and not, are evaluated on
// the record's bytes without building the document or running gojq. Only
// the fields on a path are read out of a JSON value; everything else is
// skipped. What it does not recognise, at compile time (the expression)
// or at run time (a comparison of two arrays, say), gojq evaluates on the
// whole document as before. The fast path must give the verdict gojq gives
// on Document(rec): TestFastMatchesGojq and FuzzFastMatchesGojq hold it to
// that.

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/itchyny/gojq"
	"github.com/streamctl/streamctl/internal/envelope"
	"github.com/streamctl/streamctl/internal/jsonvalid"
)

// kind is a jq value's type, numbered in jq's order across types.
type kind uint8

const (
	kNull kind = iota
	kFalse
	kTrue
	kNumber
	kString
	kArray
	kObject
)

func (k kind) String() string {
	return [...]string{"null", "boolean", "boolean", "number", "string", "array", "object"}[k]
}

// jval is a scalar, or only the type of an array or object: enough to
// compare with a scalar. A string is s, or b when it comes from bytes.
type jval struct {
	k     kind
	n     float64
	s     string
	b     []byte
	bytes bool
}

func (v jval) truthy() bool { return v.k != kNull && v.k != kFalse }

// status is how an evaluation ended.
type status uint8

const (
	stOK status = iota
	stErr
	// stUnsure: the fast path cannot tell (two arrays compared, say):
	// gojq decides.
	stUnsure
)

// errFast is a runtime error of the fast path. The first error of a run
// is evaluated again by gojq, whose message is the one reported.
var errFast = errors.New("jq runtime error")

// node is a compiled fast expression.
type node interface {
	eval(c *fctx) (jval, status)
}

// Roots of the document, as fill sets them.
const (
	rTopic = iota
	rPartition
	rOffset
	rTimestamp
	rKey
	rKeyEncoding
	rValue
	rValueEncoding
)

var roots = map[string]int{
	"topic": rTopic, "partition": rPartition, "offset": rOffset, "timestamp": rTimestamp,
	"key": rKey, "key_encoding": rKeyEncoding, "value": rValue, "value_encoding": rValueEncoding,
}

// compileFast returns q as a fast node, or nil when q is outside the fast
// path. env is what $ENV holds.
func compileFast(q *gojq.Query, env map[string]string) node {
	n := fastCompiler{env}.query(q)
	if n == nil {
		return nil
	}
	if _, lit := n.(litNode); lit {
		return nil // a constant: gojq
	}
	return n
}

// fastCompiler turns gojq's syntax tree into fast nodes.
type fastCompiler struct{ env map[string]string }

func (fc fastCompiler) query(q *gojq.Query) node {
	if q == nil || q.Meta != nil || len(q.Imports) > 0 || len(q.FuncDefs) > 0 || len(q.Patterns) > 0 {
		return nil
	}
	if q.Term != nil {
		if q.Left != nil || q.Right != nil {
			return nil
		}
		return fc.term(q.Term)
	}
	switch q.Op {
	case gojq.OpAnd, gojq.OpOr:
		l, r := fc.query(q.Left), fc.query(q.Right)
		if l == nil || r == nil {
			return nil
		}
		return &logicNode{and: q.Op == gojq.OpAnd, l: l, r: r}
	case gojq.OpEq, gojq.OpNe, gojq.OpLt, gojq.OpLe, gojq.OpGt, gojq.OpGe:
		l, r := fc.query(q.Left), fc.query(q.Right)
		if l == nil || r == nil {
			return nil
		}
		_, ll := l.(litNode)
		_, rl := r.(litNode)
		if ll && rl {
			return nil // gojq compares two literal numbers as ints: leave it
		}
		if !operand(l) || !operand(r) {
			return nil
		}
		return &cmpNode{op: q.Op, l: l, r: r}
	case gojq.OpPipe:
		// X | not
		if r := q.Right; r != nil && r.Term != nil && r.Left == nil && r.Right == nil && r.Op == 0 &&
			r.Term.Type == gojq.TermTypeFunc && r.Term.Func.Name == "not" && len(r.Term.Func.Args) == 0 &&
			len(r.Term.SuffixList) == 0 && len(r.FuncDefs) == 0 && r.Meta == nil && len(r.Imports) == 0 {
			if l := fc.query(q.Left); l != nil {
				return notNode{l}
			}
		}
	}
	return nil
}

// operand reports whether n yields a single scalar-or-typed value.
func operand(n node) bool {
	switch n.(type) {
	case litNode, *pathNode, headerNode:
		return true
	}
	return false
}

func (fc fastCompiler) term(t *gojq.Term) node {
	switch t.Type {
	case gojq.TermTypeQuery:
		if len(t.SuffixList) > 0 {
			return nil
		}
		return fc.query(t.Query)
	case gojq.TermTypeIndex, gojq.TermTypeIdentity:
		var segs []string
		if t.Type == gojq.TermTypeIndex {
			s, ok := indexName(t.Index)
			if !ok {
				return nil
			}
			segs = append(segs, s)
		}
		for _, sf := range t.SuffixList {
			if sf.Iter || sf.Optional || sf.Index == nil {
				return nil
			}
			s, ok := indexName(sf.Index)
			if !ok {
				return nil
			}
			segs = append(segs, s)
		}
		if len(segs) == 0 {
			return nil
		}
		r, ok := roots[segs[0]]
		if !ok {
			return nil
		}
		return &pathNode{root: r, segs: segs[1:]}
	case gojq.TermTypeFunc:
		f := t.Func
		if f.Name == "$ENV" && len(f.Args) == 0 && len(t.SuffixList) == 1 {
			// $ENV.NAME: a constant, as gojq reads it from the environment.
			sf := t.SuffixList[0]
			if sf.Iter || sf.Optional {
				return nil
			}
			name, ok := indexName(sf.Index)
			if !ok || name == "" {
				return nil
			}
			if v, ok := fc.env[name]; ok {
				return litNode{jval{k: kString, s: v}}
			}
			return litNode{jval{k: kNull}}
		}
		if f.Name != "header" || len(f.Args) != 1 || len(t.SuffixList) > 0 {
			return nil
		}
		if s, ok := stringLit(f.Args[0]); ok {
			return headerNode{name: s}
		}
		return nil
	case gojq.TermTypeNull, gojq.TermTypeTrue, gojq.TermTypeFalse, gojq.TermTypeNumber, gojq.TermTypeString, gojq.TermTypeUnary:
		if len(t.SuffixList) > 0 {
			return nil
		}
		if t.Type == gojq.TermTypeString && (t.Str == nil || t.Str.Queries != nil) {
			return nil
		}
		if t.Type == gojq.TermTypeUnary && (t.Unary.Op != gojq.OpSub || t.Unary.Term.Type != gojq.TermTypeNumber || len(t.Unary.Term.SuffixList) > 0) {
			return nil
		}
		return literal(t)
	}
	return nil
}

// indexName is the field an index names, .a or ."a" or .["a"].
func indexName(ix *gojq.Index) (string, bool) {
	if ix == nil || ix.IsSlice || ix.End != nil {
		return "", false
	}
	var s string
	switch {
	case ix.Name != "" && ix.Str == nil && ix.Start == nil:
		s = ix.Name
	case ix.Str != nil && ix.Start == nil:
		if ix.Str.Queries != nil {
			return "", false
		}
		s = ix.Str.Str
	case ix.Start != nil && ix.Name == "" && ix.Str == nil:
		var ok bool
		if s, ok = stringLit(ix.Start); !ok {
			return "", false
		}
	default:
		return "", false
	}
	// Keys are compared as decoded text: a name that is not UTF-8 can
	// only match by way of replacement characters; gojq decides.
	return s, utf8.ValidString(s)
}

func stringLit(q *gojq.Query) (string, bool) {
	if q == nil || q.Term == nil || q.Left != nil || q.Right != nil || q.Meta != nil || len(q.FuncDefs) > 0 {
		return "", false
	}
	t := q.Term
	if t.Type != gojq.TermTypeString || t.Str == nil || t.Str.Queries != nil || len(t.SuffixList) > 0 {
		return "", false
	}
	return t.Str.Str, true
}

// literal evaluates a literal with gojq itself, so that it means what it
// means to gojq, and turns a number into the float64 gojq compares a
// document's number with.
func literal(t *gojq.Term) node {
	q, err := gojq.Parse(t.String())
	if err != nil {
		return nil
	}
	v, ok := q.Run(nil).Next()
	if !ok {
		return nil
	}
	switch v := v.(type) {
	case nil:
		return litNode{jval{k: kNull}}
	case bool:
		if v {
			return litNode{jval{k: kTrue}}
		}
		return litNode{jval{k: kFalse}}
	case int:
		return litNode{jval{k: kNumber, n: float64(v)}}
	case float64:
		return litNode{jval{k: kNumber, n: v}}
	case *big.Int:
		return litNode{jval{k: kNumber, n: bigFloat(v)}}
	case string:
		return litNode{jval{k: kString, s: v}}
	}
	return nil
}

// bigFloat is the float64 gojq compares a big integer as.
func bigFloat(x *big.Int) float64 {
	if x.IsInt64() {
		return float64(x.Int64())
	}
	if f, err := strconv.ParseFloat(x.String(), 64); err == nil {
		return f
	}
	return math.Inf(x.Sign())
}

type litNode struct{ v jval }

func (n litNode) eval(*fctx) (jval, status) { return n.v, stOK }

type headerNode struct{ name string }

func (n headerNode) eval(c *fctx) (jval, status) {
	for _, h := range c.rec.Headers {
		if h.Key == n.name {
			if h.Value == nil {
				return jval{k: kNull}, stOK
			}
			return jval{k: kString, b: h.Value, bytes: true}, stOK
		}
	}
	return jval{k: kNull}, stOK
}

type logicNode struct {
	and  bool
	l, r node
}

func (n *logicNode) eval(c *fctx) (jval, status) {
	v, st := n.l.eval(c)
	if st != stOK {
		return v, st
	}
	if v.truthy() != n.and {
		return boolVal(!n.and), stOK // false and _, true or _
	}
	v, st = n.r.eval(c)
	if st != stOK {
		return v, st
	}
	return boolVal(v.truthy()), stOK
}

type notNode struct{ x node }

func (n notNode) eval(c *fctx) (jval, status) {
	v, st := n.x.eval(c)
	if st != stOK {
		return v, st
	}
	return boolVal(!v.truthy()), stOK
}

func boolVal(b bool) jval {
	if b {
		return jval{k: kTrue}
	}
	return jval{k: kFalse}
}

type cmpNode struct {
	op   gojq.Operator
	l, r node
}

func (n *cmpNode) eval(c *fctx) (jval, status) {
	// gojq evaluates the right operand first; with single values and any
	// error being an error, the order changes nothing.
	l, st := n.l.eval(c)
	if st != stOK {
		return l, st
	}
	r, st := n.r.eval(c)
	if st != stOK {
		return r, st
	}
	d, ok := compare(l, r)
	if !ok {
		return jval{}, stUnsure
	}
	var b bool
	switch n.op {
	case gojq.OpEq:
		b = d == 0
	case gojq.OpNe:
		b = d != 0
	case gojq.OpLt:
		b = d < 0
	case gojq.OpLe:
		b = d <= 0
	case gojq.OpGt:
		b = d > 0
	case gojq.OpGe:
		b = d >= 0
	}
	return boolVal(b), stOK
}

// compare is gojq.Compare on the values l and r stand for; false when it
// needs the contents of an array or object.
func compare(l, r jval) (int, bool) {
	if l.k != r.k {
		return cmp.Compare(l.k, r.k), true
	}
	switch l.k {
	case kNumber:
		switch {
		case l.n < r.n || math.IsNaN(l.n):
			return -1, true
		case l.n == r.n:
			return 0, true
		}
		return 1, true
	case kString:
		switch {
		case l.bytes && r.bytes:
			return bytes.Compare(l.b, r.b), true
		case l.bytes:
			return -strings.Compare(r.s, string(l.b)), true
		case r.bytes:
			return strings.Compare(l.s, string(r.b)), true
		}
		return strings.Compare(l.s, r.s), true
	case kArray, kObject:
		return 0, false
	}
	return 0, true
}

type pathNode struct {
	root int
	segs []string
}

func (n *pathNode) eval(c *fctx) (jval, status) {
	var side *side
	switch n.root {
	case rTopic:
		return index(jval{k: kString, s: c.rec.Topic}, n.segs)
	case rPartition:
		if c.rec.Partition < 0 {
			return index(jval{k: kNull}, n.segs)
		}
		return index(jval{k: kNumber, n: float64(c.rec.Partition)}, n.segs)
	case rOffset:
		if c.rec.Offset < 0 {
			return index(jval{k: kNull}, n.segs)
		}
		return index(jval{k: kNumber, n: float64(c.rec.Offset)}, n.segs)
	case rTimestamp:
		return index(jval{k: kNumber, n: float64(c.rec.Timestamp)}, n.segs)
	case rKey, rKeyEncoding:
		side = c.side(&c.key, c.rec.Key, c.rec.KeyJSON, c.rec.KeyValid)
	case rValue, rValueEncoding:
		side = c.side(&c.value, c.rec.Value, c.rec.ValueJSON, c.rec.ValueValid)
	}
	if n.root == rKeyEncoding || n.root == rValueEncoding {
		switch side.form {
		case fJSON:
			return index(jval{k: kString, s: string(envelope.JSON)}, n.segs)
		case fBase64:
			return index(jval{k: kString, s: string(envelope.Base64)}, n.segs)
		}
		return index(jval{k: kNull}, n.segs) // absent
	}
	switch side.form {
	case fNull:
		return index(jval{k: kNull}, n.segs)
	case fText:
		return index(jval{k: kString, b: side.b, bytes: true}, n.segs)
	case fBase64:
		return index(jval{k: kString, s: base64.StdEncoding.EncodeToString(side.b)}, n.segs)
	}
	b := side.b
	for d, s := range n.segs {
		i := skipSpace(b, 0)
		if d == 0 && b[i] == '{' {
			v, found := side.member(b, i, s)
			if !found {
				return jval{k: kNull}, stOK
			}
			b = v
			continue
		}
		switch b[i] {
		case 'n':
			return jval{k: kNull}, stOK // null.x is null
		case '{':
			v, found := member(b, i, s)
			if !found {
				return jval{k: kNull}, stOK
			}
			b = v
		default:
			return jval{}, stErr
		}
	}
	return scalar(b)
}

// index is a path's remaining fields on a value that is not a JSON text:
// nothing, or null's fields (null), or an error.
func index(v jval, segs []string) (jval, status) {
	if len(segs) == 0 {
		return v, stOK
	}
	if v.k == kNull {
		return v, stOK
	}
	return jval{}, stErr
}

// Forms of a key or value in the document.
const (
	fUnknown = iota
	fNull
	fJSON
	fText
	fBase64
)

// side is a record's key or value as the document holds it, worked out
// once per message.
type side struct {
	form int
	b    []byte
	// members are the top-level object's, once scanned (scanned).
	members []kv
	scanned bool
}

// kv is an object member, as offsets in the text (no pointers, so no
// write barriers): its key token, with quotes, and its value.
type kv struct {
	ks, ke, vs, ve int32
	plain          bool // the key is ASCII without escapes: its bytes are its text
}

// member is name's value in the top-level object at b[i], from one scan
// of it shared by every path: the last one, as a map keeps the last of
// duplicate keys.
func (s *side) member(b []byte, i int, name string) ([]byte, bool) {
	if !s.scanned {
		s.members, _ = members(s.members[:0], b, i)
		s.scanned = true
	}
	for j := len(s.members) - 1; j >= 0; j-- {
		m := s.members[j]
		if m.plain && string(b[m.ks+1:m.ke-1]) == name || !m.plain && keyIs(b[m.ks:m.ke], name) {
			return b[m.vs:m.ve], true
		}
	}
	return nil, false
}

// members appends the members of the valid JSON object at b[i] to dst,
// and says whether it holds a number too large for a float64.
func members(dst []kv, b []byte, i int) ([]kv, bool) {
	over := false
	i++ // {
	for {
		i = skipSpace(b, i)
		if b[i] == '}' {
			return dst, over
		}
		ks := i
		plain := true
		for i++; i < len(b) && b[i] != '"'; i++ {
			if c := b[i]; c == '\\' || c >= utf8.RuneSelf {
				plain = false
				if c == '\\' {
					i++
				}
			}
		}
		i++
		ke := i
		i = skipSpace(b, i) + 1 // :
		i = skipSpace(b, i)
		vs := i
		var o bool
		i, o = skipValue(b, i)
		over = over || o
		dst = append(dst, kv{int32(ks), int32(ke), int32(vs), int32(i), plain})
		i = skipSpace(b, i)
		if b[i] == ',' {
			i++
		}
	}
}

// fctx is one message being judged by the fast path.
type fctx struct {
	rec        *envelope.Record
	key, value side
}

// release lets go of the message: its bytes may be a slice of a whole
// fetch response, which must not outlive it.
func (c *fctx) release() {
	c.rec, c.key.b, c.value.b = nil, nil, nil
}

func (c *fctx) reset(rec *envelope.Record) {
	c.rec = rec
	c.key.form, c.value.form = fUnknown, fUnknown
	c.key.scanned, c.value.scanned = false, false
}

// side works out what setField makes of b: parsed JSON when asJSON and b
// is JSON that encoding/json takes (valid, and no number out of float64's
// range), else text when UTF-8, else base64.
func (c *fctx) side(s *side, b []byte, asJSON, valid bool) *side {
	if s.form != fUnknown {
		return s
	}
	s.b = b
	switch {
	case b == nil:
		s.form = fNull
	case asJSON && (valid || jsonvalid.Valid(b)) && !s.overflows():
		s.form = fJSON
	case utf8.Valid(b):
		s.form = fText
	default:
		s.form = fBase64
	}
	return s
}

// overflows reports whether the valid JSON s.b has a number that does not
// fit a float64, which encoding/json refuses to decode into an any. An
// object's members are noted on the way, for the paths into it.
func (s *side) overflows() bool {
	i := skipSpace(s.b, 0)
	if s.b[i] != '{' {
		_, over := skipValue(s.b, i)
		return over
	}
	var over bool
	s.members, over = members(s.members[:0], s.b, i)
	s.scanned = true
	return over
}

// numberOverflows reports whether the number token b does not fit a
// float64. Without an exponent, only 309 digits and more reach 1.8e308.
func numberOverflows(b []byte) bool {
	if len(b) <= 300 && bytes.IndexAny(b, "eE") < 0 {
		return false
	}
	_, err := strconv.ParseFloat(string(b), 64)
	return err != nil
}

func numberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string token starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the valid JSON value starting at
// b[i], and whether it holds a number too large for a float64.
func skipValue(b []byte, i int) (int, bool) {
	over := false
	switch b[i] {
	case '"':
		return skipString(b, i), false
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch c := b[i]; {
			case c == '"':
				i = skipString(b, i)
				continue
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				if depth == 0 {
					return i + 1, over
				}
			case c == '-' || c >= '0' && c <= '9':
				j := i
				for j < len(b) && numberByte(b[j]) {
					j++
				}
				over = over || numberOverflows(b[i:j])
				i = j
				continue
			}
			i++
		}
		return i, over
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if c := b[i]; c == '-' || c >= '0' && c <= '9' {
		over = numberOverflows(b[i:j])
	}
	return j, over
}

// member finds name's value in the valid JSON object at b[i]: the last
// one, as a map keeps the last of duplicate keys.
func member(b []byte, i int, name string) ([]byte, bool) {
	var v []byte
	found := false
	i++ // {
	for {
		i = skipSpace(b, i)
		if b[i] == '}' {
			return v, found
		}
		ks := i
		i = skipString(b, i)
		match := keyIs(b[ks:i], name)
		i = skipSpace(b, i) + 1 // :
		i = skipSpace(b, i)
		vs := i
		i, _ = skipValue(b, i)
		if match {
			v, found = b[vs:i], true
		}
		i = skipSpace(b, i)
		if b[i] == ',' {
			i++
		}
	}
}

// keyIs reports whether the key token tok (with its quotes) decodes to
// name, as encoding/json decodes it.
func keyIs(tok []byte, name string) bool {
	raw := tok[1 : len(tok)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		if string(raw) == name {
			return true // name is UTF-8, so raw is, and decodes to itself
		}
		if utf8.Valid(raw) {
			return false
		}
	}
	var s string
	if json.Unmarshal(tok, &s) != nil {
		return false
	}
	return s == name
}

// scalar is the valid JSON value b as a jval.
func scalar(b []byte) (jval, status) {
	i := skipSpace(b, 0)
	b = b[i:]
	switch b[0] {
	case 'n':
		return jval{k: kNull}, stOK
	case 't':
		return jval{k: kTrue}, stOK
	case 'f':
		return jval{k: kFalse}, stOK
	case '{':
		return jval{k: kObject}, stOK
	case '[':
		return jval{k: kArray}, stOK
	case '"':
		tok := b[:skipString(b, 0)]
		raw := tok[1 : len(tok)-1]
		if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
			return jval{k: kString, b: raw, bytes: true}, stOK
		}
		var s string
		if err := json.Unmarshal(tok, &s); err != nil {
			return jval{}, stUnsure
		}
		return jval{k: kString, s: s}, stOK
	}
	j := 0
	for j < len(b) && numberByte(b[j]) {
		j++
	}
	f, err := strconv.ParseFloat(string(b[:j]), 64)
	if err != nil {
		return jval{}, stUnsure
	}
	return jval{k: kNumber, n: f}, stOK
}
