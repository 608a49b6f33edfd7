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
	"strconv"
	"unicode/utf8"

	"github.com/streamctl/streamctl/internal/jsonstr"
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
	// KeySchemaID and ValueSchemaID are the schema registry ids the bytes
	// were framed with (0: none; registries number schemas from 1).
	KeySchemaID, ValueSchemaID int
	Headers                    []Header
}

// Append writes r as one line of JSON (without the newline) to dst.
func Append(dst []byte, r *Record) []byte {
	dst = append(dst, `{"topic":`...)
	dst = jsonstr.Append(dst, r.Topic)
	dst = append(dst, `,"partition":`...)
	dst = strconv.AppendInt(dst, int64(r.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, r.Offset, 10)
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, r.Timestamp, 10)
	dst = appendField(dst, "key", r.Key, r.KeyJSON)
	if r.KeySchemaID != 0 {
		dst = strconv.AppendInt(append(dst, `,"key_schema_id":`...), int64(r.KeySchemaID), 10)
	}
	dst = appendField(dst, "value", r.Value, r.ValueJSON)
	if r.ValueSchemaID != 0 {
		dst = strconv.AppendInt(append(dst, `,"value_schema_id":`...), int64(r.ValueSchemaID), 10)
	}
	dst = append(dst, `,"headers":[`...)
	for i, h := range r.Headers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendField(append(dst, '{'), "key", []byte(h.Key), false)
		dst = appendField(dst, "value", h.Value, false)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendField writes ,"name":<value> and, where it is not text,
// ,"name_encoding":"..." (without the first comma right after a '{').
func appendField(dst []byte, name string, b []byte, asJSON bool) []byte {
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
	case asJSON && json.Valid(b):
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

// wire is the envelope as encoding/json sees it on reading.
type wire struct {
	Topic         *string         `json:"topic"`
	Partition     *int32          `json:"partition"`
	Offset        *int64          `json:"offset"`
	Timestamp     *int64          `json:"timestamp"`
	Key           json.RawMessage `json:"key"`
	KeyEncoding   string          `json:"key_encoding"`
	KeySchemaID   *int            `json:"key_schema_id"`
	Value         json.RawMessage `json:"value"`
	ValueEncoding string          `json:"value_encoding"`
	ValueSchemaID *int            `json:"value_schema_id"`
	Headers       []wireHeader    `json:"headers"`
}

type wireHeader struct {
	Key           json.RawMessage `json:"key"`
	KeyEncoding   string          `json:"key_encoding"`
	Value         json.RawMessage `json:"value"`
	ValueEncoding string          `json:"value_encoding"`
}

// Parse reads one envelope line. Fields other than the envelope's are
// ignored so that envelopes from newer versions still load; a field of the
// wrong type or an unknown encoding is an error that names the field.
func Parse(line []byte) (Record, error) {
	var w wire
	r := Record{Partition: -1, Offset: -1}
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return r, fmt.Errorf("field %q: %s where %s was expected", te.Field, te.Value, te.Type)
		}
		return r, fmt.Errorf("invalid envelope: %w", err)
	}
	if dec.More() {
		return r, errors.New("invalid envelope: more than one JSON value on the line")
	}
	if w.Topic != nil {
		r.Topic = *w.Topic
	}
	if w.Partition != nil {
		r.Partition = *w.Partition
	}
	if w.Offset != nil {
		r.Offset = *w.Offset
	}
	if w.Timestamp != nil {
		r.Timestamp, r.HasTimestamp = *w.Timestamp, true
	}
	if w.KeySchemaID != nil {
		if *w.KeySchemaID <= 0 {
			return r, fmt.Errorf("field \"key_schema_id\": %d is not a schema id", *w.KeySchemaID)
		}
		r.KeySchemaID = *w.KeySchemaID
	}
	if w.ValueSchemaID != nil {
		if *w.ValueSchemaID <= 0 {
			return r, fmt.Errorf("field \"value_schema_id\": %d is not a schema id", *w.ValueSchemaID)
		}
		r.ValueSchemaID = *w.ValueSchemaID
	}
	var err error
	if r.Key, r.KeyJSON, err = field("key", w.Key, w.KeyEncoding); err != nil {
		return r, err
	}
	if r.Value, r.ValueJSON, err = field("value", w.Value, w.ValueEncoding); err != nil {
		return r, err
	}
	for i, h := range w.Headers {
		k, _, err := field(fmt.Sprintf("headers[%d].key", i), h.Key, h.KeyEncoding)
		if err != nil {
			return r, err
		}
		if k == nil {
			return r, fmt.Errorf("headers[%d]: missing key", i)
		}
		v, _, err := field(fmt.Sprintf("headers[%d].value", i), h.Value, h.ValueEncoding)
		if err != nil {
			return r, err
		}
		r.Headers = append(r.Headers, Header{Key: string(k), Value: v})
	}
	return r, nil
}

// field turns one raw JSON field back into bytes. Absent and null are both
// a null field.
func field(name string, raw json.RawMessage, enc string) ([]byte, bool, error) {
	if len(raw) == 0 || string(raw) == "null" && enc != string(JSON) {
		return nil, false, nil
	}
	switch Encoding(enc) {
	case "", Text:
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
	case JSON:
		return append([]byte(nil), raw...), true, nil
	default:
		return nil, false, fmt.Errorf("field %q: unknown encoding %q (want text, base64 or json)", name+"_encoding", enc)
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
