package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The values the unpickler builds. They are plain data: a class reference
// becomes a pyGlobal and calling it becomes a pyObject that records the
// call, so nothing a pickle names is ever looked up or run.
type (
	pyNone  struct{}
	pyBool  bool
	pyInt   int64
	pyFloat float64
	pyStr   string
	pyBytes []byte
	pyTuple []any

	// pyLong keeps the decimal text once rendered, because a memo lets one
	// big integer be referenced many times and big.Int.String is not cheap.
	pyLong struct {
		v    *big.Int
		text string
	}

	// The mutable containers are pointers: opcodes such as APPEND change
	// them after they were memoized, and the change must be seen through
	// every reference.
	pyList struct{ items []any }
	pyDict struct{ keys, vals []any }
	pySet  struct{ items []any }

	pyGlobal struct{ module, name string }

	// pyObject is the record of a REDUCE, NEWOBJ, INST or OBJ, plus
	// whatever BUILD, APPEND(S), SETITEM(S) and ADDITEMS did to it.
	pyObject struct {
		callable  any // a pyGlobal unless the pickle is unusual
		args      any // nil when the constructor was not given any
		kwargs    any
		state     any
		hasState  bool
		items     []any
		dictKeys  []any
		dictVals  []any
		listItems bool
	}

	pyPersistent struct{ id any }
	pyExtension  struct{ code int64 }
)

// Limits that keep a hostile pickle from costing more than a large honest
// one would. Lengths in the pickle are checked against the bytes actually
// present, so memory is already bounded by the input; these cover the
// work that is not.
const (
	maxLongBytes   = 1 << 16 // two's complement bytes in one LONG1/LONG4
	maxLongDigits  = 1 << 16 // decimal digits in one protocol 0 LONG
	maxPickleDepth = 10000   // nesting when rendering
	maxRenderBytes = 1 << 26 // JSON output, since the memo allows sharing that grows exponentially
	maxProtocol    = 5
)

const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opFloat          = 'F'
	opInt            = 'I'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opLong           = 'L'
	opBinInt2        = 'M'
	opNone           = 'N'
	opPersID         = 'P'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opString         = 'S'
	opBinString      = 'T'
	opShortBinString = 'U'
	opUnicode        = 'V'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opGet            = 'g'
	opBinGet         = 'h'
	opInst           = 'i'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opObj            = 'o'
	opPut            = 'p'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'
	opProto          = 0x80
	opNewObj         = 0x81
	opExt1           = 0x82
	opExt2           = 0x83
	opExt4           = 0x84
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opLong4          = 0x8b
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opBinBytes8      = 0x8e
	opEmptySet       = 0x8f
	opAddItems       = 0x90
	opFrozenSet      = 0x91
	opNewObjEx       = 0x92
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
	opByteArray8     = 0x96
	opNextBuffer     = 0x97
	opReadOnlyBuffer = 0x98
)

// unpickler interprets pickle opcodes into py* values. Like CPython it
// keeps one stack and a list of mark positions; the last mark is a fence
// that ordinary pops may not cross.
type unpickler struct {
	data  []byte
	pos   int
	op    int // offset of the opcode being run, for error messages
	stack []any
	marks []int
	memo  map[uint64]any
}

// errTruncated is returned whenever the pickle ends early, whatever opcode
// was being read.
var errTruncated = errors.New("pickle data was truncated")

// unpickle returns the value a pickle describes without running anything.
func unpickle(data []byte) (any, error) {
	u := &unpickler{data: data, memo: make(map[uint64]any)}
	v, err := u.run()
	if err != nil {
		return nil, fmt.Errorf("invalid pickle: %w", err)
	}
	return v, nil
}

func (u *unpickler) fail(format string, args ...any) error {
	return fmt.Errorf("opcode %#02x at byte %d: %s", u.data[u.op], u.op, fmt.Sprintf(format, args...))
}

func (u *unpickler) run() (any, error) {
	for u.pos < len(u.data) {
		u.op = u.pos
		op := u.data[u.pos]
		u.pos++
		if op == opStop {
			return u.pop()
		}
		if err := u.step(op); err != nil {
			return nil, err
		}
	}
	return nil, errTruncated
}

func (u *unpickler) step(op byte) error {
	switch op {
	case opProto:
		b, err := u.read(1)
		if err != nil {
			return err
		}
		if b[0] > maxProtocol {
			return u.fail("unsupported pickle protocol %d", b[0])
		}
	case opFrame:
		n, err := u.uint(8)
		if err != nil {
			return err
		}
		// Frames only group opcodes for buffered reading; checking the
		// length is all that matters when the whole pickle is in memory.
		if n > uint64(len(u.data)-u.pos) {
			return errTruncated
		}

	case opMark:
		u.marks = append(u.marks, len(u.stack))
	case opPop:
		// CPython's POP removes the mark itself when nothing is above it.
		if n := len(u.marks); n > 0 && u.marks[n-1] == len(u.stack) {
			u.marks = u.marks[:n-1]
			return nil
		}
		_, err := u.pop()
		return err
	case opPopMark:
		_, err := u.popMark()
		return err
	case opDup:
		v, err := u.top()
		if err != nil {
			return err
		}
		u.push(v)

	case opNone:
		u.push(pyNone{})
	case opNewTrue:
		u.push(pyBool(true))
	case opNewFalse:
		u.push(pyBool(false))
	case opInt:
		line, err := u.line()
		if err != nil {
			return err
		}
		switch line {
		case "00":
			u.push(pyBool(false))
		case "01":
			u.push(pyBool(true))
		default:
			v, err := u.parseInt(line, 0)
			if err != nil {
				return err
			}
			u.push(v)
		}
	case opLong:
		line, err := u.line()
		if err != nil {
			return err
		}
		v, err := u.parseInt(strings.TrimSuffix(line, "L"), 10)
		if err != nil {
			return err
		}
		u.push(v)
	case opBinInt:
		b, err := u.read(4)
		if err != nil {
			return err
		}
		u.push(pyInt(int32(binary.LittleEndian.Uint32(b))))
	case opBinInt1:
		n, err := u.uint(1)
		if err != nil {
			return err
		}
		u.push(pyInt(n))
	case opBinInt2:
		n, err := u.uint(2)
		if err != nil {
			return err
		}
		u.push(pyInt(n))
	case opLong1, opLong4:
		size := 1
		if op == opLong4 {
			size = 4
		}
		n, err := u.uint(size)
		if err != nil {
			return err
		}
		if size == 4 && int32(n) < 0 {
			return u.fail("negative LONG4 length")
		}
		if n > maxLongBytes {
			return u.fail("integer of %d bytes is larger than streamctl renders (%d)", n, maxLongBytes)
		}
		b, err := u.read(n)
		if err != nil {
			return err
		}
		u.push(decodeLong(b))
	case opFloat:
		line, err := u.line()
		if err != nil {
			return err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return u.fail("bad FLOAT %q", line)
		}
		u.push(pyFloat(f))
	case opBinFloat:
		b, err := u.read(8)
		if err != nil {
			return err
		}
		u.push(pyFloat(math.Float64frombits(binary.BigEndian.Uint64(b))))

	case opString:
		line, err := u.line()
		if err != nil {
			return err
		}
		b, err := unquotePy2String(line)
		if err != nil {
			return u.fail("%v", err)
		}
		u.push(pyBytes(b))
	case opBinString, opShortBinString, opBinBytes, opShortBinBytes, opBinBytes8, opByteArray8:
		size := lengthSize(op)
		n, err := u.uint(size)
		if err != nil {
			return err
		}
		if op == opBinString && int32(n) < 0 {
			return u.fail("negative BINSTRING length")
		}
		b, err := u.read(n)
		if err != nil {
			return err
		}
		// Python 3 loads protocol 0-2 strings (STRING, BINSTRING) as str when
		// they are ASCII; rendering them through the bytes rule gives the
		// same text for those and still shows the rest faithfully.
		u.push(pyBytes(b))
	case opUnicode:
		line, err := u.line()
		if err != nil {
			return err
		}
		u.push(pyStr(decodeRawUnicodeEscape(line)))
	case opBinUnicode, opShortBinUni, opBinUnicode8:
		size := lengthSize(op)
		n, err := u.uint(size)
		if err != nil {
			return err
		}
		b, err := u.read(n)
		if err != nil {
			return err
		}
		u.push(pyStr(b))

	case opEmptyList:
		u.push(&pyList{})
	case opEmptyDict:
		u.push(&pyDict{})
	case opEmptySet:
		u.push(&pySet{})
	case opEmptyTuple:
		u.push(pyTuple{})
	case opList:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&pyList{items: items})
	case opTuple:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(pyTuple(items))
	case opFrozenSet:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&pySet{items: items})
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		items, err := u.popN(n)
		if err != nil {
			return err
		}
		u.push(pyTuple(items))
	case opDict:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		if len(items)%2 != 0 {
			return u.fail("odd number of items for DICT")
		}
		d := &pyDict{}
		for i := 0; i < len(items); i += 2 {
			d.keys = append(d.keys, items[i])
			d.vals = append(d.vals, items[i+1])
		}
		u.push(d)

	case opAppend:
		v, err := u.pop()
		if err != nil {
			return err
		}
		return u.appendTo([]any{v})
	case opAppends:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.appendTo(items)
	case opAddItems:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		target, err := u.top()
		if err != nil {
			return err
		}
		switch t := target.(type) {
		case *pySet:
			t.items = append(t.items, items...)
		case *pyObject:
			t.items = append(t.items, items...)
		default:
			return u.fail("ADDITEMS to %s", typeName(target))
		}
	case opSetItem:
		kv, err := u.popN(2)
		if err != nil {
			return err
		}
		return u.setItems(kv)
	case opSetItems:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		if len(items)%2 != 0 {
			return u.fail("odd number of items for SETITEMS")
		}
		return u.setItems(items)

	case opPut:
		line, err := u.line()
		if err != nil {
			return err
		}
		idx, err := strconv.ParseUint(line, 10, 64)
		if err != nil {
			return u.fail("bad PUT index %q", line)
		}
		return u.put(idx)
	case opBinPut, opLongBinPut:
		size := 1
		if op == opLongBinPut {
			size = 4
		}
		idx, err := u.uint(size)
		if err != nil {
			return err
		}
		return u.put(idx)
	case opMemoize:
		return u.put(uint64(len(u.memo)))
	case opGet:
		line, err := u.line()
		if err != nil {
			return err
		}
		idx, err := strconv.ParseUint(line, 10, 64)
		if err != nil {
			return u.fail("bad GET index %q", line)
		}
		return u.get(idx)
	case opBinGet, opLongBinGet:
		size := 1
		if op == opLongBinGet {
			size = 4
		}
		idx, err := u.uint(size)
		if err != nil {
			return err
		}
		return u.get(idx)

	case opGlobal:
		module, err := u.line()
		if err != nil {
			return err
		}
		name, err := u.line()
		if err != nil {
			return err
		}
		u.push(pyGlobal{module: module, name: name})
	case opStackGlobal:
		mn, err := u.popN(2)
		if err != nil {
			return err
		}
		module, ok1 := mn[0].(pyStr)
		name, ok2 := mn[1].(pyStr)
		if !ok1 || !ok2 {
			return u.fail("STACK_GLOBAL needs two str, got %s and %s", typeName(mn[0]), typeName(mn[1]))
		}
		u.push(pyGlobal{module: string(module), name: string(name)})
	case opReduce:
		ca, err := u.popN(2)
		if err != nil {
			return err
		}
		u.push(reduce(ca[0], ca[1]))
	case opNewObj:
		ca, err := u.popN(2)
		if err != nil {
			return err
		}
		u.push(&pyObject{callable: ca[0], args: ca[1]})
	case opNewObjEx:
		cak, err := u.popN(3)
		if err != nil {
			return err
		}
		u.push(&pyObject{callable: cak[0], args: cak[1], kwargs: cak[2]})
	case opInst:
		module, err := u.line()
		if err != nil {
			return err
		}
		name, err := u.line()
		if err != nil {
			return err
		}
		args, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&pyObject{callable: pyGlobal{module: module, name: name}, args: pyTuple(args)})
	case opObj:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return u.fail("OBJ without a class")
		}
		u.push(&pyObject{callable: items[0], args: pyTuple(items[1:])})
	case opBuild:
		state, err := u.pop()
		if err != nil {
			return err
		}
		target, err := u.top()
		if err != nil {
			return err
		}
		obj, ok := target.(*pyObject)
		if !ok {
			return u.fail("BUILD on %s", typeName(target))
		}
		obj.state, obj.hasState = state, true

	case opPersID:
		line, err := u.line()
		if err != nil {
			return err
		}
		u.push(pyPersistent{id: pyStr(line)})
	case opBinPersID:
		id, err := u.pop()
		if err != nil {
			return err
		}
		u.push(pyPersistent{id: id})
	case opExt1, opExt2, opExt4:
		size := lengthSize(op)
		code, err := u.uint(size)
		if err != nil {
			return err
		}
		u.push(pyExtension{code: int64(int32(code))})
	case opNextBuffer:
		return u.fail("out-of-band buffers (pickle protocol 5 NEXT_BUFFER) are not supported")
	case opReadOnlyBuffer:
		// Read-only or not, the bytes render the same.
		_, err := u.top()
		return err
	default:
		return u.fail("unknown opcode")
	}
	return nil
}

// lengthSize is how many bytes of length or code follow op.
func lengthSize(op byte) int {
	switch op {
	case opShortBinString, opShortBinBytes, opShortBinUni, opExt1:
		return 1
	case opExt2:
		return 2
	case opBinBytes8, opBinUnicode8, opByteArray8:
		return 8
	}
	return 4
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) fence() int {
	if n := len(u.marks); n > 0 {
		return u.marks[n-1]
	}
	return 0
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) <= u.fence() {
		return nil, u.fail("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

func (u *unpickler) pop() (any, error) {
	v, err := u.top()
	if err != nil {
		return nil, err
	}
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

// popN pops n values and returns them in stack order. The result is a copy,
// because the stack's backing array is reused by later pushes.
func (u *unpickler) popN(n int) ([]any, error) {
	if len(u.stack)-n < u.fence() {
		return nil, u.fail("stack underflow")
	}
	items := append([]any(nil), u.stack[len(u.stack)-n:]...)
	u.stack = u.stack[:len(u.stack)-n]
	return items, nil
}

func (u *unpickler) popMark() ([]any, error) {
	n := len(u.marks)
	if n == 0 {
		return nil, u.fail("no MARK on the stack")
	}
	at := u.marks[n-1]
	u.marks = u.marks[:n-1]
	items := append([]any(nil), u.stack[at:]...)
	u.stack = u.stack[:at]
	return items, nil
}

func (u *unpickler) put(idx uint64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[idx] = v
	return nil
}

func (u *unpickler) get(idx uint64) error {
	v, ok := u.memo[idx]
	if !ok {
		return u.fail("memo key %d not found", idx)
	}
	u.push(v)
	return nil
}

func (u *unpickler) appendTo(items []any) error {
	target, err := u.top()
	if err != nil {
		return err
	}
	switch t := target.(type) {
	case *pyList:
		t.items = append(t.items, items...)
	case *pyObject:
		t.items = append(t.items, items...)
		t.listItems = true
	default:
		return u.fail("APPEND to %s", typeName(target))
	}
	return nil
}

func (u *unpickler) setItems(kv []any) error {
	target, err := u.top()
	if err != nil {
		return err
	}
	for i := 0; i < len(kv); i += 2 {
		switch t := target.(type) {
		case *pyDict:
			t.keys = append(t.keys, kv[i])
			t.vals = append(t.vals, kv[i+1])
		case *pyObject:
			t.dictKeys = append(t.dictKeys, kv[i])
			t.dictVals = append(t.dictVals, kv[i+1])
		default:
			return u.fail("SETITEM on %s", typeName(target))
		}
	}
	return nil
}

func (u *unpickler) read(n uint64) ([]byte, error) {
	if n > uint64(len(u.data)-u.pos) {
		return nil, errTruncated
	}
	b := u.data[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

// uint reads an unsigned little-endian integer of size bytes.
func (u *unpickler) uint(size int) (uint64, error) {
	b, err := u.read(uint64(size))
	if err != nil {
		return 0, err
	}
	var n uint64
	for i := size - 1; i >= 0; i-- {
		n = n<<8 | uint64(b[i])
	}
	return n, nil
}

// line reads up to the next newline, which protocol 0 uses to end its
// text arguments.
func (u *unpickler) line() (string, error) {
	for i := u.pos; i < len(u.data); i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", errTruncated
}

func (u *unpickler) parseInt(s string, base int) (any, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		return pyInt(n), nil
	}
	if len(t) > maxLongDigits {
		return nil, u.fail("integer of %d digits is larger than streamctl renders (%d)", len(t), maxLongDigits)
	}
	v, ok := new(big.Int).SetString(t, base)
	if !ok {
		return nil, u.fail("bad integer %q", s)
	}
	return newLong(v), nil
}

func newLong(v *big.Int) any {
	if v.IsInt64() {
		return pyInt(v.Int64())
	}
	return &pyLong{v: v}
}

// decodeLong reads LONG1/LONG4's little-endian two's complement bytes.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return pyInt(0)
	}
	if len(b) <= 8 {
		var n uint64
		for i := len(b) - 1; i >= 0; i-- {
			n = n<<8 | uint64(b[i])
		}
		shift := 64 - 8*uint(len(b))
		return pyInt(int64(n<<shift) >> shift)
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return newLong(v)
}

// unquotePy2String undoes the repr() that protocol 0's STRING opcode uses.
func unquotePy2String(s string) ([]byte, error) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return nil, fmt.Errorf("STRING argument %q is not quoted", s)
	}
	s = s[1 : len(s)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			out = append(out, c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'v':
			out = append(out, '\v')
		case '\\', '\'', '"':
			out = append(out, e)
		case '\n':
		case 'x':
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
				out = append(out, byte(n))
				i += 2
			} else {
				return nil, fmt.Errorf("bad \\x escape in STRING")
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n, j := 0, i
			for ; j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7'; j++ {
				n = n*8 + int(s[j]-'0')
			}
			out = append(out, byte(n))
			i = j - 1
		default:
			out = append(out, '\\', e)
		}
	}
	return out, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// decodeRawUnicodeEscape undoes Python's raw-unicode-escape, which protocol
// 0's UNICODE opcode uses: bytes are Latin-1 code points except for \uXXXX
// and \UXXXXXXXX.
func decodeRawUnicodeEscape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n <= len(s) {
				if r, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32); err == nil && r <= utf8.MaxRune {
					b.WriteRune(rune(r))
					i += 1 + n
					continue
				}
			}
		}
		b.WriteRune(rune(c))
	}
	return b.String()
}

// reduce records a call. A few callables are how Python spells plain data
// in old protocols (bytes, bytearray and set before they had opcodes), and
// copyreg._reconstructor is how protocols 0 and 1 create an instance; those
// are interpreted as the data they stand for. Everything else stays a
// record of the call.
func reduce(callable, args any) any {
	g, ok := callable.(pyGlobal)
	if !ok {
		return &pyObject{callable: callable, args: args}
	}
	tup, ok := args.(pyTuple)
	if !ok {
		return &pyObject{callable: callable, args: args}
	}
	switch fixImports(g.module) + "." + g.name {
	case "_codecs.encode":
		if len(tup) == 2 {
			if b, ok := latin1(tup[0], tup[1]); ok {
				return b
			}
		}
	case "builtins.bytes", "builtins.bytearray":
		switch len(tup) {
		case 0:
			return pyBytes{}
		case 1:
			if b, ok := tup[0].(pyBytes); ok {
				return b
			}
		case 2:
			if b, ok := latin1(tup[0], tup[1]); ok {
				return b
			}
		}
	case "builtins.set", "builtins.frozenset":
		switch len(tup) {
		case 0:
			return &pySet{}
		case 1:
			switch it := tup[0].(type) {
			case *pyList:
				return &pySet{items: append([]any(nil), it.items...)}
			case pyTuple:
				return &pySet{items: append([]any(nil), it...)}
			}
		}
	case "copyreg._reconstructor":
		if len(tup) == 3 {
			if cls, ok := tup[0].(pyGlobal); ok {
				return &pyObject{callable: cls}
			}
		}
	}
	return &pyObject{callable: callable, args: args}
}

// fixImports maps the Python 2 module names that protocols 0-2 write to
// their Python 3 names, as pickle.loads does by default.
func fixImports(module string) string {
	switch module {
	case "__builtin__":
		return "builtins"
	case "copy_reg":
		return "copyreg"
	}
	return module
}

// latin1 handles s.encode("latin1"), Python 3's way of writing bytes in
// protocols 0-2.
func latin1(s, encoding any) (pyBytes, bool) {
	str, ok1 := s.(pyStr)
	enc, ok2 := encoding.(pyStr)
	if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1") {
		return nil, false
	}
	b := make([]byte, 0, len(str))
	for _, r := range string(str) {
		if r > 0xff {
			return nil, false
		}
		b = append(b, byte(r))
	}
	return b, true
}

func typeName(v any) string {
	switch v.(type) {
	case pyNone:
		return "None"
	case pyBool:
		return "bool"
	case pyInt, *pyLong:
		return "int"
	case pyFloat:
		return "float"
	case pyStr:
		return "str"
	case pyBytes:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case *pySet:
		return "set"
	case pyGlobal:
		return "global"
	case *pyObject:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
