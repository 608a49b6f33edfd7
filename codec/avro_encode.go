package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	jsoniter "github.com/json-iterator/go"
)

// encode turns JSON text into Avro binary. It takes plain JSON and the
// Avro specification's JSON alike: a union's value may be bare or tagged
// ({"string": "x"}); a field left out gets its default; logical types take
// the readable forms decode writes, or their underlying numbers.
func (s *avroSchema) encode(dst, text []byte) ([]byte, error) {
	v, err := parseJSON(text)
	if err != nil {
		return nil, err
	}
	return s.enc(dst, s.root, v, 0)
}

// parseJSON reads exactly one JSON value, keeping numbers as text so that
// longs and decimals never pass through a float.
func parseJSON(text []byte) (any, error) {
	if !json.Valid(text) {
		if dec := json.NewDecoder(bytes.NewReader(text)); dec.Decode(new(any)) == nil && dec.More() {
			return nil, &FieldError{Msg: "more than one JSON value"}
		}
		return nil, jsonError(text)
	}
	var v any
	if err := jsonNumbers().Unmarshal(text, &v); err != nil {
		return nil, jsonError(text)
	}
	return v, nil
}

// jsonNumbers reads JSON into any as encoding/json does with UseNumber,
// several times faster; encoding/json has checked the text first, so that
// both agree on what JSON is. Made on first use, not at every start.
var jsonNumbers = sync.OnceValue(jsoniter.Config{UseNumber: true}.Froze)

// at puts seg (a field name, "[3]" or `["key"]`) in front of a
// FieldError's path.
func at(err error, seg string) error {
	fe, ok := err.(*FieldError)
	if !ok {
		return err
	}
	switch {
	case fe.Path == "":
		fe.Path = seg
	case fe.Path[0] == '[':
		fe.Path = seg + fe.Path
	default:
		fe.Path = seg + "." + fe.Path
	}
	return fe
}

func wrong(format string, args ...any) error {
	return &FieldError{Msg: fmt.Sprintf(format, args...)}
}

// describe names a JSON value for messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return "the number " + x.String()
	case string:
		if len(x) > 40 {
			x = x[:37] + "..."
		}
		return "the string " + strconv.Quote(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func (s *avroSchema) enc(dst []byte, n *anode, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, wrong("nested more than %d deep", maxDepth)
	}
	switch n.kind {
	case aNull:
		if v != nil {
			return nil, wrong("want null, got %s", describe(v))
		}
		return dst, nil
	case aBool:
		b, ok := v.(bool)
		if !ok {
			return nil, wrong("want true or false, got %s", describe(v))
		}
		if b {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case aInt, aLong:
		i, err := s.integer(n, v)
		if err != nil {
			return nil, err
		}
		return binary.AppendVarint(dst, i), nil
	case aFloat, aDouble:
		f, err := float(n, v)
		if err != nil {
			return nil, err
		}
		if n.kind == aFloat {
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
	case aString:
		str, ok := v.(string)
		if !ok {
			return nil, wrong("want a string, got %s", describe(v))
		}
		if n.logical == lUUID && s.mode == AvroPlain && !validUUID(str) {
			return nil, wrong("%s is not a UUID (want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", describe(v))
		}
		return append(binary.AppendVarint(dst, int64(len(str))), str...), nil
	case aBytes, aFixed:
		b, err := s.byteValue(n, v)
		if err != nil {
			return nil, err
		}
		if n.kind == aFixed {
			if len(b) != n.size {
				return nil, wrong("want %d bytes for fixed %s, got %d", n.size, n.name, len(b))
			}
			return append(dst, b...), nil
		}
		return append(binary.AppendVarint(dst, int64(len(b))), b...), nil
	case aEnum:
		str, ok := v.(string)
		if !ok {
			return nil, wrong("want a symbol of %s (%s), got %s", n.name, strings.Join(n.symbols, ", "), describe(v))
		}
		i, ok := n.symbolIndex[str]
		if !ok {
			return nil, wrong("%q is not a symbol of %s (want %s)", str, n.name, strings.Join(n.symbols, ", "))
		}
		return binary.AppendVarint(dst, int64(i)), nil
	case aArray:
		items, ok := v.([]any)
		if !ok {
			return nil, wrong("want an array, got %s", describe(v))
		}
		if len(items) > 0 {
			dst = binary.AppendVarint(dst, int64(len(items)))
			for i, it := range items {
				var err error
				if dst, err = s.enc(dst, n.items, it, depth+1); err != nil {
					return nil, at(err, "["+strconv.Itoa(i)+"]")
				}
			}
		}
		return append(dst, 0), nil
	case aMap:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, wrong("want an object (an Avro map), got %s", describe(v))
		}
		if len(m) > 0 {
			dst = binary.AppendVarint(dst, int64(len(m)))
			for _, k := range sortedKeys(m) {
				dst = append(binary.AppendVarint(dst, int64(len(k))), k...)
				var err error
				if dst, err = s.enc(dst, n.items, m[k], depth+1); err != nil {
					return nil, at(err, "["+strconv.Quote(k)+"]")
				}
			}
		}
		return append(dst, 0), nil
	case aRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, wrong("want an object (record %s), got %s", n.name, describe(v))
		}
		for _, f := range n.fields {
			fv, ok := m[f.name]
			switch {
			case ok:
				var err error
				if dst, err = s.enc(dst, f.node, fv, depth+1); err != nil {
					return nil, at(err, f.name)
				}
			case f.hasDef:
				dst = append(dst, f.def...)
			default:
				return nil, at(wrong("missing, and the field has no default"), f.name)
			}
		}
		if len(m) > len(n.fields) || len(m) > 0 && !allKnown(n, m) {
			for _, k := range sortedKeys(m) {
				if _, ok := n.fieldIndex[k]; !ok {
					return nil, at(wrong("record %s has no such field", n.name), k)
				}
			}
		}
		return dst, nil
	case aUnion:
		return s.union(dst, n, v, depth)
	}
	return nil, wrong("unsupported Avro type %d", n.kind)
}

func allKnown(n *anode, m map[string]any) bool {
	for k := range m {
		if _, ok := n.fieldIndex[k]; !ok {
			return false
		}
	}
	return true
}

// union picks the branch for v: null for null; the named one for a tagged
// value ({"string": "x"}, {"com.example.Rec": {...}}); otherwise the first
// branch that takes the bare value.
func (s *avroSchema) union(dst []byte, n *anode, v any, depth int) ([]byte, error) {
	mark := len(dst)
	if v == nil {
		for i, b := range n.branches {
			if b.kind == aNull {
				return binary.AppendVarint(dst, int64(i)), nil
			}
		}
		return nil, wrong("null is not allowed (want %s)", branchNames(n))
	}
	var taggedErr error
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, inner := range m {
			for i, b := range n.branches {
				if b.name == k || b.short != "" && b.short == k {
					out, err := s.enc(binary.AppendVarint(dst, int64(i)), b, inner, depth+1)
					if err == nil {
						return out, nil
					}
					dst, taggedErr = dst[:mark], at(err, k)
				}
			}
		}
	}
	var lastErr error
	tried := 0
	for i, b := range n.branches {
		if b.kind == aNull || !plausible(b, v) {
			continue
		}
		tried++
		out, err := s.enc(binary.AppendVarint(dst, int64(i)), b, v, depth+1)
		if err == nil {
			return out, nil
		}
		dst, lastErr = dst[:mark], err
	}
	if taggedErr != nil {
		return nil, taggedErr
	}
	if tried == 1 {
		return nil, lastErr
	}
	return nil, wrong("%s matches none of the union's types (%s)", describe(v), branchNames(n))
}

func branchNames(n *anode) string {
	names := make([]string, len(n.branches))
	for i, b := range n.branches {
		names[i] = b.name
	}
	return strings.Join(names, ", ")
}

// plausible says whether v is of a JSON kind branch b could take, so that
// a union reports the one branch that nearly fitted.
func plausible(b *anode, v any) bool {
	switch v.(type) {
	case bool:
		return b.kind == aBool
	case json.Number:
		switch b.kind {
		case aInt, aLong, aFloat, aDouble:
			return true
		case aBytes, aFixed:
			return b.logical == lDecimal
		}
	case string:
		switch b.kind {
		case aString, aBytes, aFixed, aEnum:
			return true
		case aInt, aLong:
			return b.logical != lNone
		case aFloat, aDouble:
			x := v.(string)
			return x == "NaN" || x == "Infinity" || x == "-Infinity"
		}
	case []any:
		return b.kind == aArray
	case map[string]any:
		return b.kind == aRecord || b.kind == aMap || b.logical == lDuration
	}
	return false
}

// integer reads an int or long, or the readable form of its logical type.
func (s *avroSchema) integer(n *anode, v any) (int64, error) {
	var i int64
	switch x := v.(type) {
	case json.Number:
		var err error
		if i, err = parseInteger(x.String()); err != nil {
			return 0, err
		}
	case string:
		var err error
		if i, err = parseLogical(n, x); err != nil {
			return 0, err
		}
	default:
		return 0, wrong("want %s, got %s", wantInteger(n), describe(v))
	}
	if n.kind == aInt && (i < math.MinInt32 || i > math.MaxInt32) {
		return 0, wrong("%d is out of range for an int", i)
	}
	return i, nil
}

func wantInteger(n *anode) string {
	switch n.logical {
	case lDate:
		return "a date, YYYY-MM-DD (or days since 1970-01-01)"
	case lTimeMillis, lTimeMicros:
		return "a time of day, HH:MM:SS.sss"
	case lTimestampMillis:
		return "a timestamp, RFC 3339 text or milliseconds since the epoch"
	case lTimestampMicros:
		return "a timestamp, RFC 3339 text or microseconds since the epoch"
	case lLocalTimestampMillis, lLocalTimestampMicros:
		return "a local timestamp, YYYY-MM-DDTHH:MM:SS.sss"
	}
	if n.kind == aInt {
		return "an int"
	}
	return "a long"
}

func parseInteger(s string) (int64, error) {
	i, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		return i, nil
	}
	// 1e3 and 2.0 are integers too; 1.5 is not, and nothing is rounded.
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() || !r.Num().IsInt64() || len(s) > 400 {
		return 0, wrong("want an integer, got %s", s)
	}
	return r.Num().Int64(), nil
}

func parseLogical(n *anode, s string) (int64, error) {
	l := n.logical
	var t time.Time
	var err error
	switch l {
	case lDate:
		if t, err = time.Parse(layoutDate, s); err != nil {
			return 0, wrong("%q is not a date (want YYYY-MM-DD or a number of days)", s)
		}
		return t.Unix() / 86400, nil
	case lTimeMillis, lTimeMicros:
		if t, err = time.Parse("15:04:05.999999999", s); err != nil {
			return 0, wrong("%q is not a time of day (want HH:MM:SS or HH:MM:SS.ffffff)", s)
		}
		d := t.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))
		return exactUnit(d.Nanoseconds(), l, s)
	case lTimestampMillis, lTimestampMicros:
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return 0, wrong("%q is not an RFC 3339 timestamp (want 2006-01-02T15:04:05.000Z or a number)", s)
		}
		return exactTime(t, l, s)
	case lLocalTimestampMillis, lLocalTimestampMicros:
		if t, err = time.Parse("2006-01-02T15:04:05.999999999", s); err != nil {
			return 0, wrong("%q is not a local timestamp (want 2006-01-02T15:04:05.000, no zone, or a number)", s)
		}
		return exactTime(t, l, s)
	}
	return 0, wrong("want %s, got %s", wantInteger(n), describe(s))
}

func exactTime(t time.Time, l alogical, s string) (int64, error) {
	if t.Year() < 1 || t.Year() > 9999 {
		return 0, wrong("%q is out of range", s)
	}
	sec := t.Unix()
	ns := int64(t.Nanosecond())
	switch l {
	case lTimestampMillis, lLocalTimestampMillis:
		if ns%1e6 != 0 {
			return 0, wrong("%q is more precise than the milliseconds the schema keeps", s)
		}
		return sec*1e3 + ns/1e6, nil
	default:
		if ns%1e3 != 0 {
			return 0, wrong("%q is more precise than the microseconds the schema keeps", s)
		}
		return sec*1e6 + ns/1e3, nil
	}
}

func exactUnit(ns int64, l alogical, s string) (int64, error) {
	if l == lTimeMillis {
		if ns%1e6 != 0 {
			return 0, wrong("%q is more precise than the milliseconds the schema keeps", s)
		}
		return ns / 1e6, nil
	}
	if ns%1e3 != 0 {
		return 0, wrong("%q is more precise than the microseconds the schema keeps", s)
	}
	return ns / 1e3, nil
}

func float(n *anode, v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil {
			return 0, wrong("%s is out of range for a %s", x, n.name)
		}
		if n.kind == aFloat && !math.IsInf(f, 0) && math.IsInf(float64(float32(f)), 0) {
			return 0, wrong("%s is out of range for a float", x)
		}
		return f, nil
	case string:
		switch x {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	return 0, wrong("want a number (or \"NaN\", \"Infinity\", \"-Infinity\"), got %s", describe(v))
}

// byteValue reads bytes or fixed: a decimal, a UUID, a duration, or base64
// (plain JSON) or code points (Avro JSON).
func (s *avroSchema) byteValue(n *anode, v any) ([]byte, error) {
	logical := n.logical
	if _, str := v.(string); str && s.mode == AvroNative {
		logical = lNone // Avro JSON holds the underlying bytes
	}
	switch logical {
	case lDecimal:
		return decimalBytes(n, v)
	case lDuration:
		if m, ok := v.(map[string]any); ok {
			b := make([]byte, 0, 12)
			for _, k := range []string{"months", "days", "milliseconds"} {
				num, ok := m[k].(json.Number)
				x, err := strconv.ParseUint(num.String(), 10, 32)
				if !ok || err != nil {
					return nil, at(wrong("want a whole number from 0 to 4294967295, got %s", describe(m[k])), k)
				}
				b = binary.LittleEndian.AppendUint32(b, uint32(x))
			}
			if len(m) != 3 {
				return nil, wrong("want only months, days and milliseconds")
			}
			return b, nil
		}
	}
	str, ok := v.(string)
	if !ok {
		return nil, wrong("want a string of %s, got %s", bytesForm(s.mode), describe(v))
	}
	if s.mode == AvroPlain {
		b, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(str); err != nil {
				return nil, wrong("%s is not base64", describe(v))
			}
		}
		return b, nil
	}
	b := make([]byte, 0, len(str))
	for _, r := range str {
		if r > 0xff {
			return nil, wrong("%s has a character above U+00FF, which Avro JSON bytes cannot hold", describe(v))
		}
		b = append(b, byte(r))
	}
	return b, nil
}

func bytesForm(m AvroJSON) string {
	if m == AvroPlain {
		return "base64"
	}
	return "code points U+0000 to U+00FF"
}

func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// decimalBytes turns a decimal, a JSON string or number, into its unscaled
// two's-complement bytes, exactly: more fraction digits than the scale, or
// more digits than the precision, is an error, never a rounding.
func decimalBytes(n *anode, v any) ([]byte, error) {
	var text string
	switch x := v.(type) {
	case string:
		text = strings.TrimSpace(x)
	case json.Number:
		text = x.String()
	default:
		return nil, wrong("want a decimal, as a string or a number, got %s", describe(v))
	}
	if len(text) > 200 || strings.ContainsAny(text, "/") || hugeExponent(text) {
		return nil, wrong("%q is not a decimal", text)
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return nil, wrong("%q is not a decimal", text)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n.scale)), nil)))
	if !r.IsInt() {
		return nil, wrong("%s has more decimal places than the schema's scale of %d", text, n.scale)
	}
	u := r.Num()
	if n.precision > 0 && len(new(big.Int).Abs(u).String()) > n.precision && u.Sign() != 0 {
		return nil, wrong("%s has more digits than the schema's precision of %d", text, n.precision)
	}
	b := twosComplement(u)
	if n.kind == aFixed {
		if len(b) > n.size {
			return nil, wrong("%s does not fit fixed %s of %d bytes", text, n.name, n.size)
		}
		pad := byte(0)
		if u.Sign() < 0 {
			pad = 0xff
		}
		out := make([]byte, n.size)
		for i := range out[:n.size-len(b)] {
			out[i] = pad
		}
		copy(out[n.size-len(b):], b)
		return out, nil
	}
	return b, nil
}

// hugeExponent spots 1e999999999, which big.Rat would try to expand.
func hugeExponent(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return false
	}
	e, err := strconv.Atoi(s[i+1:])
	return err != nil || e > 1000 || e < -1000
}

// twosComplement is u's shortest big-endian two's-complement form.
func twosComplement(u *big.Int) []byte {
	if u.Sign() >= 0 {
		b := u.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -u - 1, inverted, is u in two's complement.
	m := new(big.Int).Neg(u)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
