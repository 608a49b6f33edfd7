package codec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/streamctl/streamctl/internal/jsonstr"
)

// errRenderTooLarge stops rendering a pickle whose shared references would
// expand into more JSON than any real message holds.
var errRenderTooLarge = fmt.Errorf("pickle renders to more than %d bytes of json", maxRenderBytes)

// renderer writes py* values as compact JSON, following the conventions in
// doc.go.
type renderer struct {
	buf    []byte
	onPath map[any]bool // containers being rendered, to cut cycles
	depth  int
}

func renderJSON(v any) ([]byte, error) {
	r := &renderer{onPath: make(map[any]bool)}
	if err := r.value(v); err != nil {
		return nil, err
	}
	return r.buf, nil
}

func (r *renderer) value(v any) error {
	if len(r.buf) > maxRenderBytes {
		return errRenderTooLarge
	}
	switch t := v.(type) {
	case pyNone:
		r.buf = append(r.buf, "null"...)
	case pyBool:
		r.buf = strconv.AppendBool(r.buf, bool(t))
	case pyInt:
		r.buf = strconv.AppendInt(r.buf, int64(t), 10)
	case *pyLong:
		if t.text == "" {
			t.text = t.v.String()
		}
		r.buf = append(r.buf, t.text...)
	case pyFloat:
		r.buf = appendPyFloat(r.buf, float64(t))
	case pyStr:
		r.buf = jsonstr.Append(r.buf, string(t))
	case pyBytes:
		r.bytes(t)
	case pyTuple:
		return r.array(t)
	case pyGlobal:
		r.buf = append(r.buf, `{"__global__":`...)
		r.buf = jsonstr.Append(r.buf, t.String())
		r.buf = append(r.buf, '}')
	case pyPersistent:
		r.buf = append(r.buf, `{"__persistent_id__":`...)
		if err := r.value(t.id); err != nil {
			return err
		}
		r.buf = append(r.buf, '}')
	case pyExtension:
		r.buf = append(r.buf, `{"__extension__":`...)
		r.buf = strconv.AppendInt(r.buf, t.code, 10)
		r.buf = append(r.buf, '}')
	case *pyList, *pyDict, *pySet, *pyObject:
		return r.container(t)
	default:
		return fmt.Errorf("cannot render %T", v)
	}
	return nil
}

// container renders the mutable values, which are the only ones a memo
// reference can make recursive, as in l = []; l.append(l).
func (r *renderer) container(v any) error {
	if r.onPath[v] {
		r.buf = append(r.buf, `{"__recursive__":true}`...)
		return nil
	}
	if r.depth >= maxPickleDepth {
		return fmt.Errorf("pickle nests deeper than %d levels", maxPickleDepth)
	}
	r.onPath[v] = true
	r.depth++
	defer func() {
		delete(r.onPath, v)
		r.depth--
	}()
	switch t := v.(type) {
	case *pyList:
		return r.array(t.items)
	case *pySet:
		return r.array(t.items)
	case *pyDict:
		return r.object(t.keys, t.vals)
	case *pyObject:
		return r.instance(t)
	}
	return nil
}

func (r *renderer) bytes(b []byte) {
	if utf8.Valid(b) {
		r.buf = jsonstr.Append(r.buf, string(b))
		return
	}
	r.buf = append(r.buf, `{"__bytes__":"`...)
	r.buf = base64.StdEncoding.AppendEncode(r.buf, b)
	r.buf = append(r.buf, `"}`...)
}

func (r *renderer) array(items []any) error {
	r.buf = append(r.buf, '[')
	for i, item := range items {
		if i > 0 {
			r.buf = append(r.buf, ',')
		}
		if err := r.value(item); err != nil {
			return err
		}
	}
	r.buf = append(r.buf, ']')
	return nil
}

func (r *renderer) object(keys, vals []any) error {
	r.buf = append(r.buf, '{')
	for i := range keys {
		if i > 0 {
			r.buf = append(r.buf, ',')
		}
		if err := r.key(keys[i]); err != nil {
			return err
		}
		r.buf = append(r.buf, ':')
		if err := r.value(vals[i]); err != nil {
			return err
		}
	}
	r.buf = append(r.buf, '}')
	return nil
}

// key writes a dict key. JSON keys are strings, so any other key is written
// as the string of its JSON text: 1 becomes "1" and None "null", as
// Python's json.dumps does, and a tuple (1, 2) becomes "[1,2]".
func (r *renderer) key(k any) error {
	start := len(r.buf)
	if err := r.value(k); err != nil {
		return err
	}
	if r.buf[start] == '"' {
		return nil
	}
	text := string(r.buf[start:])
	r.buf = jsonstr.Append(r.buf[:start], text)
	return nil
}

// instance renders a recorded call as {"__class__": ..., "args": ...} with
// whatever else the pickle did to the object.
func (r *renderer) instance(o *pyObject) error {
	r.buf = append(r.buf, '{')
	if g, ok := o.callable.(pyGlobal); ok {
		r.buf = append(r.buf, `"__class__":`...)
		r.buf = jsonstr.Append(r.buf, g.String())
	} else {
		r.buf = append(r.buf, `"__callable__":`...)
		if err := r.value(o.callable); err != nil {
			return err
		}
	}
	if s, ok := wellKnownValue(o); ok {
		r.buf = append(r.buf, `,"value":`...)
		r.buf = jsonstr.Append(r.buf, s)
	}
	fields := []struct {
		name string
		v    any
		ok   bool
	}{
		// Protocols 0 and 1 create instances without arguments where 2 and
		// later pass an empty tuple; dropping empty args renders both alike.
		{"args", o.args, o.args != nil && !isEmptyTuple(o.args)},
		{"kwargs", o.kwargs, o.kwargs != nil},
		{"state", o.state, o.hasState},
	}
	for _, f := range fields {
		if !f.ok {
			continue
		}
		r.buf = append(r.buf, ',', '"')
		r.buf = append(r.buf, f.name...)
		r.buf = append(r.buf, '"', ':')
		if err := r.value(f.v); err != nil {
			return err
		}
	}
	if len(o.items) > 0 {
		r.buf = append(r.buf, `,"items":`...)
		if err := r.array(o.items); err != nil {
			return err
		}
	}
	if len(o.dictKeys) > 0 {
		r.buf = append(r.buf, `,"dictitems":`...)
		if err := r.object(o.dictKeys, o.dictVals); err != nil {
			return err
		}
	}
	r.buf = append(r.buf, '}')
	return nil
}

func isEmptyTuple(v any) bool {
	t, ok := v.(pyTuple)
	return ok && len(t) == 0
}

// String is the dotted name Python's repr would show for the class, with
// Python 2 module names mapped as pickle.loads maps them.
func (g pyGlobal) String() string {
	return fixImports(g.module) + "." + g.name
}

// wellKnownValue gives the readable value of standard library types whose
// pickled arguments are opaque: datetime's packed bytes and UUID's integer.
func wellKnownValue(o *pyObject) (string, bool) {
	g, ok := o.callable.(pyGlobal)
	if !ok {
		return "", false
	}
	args, _ := o.args.(pyTuple)
	switch g.String() {
	case "datetime.datetime":
		if len(args) < 1 || len(args) > 2 {
			return "", false
		}
		b, ok := args[0].(pyBytes)
		if !ok || len(b) != 10 {
			return "", false
		}
		tz, ok := tzSuffix(args[1:])
		if !ok {
			return "", false
		}
		s := fmt.Sprintf("%04d-%02d-%02dT", int(b[0])<<8|int(b[1]), b[2]&0x7f, b[3]) + clock(b[4]&0x7f, b[5], b[6], b[7:10])
		return s + tz, true
	case "datetime.date":
		if len(args) != 1 {
			return "", false
		}
		b, ok := args[0].(pyBytes)
		if !ok || len(b) != 4 {
			return "", false
		}
		return fmt.Sprintf("%04d-%02d-%02d", int(b[0])<<8|int(b[1]), b[2], b[3]), true
	case "datetime.time":
		if len(args) < 1 || len(args) > 2 {
			return "", false
		}
		b, ok := args[0].(pyBytes)
		if !ok || len(b) != 6 {
			return "", false
		}
		tz, ok := tzSuffix(args[1:])
		if !ok {
			return "", false
		}
		return clock(b[0]&0x7f, b[1], b[2], b[3:6]) + tz, true
	case "decimal.Decimal":
		if len(args) == 1 {
			if s, ok := args[0].(pyStr); ok {
				return string(s), true
			}
		}
	case "uuid.UUID":
		d, ok := o.state.(*pyDict)
		if !ok {
			return "", false
		}
		for i, k := range d.keys {
			if k != pyStr("int") {
				continue
			}
			n := new(big.Int)
			switch v := d.vals[i].(type) {
			case pyInt:
				n.SetInt64(int64(v))
			case *pyLong:
				n.Set(v.v)
			default:
				return "", false
			}
			if n.Sign() < 0 || n.BitLen() > 128 {
				return "", false
			}
			h := fmt.Sprintf("%032x", n)
			return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], true
		}
	}
	return "", false
}

// clock formats a time of day as Python's isoformat does, with
// microseconds only when there are any.
func clock(h, m, s byte, us []byte) string {
	micro := int(us[0])<<16 | int(us[1])<<8 | int(us[2])
	out := fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	if micro != 0 {
		out += fmt.Sprintf(".%06d", micro)
	}
	return out
}

// tzSuffix renders a datetime's tzinfo argument when it is None or a fixed
// datetime.timezone; any other tzinfo (zoneinfo, pytz) needs a database to
// resolve, and a value without its offset would mislead, so none is given.
func tzSuffix(args []any) (string, bool) {
	if len(args) == 0 {
		return "", true
	}
	if _, ok := args[0].(pyNone); ok {
		return "", true
	}
	tz, ok := args[0].(*pyObject)
	if !ok || tz.callable != (pyGlobal{"datetime", "timezone"}) {
		return "", false
	}
	tzArgs, _ := tz.args.(pyTuple)
	if len(tzArgs) < 1 {
		return "", false
	}
	delta, ok := tzArgs[0].(*pyObject)
	if !ok || delta.callable != (pyGlobal{"datetime", "timedelta"}) {
		return "", false
	}
	d, _ := delta.args.(pyTuple)
	if len(d) != 3 {
		return "", false
	}
	var parts [3]int64
	for i, v := range d {
		n, ok := v.(pyInt)
		if !ok {
			return "", false
		}
		parts[i] = int64(n)
	}
	micros := (parts[0]*86400+parts[1])*1e6 + parts[2]
	sign := "+"
	if micros < 0 {
		sign, micros = "-", -micros
	}
	secs := micros / 1e6
	out := fmt.Sprintf("%s%02d:%02d", sign, secs/3600, secs/60%60)
	if secs%60 != 0 || micros%1e6 != 0 {
		out += fmt.Sprintf(":%02d", secs%60)
	}
	if micros%1e6 != 0 {
		out += fmt.Sprintf(".%06d", micros%1e6)
	}
	return out, true
}

// appendPyFloat writes a float the way Python's repr does, so 1.0 stays
// "1.0" (and Encode reads it back as a float, not an int). NaN and the
// infinities have no JSON number, so they become the strings Python's
// json module would print unquoted.
func appendPyFloat(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(buf, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(buf, `"-Infinity"`...)
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // shortest round-trip digits: d.ddde±XX
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	neg := strings.HasPrefix(mant, "-")
	digits := strings.Replace(strings.TrimPrefix(mant, "-"), ".", "", 1)
	if neg {
		buf = append(buf, '-')
	}
	decpt := exp + 1
	if decpt <= -4 || decpt > 16 {
		// Python: 1e+16, 1.5e-05.
		buf = append(buf, digits[0])
		if len(digits) > 1 {
			buf = append(buf, '.')
			buf = append(buf, digits[1:]...)
		}
		buf = append(buf, 'e')
		if exp < 0 {
			buf = append(buf, '-')
			exp = -exp
		} else {
			buf = append(buf, '+')
		}
		if exp < 10 {
			buf = append(buf, '0')
		}
		return strconv.AppendInt(buf, int64(exp), 10)
	}
	switch {
	case decpt <= 0:
		buf = append(buf, "0."...)
		buf = append(buf, strings.Repeat("0", -decpt)...)
		buf = append(buf, digits...)
	case decpt >= len(digits):
		buf = append(buf, digits...)
		buf = append(buf, strings.Repeat("0", decpt-len(digits))...)
		buf = append(buf, ".0"...)
	default:
		buf = append(buf, digits[:decpt]...)
		buf = append(buf, '.')
		buf = append(buf, digits[decpt:]...)
	}
	return buf
}

// pickleCodec is Faust's pickle codec: base64 of a pickle on the wire, the
// pickled value rendered as JSON for the text form.
type pickleCodec struct {
	protocol byte // written by Encode; Decode reads any
}

func (pickleCodec) Decode(wire []byte) ([]byte, error) {
	raw, err := decodeBase64(wire)
	if err != nil {
		return nil, err
	}
	return DecodePickle(raw)
}

func (c pickleCodec) Encode(text []byte) ([]byte, error) {
	raw, err := EncodePickle(text, int(c.protocol))
	if err != nil {
		return nil, err
	}
	return binaryCodec{}.Encode(raw)
}

// DecodePickle renders raw pickle bytes (not base64) as JSON text without
// executing anything, following the conventions in the package comment.
// It is exported for pickles that reach streamctl without Faust's base64.
func DecodePickle(raw []byte) ([]byte, error) {
	v, err := unpickle(raw)
	if err != nil {
		return nil, err
	}
	out, err := renderJSON(v)
	if err != nil {
		if errors.Is(err, errRenderTooLarge) {
			return nil, err
		}
		return nil, fmt.Errorf("invalid pickle: %w", err)
	}
	return out, nil
}
