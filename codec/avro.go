package codec

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/streamctl/streamctl/internal/jsonstr"
)

// Avro: hamba/avro parses the schemas (references included, through a
// cache of named types), and streamctl walks the parsed schema itself to
// go between Avro binary and JSON text. The walk keeps fields in schema
// order, lets unions be bare, fills in defaults and shows logical types
// readably, none of which decoding into Go values and marshalling does.

type avroFormat struct{}

func (avroFormat) compile(s Schema, refs []NamedSchema, cfg *SchemaConfig) (compiled, error) {
	cache := &avro.SchemaCache{}
	for _, r := range refs {
		if r.Type != Avro {
			return nil, fmt.Errorf("reference %q is %s, not Avro", r.Name, schemaTypeName(r.Type))
		}
		if _, err := avro.ParseWithCache(r.Text, "", cache); err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.Name, err)
		}
	}
	parsed, err := avro.ParseWithCache(s.Text, "", cache)
	if err != nil {
		return nil, err
	}
	b := &avroBuilder{named: map[string]*anode{}}
	root, err := b.build(parsed)
	if err != nil {
		return nil, err
	}
	mode := AvroPlain
	if cfg != nil {
		mode = cfg.AvroJSON
	}
	return &avroSchema{root: root, mode: mode}, nil
}

type akind uint8

const (
	aNull akind = iota
	aBool
	aInt
	aLong
	aFloat
	aDouble
	aBytes
	aString
	aRecord
	aEnum
	aArray
	aMap
	aUnion
	aFixed
)

type alogical uint8

const (
	lNone alogical = iota
	lDecimal
	lUUID
	lDate
	lTimeMillis
	lTimeMicros
	lTimestampMillis
	lTimestampMicros
	lLocalTimestampMillis
	lLocalTimestampMicros
	lDuration
)

// anode is one type of a parsed schema, in the form the walks need.
type anode struct {
	kind    akind
	logical alogical
	// name is the full name of a named type, else the type's name: what a
	// tagged union branch is called.
	name, short      string
	scale, precision int
	size             int // fixed
	fields           []afield
	fieldIndex       map[string]int
	symbols          []string
	symbolIndex      map[string]int
	items            *anode // array items, map values
	branches         []*anode
}

type afield struct {
	name   string
	node   *anode
	hasDef bool
	def    []byte // the default, Avro binary
}

type avroBuilder struct {
	named map[string]*anode
}

func (b *avroBuilder) build(s avro.Schema) (*anode, error) {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		if have, ok := b.named[n.FullName()]; ok {
			return have, nil // a recursive or repeated type
		}
	}
	switch s := s.(type) {
	case *avro.NullSchema:
		return &anode{kind: aNull, name: "null"}, nil
	case *avro.PrimitiveSchema:
		return b.primitive(s)
	case *avro.RecordSchema:
		n := &anode{kind: aRecord, name: s.FullName(), short: s.Name(), fieldIndex: map[string]int{}}
		b.named[s.FullName()] = n
		for i, f := range s.Fields() {
			fn, err := b.build(f.Type())
			if err != nil {
				return nil, err
			}
			af := afield{name: f.Name(), node: fn, hasDef: f.HasDefault()}
			if af.hasDef {
				if af.def, err = encodeDefault(nil, fn, f.Default()); err != nil {
					return nil, fmt.Errorf("field %q of %s: default: %w", f.Name(), s.FullName(), err)
				}
			}
			n.fields = append(n.fields, af)
			n.fieldIndex[f.Name()] = i
		}
		return n, nil
	case *avro.EnumSchema:
		n := &anode{kind: aEnum, name: s.FullName(), short: s.Name(), symbols: s.Symbols(), symbolIndex: map[string]int{}}
		for i, sym := range n.symbols {
			n.symbolIndex[sym] = i
		}
		b.named[s.FullName()] = n
		return n, nil
	case *avro.FixedSchema:
		n := &anode{kind: aFixed, name: s.FullName(), short: s.Name(), size: s.Size()}
		setLogical(n, s.Logical())
		b.named[s.FullName()] = n
		return n, nil
	case *avro.ArraySchema:
		items, err := b.build(s.Items())
		if err != nil {
			return nil, err
		}
		return &anode{kind: aArray, name: "array", items: items}, nil
	case *avro.MapSchema:
		values, err := b.build(s.Values())
		if err != nil {
			return nil, err
		}
		return &anode{kind: aMap, name: "map", items: values}, nil
	case *avro.UnionSchema:
		n := &anode{kind: aUnion, name: "union"}
		for _, t := range s.Types() {
			bn, err := b.build(t)
			if err != nil {
				return nil, err
			}
			n.branches = append(n.branches, bn)
		}
		return n, nil
	}
	return nil, fmt.Errorf("unsupported Avro type %s", s.Type())
}

func (b *avroBuilder) primitive(s *avro.PrimitiveSchema) (*anode, error) {
	n := &anode{name: string(s.Type())}
	switch s.Type() {
	case avro.Null:
		n.kind = aNull
	case avro.Boolean:
		n.kind = aBool
	case avro.Int:
		n.kind = aInt
	case avro.Long:
		n.kind = aLong
	case avro.Float:
		n.kind = aFloat
	case avro.Double:
		n.kind = aDouble
	case avro.Bytes:
		n.kind = aBytes
	case avro.String:
		n.kind = aString
	default:
		return nil, fmt.Errorf("unsupported Avro type %s", s.Type())
	}
	setLogical(n, s.Logical())
	return n, nil
}

// setLogical records the logical types streamctl shows readably; any other
// is shown as its underlying type, as the specification says readers do.
func setLogical(n *anode, l avro.LogicalSchema) {
	if l == nil {
		return
	}
	t := l.Type()
	switch {
	case t == avro.Decimal && (n.kind == aBytes || n.kind == aFixed):
		if d, ok := l.(*avro.DecimalLogicalSchema); ok {
			n.logical, n.scale, n.precision = lDecimal, d.Scale(), d.Precision()
		}
	case t == avro.UUID && n.kind == aString:
		n.logical = lUUID
	case t == avro.Date && n.kind == aInt:
		n.logical = lDate
	case t == avro.TimeMillis && n.kind == aInt:
		n.logical = lTimeMillis
	case t == avro.TimeMicros && n.kind == aLong:
		n.logical = lTimeMicros
	case t == avro.TimestampMillis && n.kind == aLong:
		n.logical = lTimestampMillis
	case t == avro.TimestampMicros && n.kind == aLong:
		n.logical = lTimestampMicros
	case t == avro.LocalTimestampMillis && n.kind == aLong:
		n.logical = lLocalTimestampMillis
	case t == avro.LocalTimestampMicros && n.kind == aLong:
		n.logical = lLocalTimestampMicros
	case t == avro.Duration && n.kind == aFixed && n.size == 12:
		n.logical = lDuration
	}
}

// avroSchema is a compiled Avro schema.
type avroSchema struct {
	root *anode
	mode AvroJSON
}

func (s *avroSchema) name() string {
	switch s.root.kind {
	case aRecord, aEnum, aFixed:
		return s.root.name
	}
	return ""
}

// maxDepth bounds nesting, which a recursive schema lets data choose.
const maxDepth = 1000

// avroReader reads Avro binary from a byte slice.
type avroReader struct {
	b   []byte
	off int
}

var errAvroShort = errors.New("unexpected end of data")

func (r *avroReader) long() (int64, error) {
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		if n == 0 {
			return 0, r.errAt(errAvroShort)
		}
		return 0, r.errAt(errors.New("varint overflows a long"))
	}
	r.off += n
	return v, nil
}

func (r *avroReader) errAt(err error) error {
	return fmt.Errorf("%w at byte %d", err, r.off)
}

func (r *avroReader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, r.errAt(errAvroShort)
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b, nil
}

func (r *avroReader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > int64(len(r.b)-r.off) {
		return nil, r.errAt(fmt.Errorf("length %d exceeds the %d bytes left", n, len(r.b)-r.off))
	}
	return r.take(int(n))
}

// blockCount reads an array or map block header.
func (r *avroReader) blockCount() (int64, error) {
	n, err := r.long()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		if _, err := r.long(); err != nil { // the block's size in bytes
			return 0, err
		}
		n = -n
	}
	if n > int64(len(r.b)-r.off) && n > 0 {
		// every item takes a byte at least, except null, of which no
		// message holds billions
		if n > 1<<24 {
			return 0, r.errAt(fmt.Errorf("block of %d items cannot fit the %d bytes left", n, len(r.b)-r.off))
		}
	}
	return n, nil
}

func (s *avroSchema) decode(dst, payload []byte) ([]byte, error) {
	if dst == nil {
		dst = make([]byte, 0, 2*len(payload)+64) // JSON is about twice the binary
	}
	r := &avroReader{b: payload}
	dst, err := s.decodeNode(dst, r, s.root, 0)
	if err != nil {
		return nil, err
	}
	if r.off != len(payload) {
		return nil, fmt.Errorf("%d bytes left after the value: the data does not fit the schema", len(payload)-r.off)
	}
	return dst, nil
}

func (s *avroSchema) decodeNode(dst []byte, r *avroReader, n *anode, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested more than %d deep", maxDepth)
	}
	plain := s.mode == AvroPlain
	start := r.off
	switch n.kind {
	case aNull:
		return append(dst, "null"...), nil
	case aBool:
		b, err := r.take(1)
		if err != nil {
			return nil, err
		}
		switch b[0] {
		case 0:
			return append(dst, "false"...), nil
		case 1:
			return append(dst, "true"...), nil
		}
		return nil, fmt.Errorf("invalid boolean byte 0x%02x at byte %d", b[0], start)
	case aInt, aLong:
		v, err := r.long()
		if err != nil {
			return nil, err
		}
		if n.kind == aInt && (v < math.MinInt32 || v > math.MaxInt32) {
			return nil, fmt.Errorf("int %d out of range at byte %d", v, start)
		}
		if plain && n.logical != lNone {
			return appendLogicalNumber(dst, n.logical, v), nil
		}
		return strconv.AppendInt(dst, v, 10), nil
	case aFloat:
		b, err := r.take(4)
		if err != nil {
			return nil, err
		}
		return appendFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32), nil
	case aDouble:
		b, err := r.take(8)
		if err != nil {
			return nil, err
		}
		return appendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(b)), 64), nil
	case aString:
		b, err := r.bytes()
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("string is not valid UTF-8 at byte %d", start)
		}
		return jsonstr.Append(dst, string(b)), nil
	case aBytes, aFixed:
		var b []byte
		var err error
		if n.kind == aFixed {
			b, err = r.take(n.size)
		} else {
			b, err = r.bytes()
		}
		if err != nil {
			return nil, err
		}
		if plain {
			switch n.logical {
			case lDecimal:
				return append(append(append(dst, '"'), decimalText(b, n.scale)...), '"'), nil
			case lDuration:
				return appendDuration(dst, b), nil
			}
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, b)
			return append(dst, '"'), nil
		}
		return appendCodePoints(dst, b), nil
	case aEnum:
		i, err := r.long()
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(n.symbols)) {
			return nil, fmt.Errorf("enum %s has no symbol %d at byte %d", n.name, i, start)
		}
		return jsonstr.Append(dst, n.symbols[i]), nil
	case aArray:
		dst = append(dst, '[')
		first := true
		for {
			count, err := r.blockCount()
			if err != nil {
				return nil, err
			}
			if count == 0 {
				break
			}
			for ; count > 0; count-- {
				if !first {
					dst = append(dst, ',')
				}
				first = false
				if dst, err = s.decodeNode(dst, r, n.items, depth+1); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, ']'), nil
	case aMap:
		dst = append(dst, '{')
		first := true
		for {
			count, err := r.blockCount()
			if err != nil {
				return nil, err
			}
			if count == 0 {
				break
			}
			for ; count > 0; count-- {
				if !first {
					dst = append(dst, ',')
				}
				first = false
				k, err := r.bytes()
				if err != nil {
					return nil, err
				}
				dst = append(jsonstr.Append(dst, string(k)), ':')
				if dst, err = s.decodeNode(dst, r, n.items, depth+1); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, '}'), nil
	case aRecord:
		dst = append(dst, '{')
		for i, f := range n.fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(jsonstr.Append(dst, f.name), ':')
			var err error
			if dst, err = s.decodeNode(dst, r, f.node, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case aUnion:
		i, err := r.long()
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(n.branches)) {
			return nil, fmt.Errorf("union index %d, but the union has %d types at byte %d", i, len(n.branches), start)
		}
		b := n.branches[i]
		if plain || b.kind == aNull {
			return s.decodeNode(dst, r, b, depth+1)
		}
		dst = append(jsonstr.Append(append(dst, '{'), b.name), ':')
		if dst, err = s.decodeNode(dst, r, b, depth+1); err != nil {
			return nil, err
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("unsupported Avro type %d", n.kind)
}

// Layouts of the readable logical types. Timestamps are UTC with a fixed
// number of fraction digits, so that they sort as text.
const (
	layoutDate        = "2006-01-02"
	layoutTimeMillis  = "15:04:05.000"
	layoutTimeMicros  = "15:04:05.000000"
	layoutTSMillis    = "2006-01-02T15:04:05.000Z07:00"
	layoutTSMicros    = "2006-01-02T15:04:05.000000Z07:00"
	layoutLocalMillis = "2006-01-02T15:04:05.000"
	layoutLocalMicros = "2006-01-02T15:04:05.000000"
)

func appendLogicalNumber(dst []byte, l alogical, v int64) []byte {
	var t time.Time
	var layout string
	switch l {
	case lDate:
		t, layout = time.Unix(v*86400, 0).UTC(), layoutDate
	case lTimeMillis:
		t, layout = time.UnixMilli(v).UTC(), layoutTimeMillis
	case lTimeMicros:
		t, layout = time.UnixMicro(v).UTC(), layoutTimeMicros
	case lTimestampMillis:
		t, layout = time.UnixMilli(v).UTC(), layoutTSMillis
	case lTimestampMicros:
		t, layout = time.UnixMicro(v).UTC(), layoutTSMicros
	case lLocalTimestampMillis:
		t, layout = time.UnixMilli(v).UTC(), layoutLocalMillis
	case lLocalTimestampMicros:
		t, layout = time.UnixMicro(v).UTC(), layoutLocalMicros
	default:
		return strconv.AppendInt(dst, v, 10)
	}
	if (l == lTimeMillis || l == lTimeMicros) && (v < 0 || t.Day() != 1) {
		return strconv.AppendInt(dst, v, 10) // not a time of day
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return strconv.AppendInt(dst, v, 10) // RFC 3339 has four-digit years
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, layout)
	return append(dst, '"')
}

// appendFloat writes f as JSON: as encoding/json does for finite values,
// and as the strings "NaN", "Infinity" and "-Infinity" otherwise, which
// JSON lacks numbers for.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// 1e-07 as 1e-7, as encoding/json writes it
		if m := len(dst); m-n >= 4 && dst[m-4] == 'e' && dst[m-3] == '-' && dst[m-2] == '0' {
			dst[m-2] = dst[m-1]
			dst = dst[:m-1]
		}
	}
	return dst
}

// appendCodePoints writes bytes as the Avro specification's JSON does:
// a string of the code points U+0000 to U+00FF.
func appendCodePoints(dst, b []byte) []byte {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return jsonstr.Append(dst, string(r))
}

// decimalText renders a big-endian two's-complement unscaled value.
func decimalText(b []byte, scale int) string {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	neg := v.Sign() < 0
	digits := new(big.Int).Abs(v).String()
	if scale > 0 {
		for len(digits) <= scale {
			digits = "0" + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

func appendDuration(dst, b []byte) []byte {
	dst = append(dst, `{"months":`...)
	dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b[0:])), 10)
	dst = append(dst, `,"days":`...)
	dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b[4:])), 10)
	dst = append(dst, `,"milliseconds":`...)
	dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b[8:])), 10)
	return append(dst, '}')
}

// encodeDefault writes a field's default, as hamba parsed it from the
// schema, in Avro binary. A union's default is of its first type.
func encodeDefault(dst []byte, n *anode, v any) ([]byte, error) {
	switch n.kind {
	case aNull:
		return dst, nil
	case aBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%v is not a boolean", v)
		}
		if b {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case aInt, aLong, aEnum:
		if n.kind == aEnum {
			s, _ := v.(string)
			i, ok := n.symbolIndex[s]
			if !ok {
				return nil, fmt.Errorf("%v is not a symbol of %s", v, n.name)
			}
			return binary.AppendVarint(dst, int64(i)), nil
		}
		rv := reflect.ValueOf(v)
		switch {
		case rv.CanInt():
			return binary.AppendVarint(dst, rv.Int()), nil
		case rv.CanFloat():
			return binary.AppendVarint(dst, int64(rv.Float())), nil
		}
		return nil, fmt.Errorf("%v is not a number", v)
	case aFloat, aDouble:
		rv := reflect.ValueOf(v)
		var f float64
		switch {
		case rv.CanFloat():
			f = rv.Float()
		case rv.CanInt():
			f = float64(rv.Int())
		default:
			return nil, fmt.Errorf("%v is not a number", v)
		}
		if n.kind == aFloat {
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
	case aString:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not a string", v)
		}
		return append(binary.AppendVarint(dst, int64(len(s))), s...), nil
	case aBytes, aFixed:
		var b []byte
		switch x := v.(type) {
		case []byte:
			b = x
		case string:
			for _, r := range x {
				b = append(b, byte(r))
			}
		default:
			rv := reflect.ValueOf(v)
			if rv.Kind() != reflect.Array {
				return nil, fmt.Errorf("%v is not bytes", v)
			}
			for i := 0; i < rv.Len(); i++ {
				b = append(b, byte(rv.Index(i).Uint()))
			}
		}
		if n.kind == aFixed {
			if len(b) != n.size {
				return nil, fmt.Errorf("%d bytes for a fixed of %d", len(b), n.size)
			}
			return append(dst, b...), nil
		}
		return append(binary.AppendVarint(dst, int64(len(b))), b...), nil
	case aArray:
		items, _ := v.([]any)
		if len(items) > 0 {
			dst = binary.AppendVarint(dst, int64(len(items)))
			for _, it := range items {
				var err error
				if dst, err = encodeDefault(dst, n.items, it); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, 0), nil
	case aMap:
		m, _ := v.(map[string]any)
		if len(m) > 0 {
			dst = binary.AppendVarint(dst, int64(len(m)))
			for _, k := range sortedKeys(m) {
				dst = append(binary.AppendVarint(dst, int64(len(k))), k...)
				var err error
				if dst, err = encodeDefault(dst, n.items, m[k]); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, 0), nil
	case aRecord:
		m, _ := v.(map[string]any)
		for _, f := range n.fields {
			fv, ok := m[f.name]
			switch {
			case ok:
				var err error
				if dst, err = encodeDefault(dst, f.node, fv); err != nil {
					return nil, err
				}
			case f.hasDef:
				dst = append(dst, f.def...)
			default:
				return nil, fmt.Errorf("no value for field %q", f.name)
			}
		}
		return dst, nil
	case aUnion:
		return encodeDefault(append(dst, 0), n.branches[0], v)
	}
	return nil, fmt.Errorf("unsupported Avro type %d", n.kind)
}
