// Package envelope is the one-line JSON form of a Kafka record that
// `streamctl consume -J` writes and `streamctl produce -J` reads back.
//
// It is lossless: a null key or value is JSON null and an empty one is "",
// bytes that are not UTF-8 travel as base64 and say so in a *_encoding field,
// headers keep their order and duplicates, and a value whose text form is
// JSON is embedded as JSON so that `jq .value.field` works. A line is:
//
//	{"topic":"t","partition":0,"offset":42,"timestamp":1700000000000,
//	 "key":"k","value":{"a":1},"value_encoding":"json",
//	 "headers":[{"key":"h","value":"v"}]}
//
// The encoding fields are "text" (the default, left out), "base64" and "json".
// A value decoded with a schema registry codec also carries the schema's id,
// "value_schema_id" (and "key_schema_id"), which produce encodes with again.
package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/streamctl/streamctl/internal/jsonstr"
	"github.com/streamctl/streamctl/internal/jsonvalid"
)

// Encoding names how a field's bytes are written in the envelope.
type Encoding string

// The encodings a field may carry.
const (
	Text   Encoding = "text"
	Base64 Encoding = "base64"
	JSON   Encoding = "json"
)

// Header is one record header. A nil Value is a null header value.
type Header struct {
	Key   string
	Value []byte
}

// Record is a Kafka record as the envelope carries it. Nil Key or Value
// means null. Partition and Offset are -1 when absent; Timestamp is in
// milliseconds since the epoch, and HasTimestamp says whether it was given.
type Record struct {
	Topic        string
	Partition    int32
	Offset       int64
	Timestamp    int64
	HasTimestamp bool
	Key          []byte
	Value        []byte
	// KeyJSON and ValueJSON say the bytes are JSON text to embed as JSON
	// (on writing), or that the envelope had them embedded (on reading).
	KeyJSON   bool
	ValueJSON bool
	// KeyValid and ValueValid say JSON bytes are known to be valid (the
	// codec that decoded them checked or made them), so that Append and
	// the filters need not check them again; false says nothing.
	KeyValid, ValueValid bool
	// KeySchemaID and ValueSchemaID are the schema registry ids the bytes
	// were framed with (0: none; registries number schemas from 1).
	KeySchemaID, ValueSchemaID int
	Headers                    []Header
}

// Append writes r as one line of JSON (without the newline) to dst.
func Append(dst []byte, r *Record) []byte {
	dst = append(dst, `{"topic":`...)
	dst = jsonstr.Append(dst, r.Topic)
	// A record read from Kafka has both; one without them (-1) leaves them
	// out, as Parse wants an absent partition written.
	if r.Partition >= 0 {
		dst = append(dst, `,"partition":`...)
		dst = strconv.AppendInt(dst, int64(r.Partition), 10)
	}
	if r.Offset >= 0 {
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendInt(dst, r.Offset, 10)
	}
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, r.Timestamp, 10)
	dst = appendField(dst, "key", r.Key, r.KeyJSON, r.KeyValid)
	if r.KeySchemaID != 0 {
		dst = strconv.AppendInt(append(dst, `,"key_schema_id":`...), int64(r.KeySchemaID), 10)
	}
	dst = appendField(dst, "value", r.Value, r.ValueJSON, r.ValueValid)
	if r.ValueSchemaID != 0 {
		dst = strconv.AppendInt(append(dst, `,"value_schema_id":`...), int64(r.ValueSchemaID), 10)
	}
	dst = AppendHeaders(append(dst, `,"headers":`...), r.Headers)
	return append(dst, '}')
}

// AppendHeaders writes headers as the envelope's "headers" list: a JSON
// array of {"key":..,"value":..} objects.
func AppendHeaders(dst []byte, headers []Header) []byte {
	dst = append(dst, '[')
	for i, h := range headers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendField(append(dst, '{'), "key", []byte(h.Key), false, false)
		dst = appendField(dst, "value", h.Value, false, false)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendField writes ,"name":<value> and, where it is not text,
// ,"name_encoding":"..." (without the first comma right after a '{').
func appendField(dst []byte, name string, b []byte, asJSON, valid bool) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	dst = append(dst, `":`...)
	enc := Text
	switch {
	case b == nil:
		return append(dst, "null"...)
	case asJSON && (valid || jsonvalid.Valid(b)):
		enc = JSON
		if bytes.IndexAny(b, "\r\n") >= 0 {
			// One record per line: the JSON value stays, its line breaks go.
			var buf bytes.Buffer
			_ = json.Compact(&buf, b) // valid, checked above
			dst = append(dst, buf.Bytes()...)
		} else {
			dst = append(dst, b...)
		}
	case utf8.Valid(b):
		dst = jsonstr.Append(dst, string(b))
	default:
		enc = Base64
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		dst = append(dst, '"')
	}
	if enc != Text {
		dst = append(dst, `,"`...)
		dst = append(dst, name...)
		dst = append(dst, `_encoding":"`...)
		dst = append(dst, enc...)
		dst = append(dst, '"')
	}
	return dst
}

// wire is the envelope as encoding/json reads it: every field raw, so that
// a field left out (nil) is told apart from one that is null ("null"), and
// the messages, not encoding/json, say what a field should have been.
type wire struct {
	Topic         json.RawMessage `json:"topic"`
	Partition     json.RawMessage `json:"partition"`
	Offset        json.RawMessage `json:"offset"`
	Timestamp     json.RawMessage `json:"timestamp"`
	Key           json.RawMessage `json:"key"`
	KeyEncoding   json.RawMessage `json:"key_encoding"`
	KeySchemaID   json.RawMessage `json:"key_schema_id"`
	Value         json.RawMessage `json:"value"`
	ValueEncoding json.RawMessage `json:"value_encoding"`
	ValueSchemaID json.RawMessage `json:"value_schema_id"`
	Headers       []wireHeader    `json:"headers"`
}

type wireHeader struct {
	Key           json.RawMessage `json:"key"`
	KeyEncoding   json.RawMessage `json:"key_encoding"`
	Value         json.RawMessage `json:"value"`
	ValueEncoding json.RawMessage `json:"value_encoding"`
}

// The fields of an envelope and of each of its headers, as the README
// documents them. Anything else is an error: a misspelt "valeu" must not
// send a null value.
var (
	recordFields = []string{"topic", "partition", "offset", "timestamp", "key", "key_encoding", "key_schema_id", "value", "value_encoding", "value_schema_id", "headers"}
	headerFields = []string{"key", "key_encoding", "value", "value_encoding"}
)

// Parse reads one envelope line. The value must be there (a null value, a
// tombstone, is written "value":null); the key, the headers and the
// metadata may be left out, or be null. A field that is not part of the
// envelope, a field of the wrong type, a negative partition or an unknown
// encoding is an error that names the field.
func Parse(line []byte) (Record, error) {
	r := Record{Partition: -1, Offset: -1}
	var w wire
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return r, shapeError(line, err)
	}
	if dec.More() {
		return r, errors.New("invalid envelope: more than one JSON value on the line")
	}
	if !absent(w.Topic) {
		if err := json.Unmarshal(w.Topic, &r.Topic); err != nil {
			return r, wrongType("topic", "a string", w.Topic)
		}
	}
	var err error
	for _, id := range []struct {
		name string
		raw  json.RawMessage
		dst  *int
	}{{"key_schema_id", w.KeySchemaID, &r.KeySchemaID}, {"value_schema_id", w.ValueSchemaID, &r.ValueSchemaID}} {
		if absent(id.raw) {
			continue
		}
		n, err := integer(id.name, id.raw, 1, math.MaxInt32)
		if err != nil {
			return r, err
		}
		*id.dst = int(n)
	}
	if !absent(w.Partition) {
		n, err := integer("partition", w.Partition, 0, math.MaxInt32)
		if err != nil {
			return r, err
		}
		r.Partition = int32(n)
	}
	if !absent(w.Offset) {
		if r.Offset, err = integer("offset", w.Offset, math.MinInt64, math.MaxInt64); err != nil {
			return r, err
		}
	}
	if !absent(w.Timestamp) {
		if r.Timestamp, err = integer("timestamp", w.Timestamp, math.MinInt64, math.MaxInt64); err != nil {
			return r, err
		}
		// -1 is Kafka's "no timestamp" (a record of the old formats,
		// printed so by consume -J). Below it is no time at all: the
		// broker would store it, and consume would read it back as -1.
		if r.Timestamp < -1 {
			return r, fmt.Errorf("field %q: want milliseconds since the epoch (0 or more, or -1 for none), got %d", "timestamp", r.Timestamp)
		}
		r.HasTimestamp = true
	}
	if r.Key, r.KeyJSON, err = field("key", w.Key, w.KeyEncoding); err != nil {
		return r, err
	}
	if w.Value == nil {
		return r, errors.New(`field "value" is missing (a null value, a tombstone, is written "value":null)`)
	}
	if r.Value, r.ValueJSON, err = field("value", w.Value, w.ValueEncoding); err != nil {
		return r, err
	}
	for i, h := range w.Headers {
		name := "headers[" + strconv.Itoa(i) + "]"
		if h.Key == nil {
			return r, fmt.Errorf("field %q is missing", name+".key")
		}
		if h.Value == nil {
			return r, fmt.Errorf("field %q is missing", name+".value")
		}
		k, _, err := field(name+".key", h.Key, h.KeyEncoding)
		if err != nil {
			return r, err
		}
		if k == nil {
			return r, fmt.Errorf("field %q: a header key cannot be null", name+".key")
		}
		v, _, err := field(name+".value", h.Value, h.ValueEncoding)
		if err != nil {
			return r, err
		}
		r.Headers = append(r.Headers, Header{Key: string(k), Value: v})
	}
	return r, nil
}

// absent says whether a field was left out or is null.
func absent(raw json.RawMessage) bool { return raw == nil || string(raw) == "null" }

// shapeError explains why line did not decode as an envelope: not JSON,
// not an object, a field the envelope does not have, or headers that are
// not a list of objects. encoding/json's own errors name Go types and stop
// at the first unknown field in no stable wording, so the line is looked at
// again, this time field by field; only bad lines pay for it.
func shapeError(line []byte, err error) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("invalid envelope: %w", err)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("invalid envelope: %w", io.ErrUnexpectedEOF)
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(line, &fields) != nil || fields == nil {
		return fmt.Errorf("invalid envelope: want a JSON object, got %s", kind(bytes.TrimLeft(line, " \t\r\n")))
	}
	if err := known(fields, recordFields, ""); err != nil {
		return err
	}
	if hs := fields["headers"]; !absent(hs) {
		var list []json.RawMessage
		if json.Unmarshal(hs, &list) != nil {
			return wrongType("headers", `an array of {"key","value"} objects`, hs)
		}
		for i, raw := range list {
			name := "headers[" + strconv.Itoa(i) + "]"
			var h map[string]json.RawMessage
			if json.Unmarshal(raw, &h) != nil || h == nil {
				return wrongType(name, `a {"key","value"} object`, raw)
			}
			if err := known(h, headerFields, name+"."); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("invalid envelope: %w", err)
}

// known names the first (in sorted order, for a stable message) of fields
// that is not among names.
func known(fields map[string]json.RawMessage, names []string, prefix string) error {
	var unknown []string
	for name := range fields {
		if !slices.Contains(names, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	what := "an envelope"
	if prefix != "" {
		what = "a header"
	}
	return fmt.Errorf("unknown field %q (%s has %s)", prefix+unknown[0], what, strings.Join(names, ", "))
}

// integer reads a JSON integer from lo to hi; null was taken for absent
// before.
func integer(name string, raw json.RawMessage, lo, hi int64) (int64, error) {
	want := "an integer"
	switch {
	case lo == 0:
		want = "an integer of 0 or more"
	case lo > 0:
		want = fmt.Sprintf("an integer of %d or more", lo)
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return 0, wrongType(name, want, raw)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || n < lo || n > hi {
		if lo >= 0 && hi == math.MaxInt32 {
			want = fmt.Sprintf("an integer from %d to %d", lo, hi)
		}
		return 0, fmt.Errorf("field %q: want %s, got %s", name, want, raw)
	}
	return n, nil
}

func wrongType(name, want string, raw json.RawMessage) error {
	return fmt.Errorf("field %q: want %s, got %s", name, want, kind(raw))
}

// field turns one raw field and its *_encoding back into bytes. Absent
// and null are both a null field, except a null with "json" encoding,
// which is the JSON text null.
func field(name string, raw, e json.RawMessage) ([]byte, bool, error) {
	enc := Text
	if !absent(e) {
		if err := json.Unmarshal(e, &enc); err != nil {
			return nil, false, wrongType(name+"_encoding", `"text", "base64" or "json"`, e)
		}
	}
	switch enc {
	case "":
		enc = Text
	case Text, Base64, JSON:
	default:
		return nil, false, fmt.Errorf("field %q: unknown encoding %q (want text, base64 or json)", name+"_encoding", enc)
	}
	if absent(raw) {
		if raw != nil && enc == JSON {
			return []byte("null"), true, nil
		}
		return nil, false, nil
	}
	switch enc {
	case Text:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false, fmt.Errorf("field %q: want a string (or set %s_encoding to \"json\"), got %s", name, name, kind(raw))
		}
		return []byte(s), false, nil
	case Base64:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false, fmt.Errorf("field %q: base64 data must be a string, got %s", name, kind(raw))
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, false, fmt.Errorf("field %q: invalid base64: %w", name, err)
		}
		return b, false, nil
	default: // JSON
		return append([]byte(nil), raw...), true, nil
	}
}

func kind(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
