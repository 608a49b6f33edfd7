package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"unicode/utf8"
)

// jsonObject keeps an object's keys in order, because Python dicts do and
// Faust records are read back in field order.
type jsonObject struct {
	keys []string
	vals []any
}

// parseOrderedJSON reads one JSON value into nil, bool, json.Number,
// string, []any and *jsonObject. Like Python's json.loads, a repeated key
// keeps its first position and its last value.
func parseOrderedJSON(text []byte) (any, error) {
	if !json.Valid(text) {
		return nil, jsonError(text)
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, fmt.Errorf("invalid json: %w", err)
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			list := []any{}
			for dec.More() {
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			_, err := dec.Token()
			return list, err
		case '{':
			obj := &jsonObject{}
			index := map[string]int{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				v, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				if i, dup := index[key]; dup {
					obj.vals[i] = v
					continue
				}
				index[key] = len(obj.keys)
				obj.keys = append(obj.keys, key)
				obj.vals = append(obj.vals, v)
			}
			_, err := dec.Token()
			return obj, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return tok, nil
	}
}

// Framing constants from pickle protocol 4 (PEP 3154).
const (
	frameHeaderSize = 9
	frameSizeMin    = 4
	frameSizeTarget = 64 * 1024
	pickleBatchSize = 1000
)

// pickler writes the same bytes CPython's pickle.dumps writes for the
// object json.loads would return, so a pickle made by streamctl is
// indistinguishable from one made by a Faust producer.
type pickler struct {
	out        []byte
	frameStart int // offset of the open frame's header, -1 when none
	framing    bool
	nmemo      int
	// strMemo holds the strings CPython would see as one object each time
	// they recur, which pickle.dumps then writes as memo references: every
	// dict key (json.loads hands out one str per distinct key) and the
	// empty and one-character Latin-1 strings (CPython caches those).
	strMemo map[string]int
}

// EncodePickle turns JSON text into raw pickle bytes (not base64) of the
// equivalent Python value, using the given protocol (2 to 5). An object
// whose only key is "__bytes__" becomes bytes, the inverse of how
// DecodePickle renders bytes that are not UTF-8.
func EncodePickle(text []byte, protocol int) ([]byte, error) {
	if protocol < 2 || protocol > maxProtocol {
		return nil, fmt.Errorf("pickle protocol %d is not supported for encoding (use 2 to %d)", protocol, maxProtocol)
	}
	v, err := parseOrderedJSON(text)
	if err != nil {
		return nil, err
	}
	p := &pickler{frameStart: -1, strMemo: map[string]int{}}
	p.out = append(make([]byte, 0, len(text)+16), opProto, byte(protocol))
	p.framing = protocol >= 4
	if err := p.save(v, protocol); err != nil {
		return nil, err
	}
	p.write(opStop)
	p.commitFrame()
	return p.out, nil
}

// write appends to the current frame, opening one if needed.
func (p *pickler) write(b ...byte) {
	if p.framing && p.frameStart < 0 {
		p.frameStart = len(p.out)
		p.out = append(p.out, make([]byte, frameHeaderSize)...)
	}
	p.out = append(p.out, b...)
}

// commitFrame fills in the open frame's header, or removes the header when
// the frame is too small to be worth one, as CPython does.
func (p *pickler) commitFrame() {
	if p.frameStart < 0 {
		return
	}
	n := len(p.out) - p.frameStart - frameHeaderSize
	if n >= frameSizeMin {
		p.out[p.frameStart] = opFrame
		binary.LittleEndian.PutUint64(p.out[p.frameStart+1:], uint64(n))
	} else {
		copy(p.out[p.frameStart:], p.out[p.frameStart+frameHeaderSize:])
		p.out = p.out[:len(p.out)-frameHeaderSize]
	}
	p.frameStart = -1
}

// writeLarge writes a str or bytes payload; large ones go outside any frame
// so that a reader can take them without copying.
func (p *pickler) writeLarge(header, data []byte) {
	if !p.framing || len(data) < frameSizeTarget {
		p.write(header...)
		p.write(data...)
		return
	}
	p.commitFrame()
	p.out = append(p.out, header...)
	p.out = append(p.out, data...)
}

func (p *pickler) memoize() {
	if p.framing {
		p.write(opMemoize)
	} else {
		p.writePut(p.nmemo)
	}
	p.nmemo++
}

func (p *pickler) writePut(idx int) {
	if idx < 256 {
		p.write(opBinPut, byte(idx))
		return
	}
	p.write(opLongBinPut)
	p.write(binary.LittleEndian.AppendUint32(nil, uint32(idx))...)
}

func (p *pickler) writeGet(idx int) {
	if idx < 256 {
		p.write(opBinGet, byte(idx))
		return
	}
	p.write(opLongBinGet)
	p.write(binary.LittleEndian.AppendUint32(nil, uint32(idx))...)
}

func (p *pickler) save(v any, protocol int) error {
	// CPython closes a frame once it reaches the target size, between
	// objects.
	if p.frameStart >= 0 && len(p.out)-p.frameStart-frameHeaderSize >= frameSizeTarget {
		p.commitFrame()
	}
	switch t := v.(type) {
	case nil:
		p.write(opNone)
	case bool:
		if t {
			p.write(opNewTrue)
		} else {
			p.write(opNewFalse)
		}
	case json.Number:
		return p.saveNumber(t)
	case string:
		if cachedByCPython(t) {
			p.saveKey(t)
		} else {
			p.saveStr(t)
		}
	case []any:
		p.write(opEmptyList)
		p.memoize()
		return p.saveBatches(t, nil, protocol)
	case *jsonObject:
		if b, ok, err := bytesValue(t); ok || err != nil {
			if err != nil {
				return err
			}
			if protocol < 3 {
				return errors.New(`"__bytes__" needs pickle protocol 3 or later`)
			}
			p.saveBytes(b)
			return nil
		}
		p.write(opEmptyDict)
		p.memoize()
		return p.saveBatches(t.vals, t.keys, protocol)
	default:
		return fmt.Errorf("cannot pickle %T", v)
	}
	return nil
}

// saveBatches writes list items (keys == nil) or dict items the way
// CPython does: a lone item with APPEND or SETITEM, otherwise MARK ...
// APPENDS/SETITEMS in batches of 1000.
func (p *pickler) saveBatches(vals []any, keys []string, protocol int) error {
	saveItem := func(i int) error {
		if keys != nil {
			p.saveKey(keys[i])
		}
		return p.save(vals[i], protocol)
	}
	one, many := byte(opAppend), byte(opAppends)
	if keys != nil {
		one, many = opSetItem, opSetItems
	}
	switch len(vals) {
	case 0:
		return nil
	case 1:
		if err := saveItem(0); err != nil {
			return err
		}
		p.write(one)
		return nil
	}
	for start := 0; start < len(vals); start += pickleBatchSize {
		p.write(opMark)
		for i := start; i < len(vals) && i < start+pickleBatchSize; i++ {
			if err := saveItem(i); err != nil {
				return err
			}
		}
		p.write(many)
	}
	return nil
}

// saveKey writes a string that may already be in the memo.
func (p *pickler) saveKey(k string) {
	if idx, ok := p.strMemo[k]; ok {
		p.writeGet(idx)
		return
	}
	p.strMemo[k] = p.nmemo
	p.saveStr(k)
}

// cachedByCPython reports whether CPython uses a single shared object for
// every occurrence of s.
func cachedByCPython(s string) bool {
	if s == "" {
		return true
	}
	r, size := utf8.DecodeRuneInString(s)
	return size == len(s) && r < 0x100 && r != utf8.RuneError
}

func (p *pickler) saveStr(s string) {
	n := len(s)
	var header []byte
	switch {
	case n < 256 && p.framing:
		header = []byte{opShortBinUni, byte(n)}
	case n <= math.MaxUint32:
		header = binary.LittleEndian.AppendUint32([]byte{opBinUnicode}, uint32(n))
	default:
		header = binary.LittleEndian.AppendUint64([]byte{opBinUnicode8}, uint64(n))
	}
	p.writeLarge(header, []byte(s))
	p.memoize()
}

func (p *pickler) saveBytes(b []byte) {
	n := len(b)
	var header []byte
	switch {
	case n < 256:
		header = []byte{opShortBinBytes, byte(n)}
	case n <= math.MaxUint32:
		header = binary.LittleEndian.AppendUint32([]byte{opBinBytes}, uint32(n))
	default:
		header = binary.LittleEndian.AppendUint64([]byte{opBinBytes8}, uint64(n))
	}
	p.writeLarge(header, b)
	p.memoize()
}

// saveNumber follows json.loads: a number with a fraction or exponent is a
// float, any other is an int of whatever size.
func (p *pickler) saveNumber(n json.Number) error {
	s := string(n)
	if strings.ContainsAny(s, ".eE") {
		f, err := n.Float64()
		if err != nil && !math.IsInf(f, 0) {
			return fmt.Errorf("number %s: %w", s, err)
		}
		p.write(opBinFloat)
		p.write(binary.BigEndian.AppendUint64(nil, math.Float64bits(f))...)
		return nil
	}
	if i, err := n.Int64(); err == nil {
		switch {
		case i >= 0 && i <= 0xff:
			p.write(opBinInt1, byte(i))
		case i >= 0 && i <= 0xffff:
			p.write(opBinInt2, byte(i), byte(i>>8))
		case i >= math.MinInt32 && i <= math.MaxInt32:
			p.write(opBinInt)
			p.write(binary.LittleEndian.AppendUint32(nil, uint32(int32(i)))...)
		default:
			p.saveLong(big.NewInt(i))
		}
		return nil
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return fmt.Errorf("number %s is not an integer", s)
	}
	p.saveLong(v)
	return nil
}

// saveLong writes LONG1/LONG4 with the fewest two's complement bytes, as
// pickle's encode_long does.
func (p *pickler) saveLong(v *big.Int) {
	b := encodeLong(v)
	if len(b) < 256 {
		p.write(opLong1, byte(len(b)))
	} else {
		p.write(opLong4)
		p.write(binary.LittleEndian.AppendUint32(nil, uint32(len(b)))...)
	}
	p.write(b...)
}

func encodeLong(v *big.Int) []byte {
	if v.Sign() == 0 {
		return nil
	}
	n := v.BitLen()/8 + 1
	tc := new(big.Int).Set(v)
	if v.Sign() < 0 {
		tc.Add(tc, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	}
	be := tc.FillBytes(make([]byte, n))
	le := make([]byte, n)
	for i, c := range be {
		le[n-1-i] = c
	}
	if v.Sign() < 0 && n > 1 && le[n-1] == 0xff && le[n-2]&0x80 != 0 {
		le = le[:n-1]
	}
	return le
}

// bytesValue recognises {"__bytes__": "<base64>"}.
func bytesValue(o *jsonObject) ([]byte, bool, error) {
	if len(o.keys) != 1 || o.keys[0] != "__bytes__" {
		return nil, false, nil
	}
	s, ok := o.vals[0].(string)
	if !ok {
		return nil, false, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, true, fmt.Errorf(`"__bytes__" is not standard base64: %w`, err)
	}
	return b, true, nil
}
