package codec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/streamctl/streamctl/internal/jsonvalid"
)

// Codec converts between a message's bytes on the wire and the text form a person reads and types.
type Codec interface {
	Encode(text []byte) ([]byte, error)
	Decode(wire []byte) ([]byte, error)
}

// registry maps every codec name Parse accepts to its codec. It is a
// literal rather than something filled in by init so that the set of names
// is visible in one place and nothing happens at import time.
var registry = map[string]Codec{
	"raw":    rawCodec{},
	"json":   jsonCodec{},
	"binary": binaryCodec{},
	"hex":    hexCodec{},
	// Faust's pickle is pickle.dumps with the default protocol (4 on the
	// Python versions Faust supports) followed by base64; the restricted
	// and fickling variants differ only in how Python loads them and in
	// writing protocol 5, so they share the safe decoder.
	"pickle":            pickleCodec{protocol: 4},
	"pickle_restricted": pickleCodec{protocol: 5},
	"pickle_fickling":   pickleCodec{protocol: 5},
}

// jsonText reports whether a codec's text form is JSON, which is what
// Chain.JSON needs to know about the leftmost codec.
func jsonText(name string) bool {
	if _, ok := schemaCodecs[name]; ok {
		return true
	}
	switch name {
	case "json", "pickle", "pickle_restricted", "pickle_fickling":
		return true
	}
	return false
}

// Names returns the registered codec names, sorted.
func Names() []string {
	names := make([]string, 0, len(registry)+len(schemaCodecs))
	for name := range registry {
		names = append(names, name)
	}
	for name := range schemaCodecs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Chain is a Faust-style composition such as "json|binary": encoding runs
// the codecs left to right, decoding runs them right to left, so the text
// form is the leftmost codec's text form.
type Chain struct {
	names  []string
	codecs []Codec
	// json and raw are asked for every message: worked out once.
	json, raw bool
	// onlyJSON is the chain "json": Decode checks the bytes itself, no
	// call through the Codec interface for each message.
	onlyJSON bool
}

var _ Codec = (*Chain)(nil)

// Parse builds the chain named by spec, codec names joined by "|" as in
// Faust's key_serializer and value_serializer settings. An empty spec means
// "raw", the same as Faust passing bytes through when no serializer is set.
func Parse(spec string) (*Chain, error) {
	return ParseSchema(spec, nil)
}

// ParseSchema is Parse for chains that may hold a schema codec (avro,
// protobuf, jsonschema, sr), which takes its schemas as cfg says. A schema
// codec's text form is JSON, so it comes first in a chain ("avro|binary"
// is base64 of the framed Avro); each chain gets codecs of its own, which
// cache the schemas they used.
func ParseSchema(spec string, cfg *SchemaConfig) (*Chain, error) {
	if strings.TrimSpace(spec) == "" {
		spec = "raw"
	}
	parts := strings.Split(spec, "|")
	c := &Chain{names: make([]string, 0, len(parts)), codecs: make([]Codec, 0, len(parts))}
	for _, part := range parts {
		name := strings.TrimSpace(part)
		if name == "" {
			return nil, fmt.Errorf("codec %q: empty name between \"|\"", spec)
		}
		codec, ok := registry[name]
		if kind, schema := schemaCodecs[name]; schema {
			if len(c.codecs) > 0 {
				return nil, fmt.Errorf("codec %q: %s reads and writes JSON text, so it comes first in a chain", spec, name)
			}
			codec, ok = newSchemaCodec(kind, cfg), true
		}
		if !ok {
			return nil, fmt.Errorf("unknown codec %q (known: %s)", name, strings.Join(Names(), ", "))
		}
		c.names = append(c.names, name)
		c.codecs = append(c.codecs, codec)
	}
	c.json = jsonText(c.names[0])
	c.raw = len(c.names) == 1 && c.names[0] == "raw"
	c.onlyJSON = len(c.names) == 1 && c.names[0] == "json"
	return c, nil
}

// Encode turns text a person typed into wire bytes, applying the codecs
// left to right. Empty text is returned as is: an empty or null Kafka key or
// value has nothing to encode, and failing on it would make every keyless
// record an error.
func (c *Chain) Encode(text []byte) ([]byte, error) {
	if len(text) == 0 {
		return text, nil
	}
	b := text
	for i, codec := range c.codecs {
		var err error
		if b, err = codec.Encode(b); err != nil {
			return nil, c.wrap(i, "encode", err)
		}
	}
	return b, nil
}

// Decode turns wire bytes into their text form, applying the codecs right
// to left. Empty input is returned as is, for the same reason as in Encode.
func (c *Chain) Decode(wire []byte) ([]byte, error) {
	if c.onlyJSON && jsonvalid.Valid(wire) {
		return wire, nil // what jsonCodec.Decode returns; invalid JSON takes the long way, for its error
	}
	return c.decode(wire)
}

// Decoder is a Chain's Decode for a run of messages read by one goroutine:
// for the chain "json" it checks each value against the shape of the one
// before (see jsonvalid.Shape), which costs less than reading it against
// the grammar when values share one shape, as a topic's mostly do. Its
// results are the Chain's.
type Decoder struct {
	c     *Chain
	shape jsonvalid.Shape
}

// NewDecoder returns a Decoder for c.
func (c *Chain) NewDecoder() *Decoder { return &Decoder{c: c} }

// Decode is the Chain's Decode.
func (d *Decoder) Decode(wire []byte) ([]byte, error) {
	if d.c.onlyJSON && d.shape.Valid(wire) {
		return wire, nil
	}
	return d.c.decode(wire)
}

func (c *Chain) decode(wire []byte) ([]byte, error) {
	if len(wire) == 0 {
		return wire, nil
	}
	b := wire
	for i := len(c.codecs) - 1; i >= 0; i-- {
		var err error
		if b, err = c.codecs[i].Decode(b); err != nil {
			return nil, c.wrap(i, "decode", err)
		}
	}
	return b, nil
}

// DecodeID is Decode that also returns the schema id the message named,
// 0 when the chain has no schema codec.
func (c *Chain) DecodeID(wire []byte) ([]byte, int, error) {
	sc, ok := c.codecs[0].(*schemaCodec)
	if !ok || len(wire) == 0 {
		b, err := c.Decode(wire)
		return b, 0, err
	}
	b := wire
	for i := len(c.codecs) - 1; i > 0; i-- {
		var err error
		if b, err = c.codecs[i].Decode(b); err != nil {
			return nil, 0, c.wrap(i, "decode", err)
		}
	}
	text, id, err := sc.decodeID(b)
	if err != nil {
		return nil, id, c.wrap(0, "decode", err)
	}
	return text, id, nil
}

// DecodeHeader is DecodeID for a record that may carry its schema in a
// Confluent 8 header (KeySchemaHeader or ValueSchemaHeader, whose value is
// given): then the bytes are not framed. With no header it is DecodeID.
func (c *Chain) DecodeHeader(wire, header []byte) ([]byte, int, error) {
	sc, ok := c.codecs[0].(*schemaCodec)
	if !ok || header == nil || len(wire) == 0 {
		return c.DecodeID(wire)
	}
	b := wire
	for i := len(c.codecs) - 1; i > 0; i-- {
		var err error
		if b, err = c.codecs[i].Decode(b); err != nil {
			return nil, 0, c.wrap(i, "decode", err)
		}
	}
	text, id, err := sc.decodeGUID(b, header)
	if err != nil {
		return nil, id, c.wrap(0, "decode", err)
	}
	return text, id, nil
}

// EncodeID is Encode with the schema whose id is given (a -J envelope's
// value_schema_id) instead of the configured one; id 0, or a chain without
// a schema codec, encodes as Encode does.
func (c *Chain) EncodeID(text []byte, id int) ([]byte, error) {
	sc, ok := c.codecs[0].(*schemaCodec)
	if !ok || id <= 0 || len(text) == 0 {
		return c.Encode(text)
	}
	b, err := sc.encodeID(text, id)
	if err != nil {
		return nil, c.wrap(0, "encode", err)
	}
	for i := 1; i < len(c.codecs); i++ {
		if b, err = c.codecs[i].Encode(b); err != nil {
			return nil, c.wrap(i, "encode", err)
		}
	}
	return b, nil
}

// Prepare picks the schema Encode will write with, so that a missing
// subject or a schema that does not compile shows before any input is
// read. Chains without a schema codec have nothing to prepare.
func (c *Chain) Prepare() error {
	sc, ok := c.codecs[0].(*schemaCodec)
	if !ok {
		return nil
	}
	_, _, err := sc.writerSchema()
	return err
}

// Schema reports whether the chain holds a schema codec.
func (c *Chain) Schema() bool {
	_, ok := c.codecs[0].(*schemaCodec)
	return ok
}

// wrap names the failing step only when there is more than one, so that a
// plain "json" chain does not repeat the word json in every message.
func (c *Chain) wrap(i int, op string, err error) error {
	if len(c.codecs) == 1 {
		return err
	}
	return fmt.Errorf("%s %s (step %d of %s): %w", c.names[i], op, i+1, c.String(), err)
}

// JSON reports whether the decoded text form is JSON, so callers may embed
// it in a JSON envelope or pretty-print it. Decode's output is then valid
// JSON whenever it is not empty: the chain checked it or made it.
func (c *Chain) JSON() bool { return c.json }

// Raw reports whether the chain is exactly "raw", so callers can skip work
// on the hot path.
func (c *Chain) Raw() bool { return c.raw }

// String returns the canonical spec, which Parse accepts.
func (c *Chain) String() string {
	return strings.Join(c.names, "|")
}
