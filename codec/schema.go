package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// This file is the schema-registry half of the package: the Confluent wire
// framing, the small registry interface the schema codecs need, and the
// codec that picks a schema for each message. What a schema type does with
// the payload (Avro, JSON Schema, Protobuf) lives in a schemaFormat of its
// own, registered in formats.

// SchemaType is a schema's type as a registry names it.
type SchemaType string

// The schema types registries know.
const (
	Avro       SchemaType = "AVRO"
	Protobuf   SchemaType = "PROTOBUF"
	JSONSchema SchemaType = "JSON"
)

// Reference names another schema a schema uses: an Avro named type, a
// Protobuf import, a JSON Schema $ref. Name is what the referring schema
// calls it.
type Reference struct {
	Name    string
	Subject string
	Version int
}

// Schema is a schema's text with its type and references.
type Schema struct {
	Type       SchemaType
	Text       string
	References []Reference
}

// SubjectSchema is a schema as a subject holds it.
type SubjectSchema struct {
	Subject string
	Version int
	ID      int
	Schema
}

// Registry is what the schema codecs ask of a schema registry. Version -1
// means the latest. Errors for things that do not exist wrap ErrNotFound.
// Implementations cache: the codecs call them once per schema and message.
type Registry interface {
	SchemaByID(id int) (Schema, error)
	SchemaByVersion(subject string, version int) (SubjectSchema, error)
	// LookupSchema finds s among subject's versions.
	LookupSchema(subject string, s Schema) (SubjectSchema, error)
	// RegisterSchema adds s to subject, or finds it there.
	RegisterSchema(subject string, s Schema) (SubjectSchema, error)
}

// GUIDRegistry is a Registry that also finds schemas by the GUID that
// Confluent Platform 8 puts in the __key_schema_id and __value_schema_id
// record headers. Registries without it cannot decode that form.
type GUIDRegistry interface {
	Registry
	SchemaByGUID(guid string) (SubjectSchema, error)
}

// The record headers of the Confluent 8 form, whose value is GUIDMagic
// and a 16-byte schema GUID.
const (
	KeySchemaHeader   = "__key_schema_id"
	ValueSchemaHeader = "__value_schema_id"
	GUIDMagic         = 1
)

// ErrNotFound is wrapped by Registry errors for a schema, subject or
// version that the registry does not have.
var ErrNotFound = errors.New("not found")

// errNotInRegistry replaces the registry's own words for a missing schema,
// subject or version, which repeat what the caller already names.
var errNotInRegistry = fmt.Errorf("%w in the schema registry", ErrNotFound)

func notFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return errNotInRegistry
	}
	return err
}

// ErrRegistryFailed is wrapped by Registry errors that are the registry's
// fault, not the message's: no answer, a server error, refused credentials.
// A message that meets one is not undecodable, so skipping it would be wrong.
var ErrRegistryFailed = errors.New("the schema registry failed")

// ErrNoRegistry is returned when a schema codec is named but no Registry
// was given.
var ErrNoRegistry = errors.New("no schema registry given")

// Strategy says how a subject is named from the topic and the record's
// name (Confluent's SubjectNameStrategy).
type Strategy int

// The subject name strategies.
const (
	TopicName       Strategy = iota // <topic>-key or <topic>-value
	RecordName                      // the record's fully qualified name
	TopicRecordName                 // <topic>-<fully qualified name>
)

// ParseStrategy reads topic, record or topic-record.
func ParseStrategy(s string) (Strategy, error) {
	switch s {
	case "", "topic":
		return TopicName, nil
	case "record":
		return RecordName, nil
	case "topic-record":
		return TopicRecordName, nil
	}
	return 0, fmt.Errorf("unknown subject strategy %q (want topic, record or topic-record)", s)
}

// AvroJSON says how Avro values look as JSON.
type AvroJSON int

// The Avro JSON forms.
const (
	// AvroPlain is plain JSON: bare unions, readable logical types.
	AvroPlain AvroJSON = iota
	// AvroNative is the Avro specification's JSON encoding: unions other
	// than null as {"type": value}, bytes as code points, logical types as
	// their underlying values.
	AvroNative
)

// SchemaConfig is what a schema codec needs besides the wire bytes: where
// schemas come from and, for encoding, which schema to write with.
type SchemaConfig struct {
	Registry Registry
	// Topic and Key name the default subject, <Topic>-key or <Topic>-value.
	Topic string
	Key   bool

	// The writer schema, for encoding; the first given wins: ID, then
	// Subject (at Version, 0 or -1 the latest), then Local (looked up, or
	// registered with Register, under the subject Strategy names), then
	// the latest version of the Strategy's subject.
	ID       int
	Subject  string
	Version  int
	Local    *Schema
	Register bool
	Strategy Strategy
	// LocalRefs are the files Local imports, each before those that
	// import it (see localReferences).
	LocalRefs []NamedSchema

	AvroJSON AvroJSON
	// ProtoMessage is the fully qualified Protobuf message to write when a
	// schema has several.
	ProtoMessage string
}

// SchemaError is a problem with choosing or compiling a schema, as opposed
// to a message that does not fit one.
type SchemaError struct {
	What string // e.g. `schema 7`, `subject "orders-value"`
	Err  error
}

func (e *SchemaError) Error() string { return e.What + ": " + e.Err.Error() }
func (e *SchemaError) Unwrap() error { return e.Err }

// FramingError is a message that does not start with the Confluent framing.
type FramingError struct{ Msg string }

func (e *FramingError) Error() string { return e.Msg }

// FieldError is input that does not fit the schema at Path ("" for the
// whole value; "items[2].sku" inside it).
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// TypeMismatchError is a schema of another type than the codec's, such as
// a Protobuf schema under -s avro.
type TypeMismatchError struct {
	ID         int
	Got, Codec SchemaType
}

func (e *TypeMismatchError) Error() string {
	return fmt.Sprintf("schema %d is %s, not %s", e.ID, schemaTypeName(e.Got), schemaTypeName(e.Codec))
}

func schemaTypeName(t SchemaType) string {
	switch t {
	case Avro:
		return "Avro"
	case Protobuf:
		return "Protobuf"
	case JSONSchema:
		return "JSON Schema"
	}
	return string(t)
}

// magic is the Confluent framing's first byte; headerSize its length with
// the schema id.
const (
	magic      = 0
	headerSize = 5
)

// AppendHeader appends the Confluent framing for schema id to dst.
func AppendHeader(dst []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, magic), uint32(id))
}

// ParseHeader splits a framed message into its schema id and payload.
func ParseHeader(wire []byte) (int, []byte, error) {
	if len(wire) < headerSize {
		if len(wire) > 0 && wire[0] != magic {
			return 0, nil, noMagic(wire[0])
		}
		return 0, nil, &FramingError{Msg: fmt.Sprintf("%d bytes, too short for the schema registry framing (magic byte and 4-byte schema id)", len(wire))}
	}
	if wire[0] != magic {
		return 0, nil, noMagic(wire[0])
	}
	return int(binary.BigEndian.Uint32(wire[1:headerSize])), wire[headerSize:], nil
}

func noMagic(b byte) error {
	return &FramingError{Msg: fmt.Sprintf("no schema registry framing: first byte is 0x%02x, not the magic byte 0x00", b)}
}

// ParseSubjectVersion reads "S" or "S@V" (V a version number or "latest").
func ParseSubjectVersion(s string) (string, int, error) {
	subj, v, ok := strings.Cut(s, "@")
	if !ok || v == "latest" {
		return subj, -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return "", 0, fmt.Errorf("version %q: want a positive number or latest", v)
	}
	return subj, n, nil
}

// schemaFormat compiles the schemas of one registry type.
type schemaFormat interface {
	// compile builds the codec for s; refs are the schemas s references,
	// directly or not, each before those that use it.
	compile(s Schema, refs []NamedSchema, cfg *SchemaConfig) (compiled, error)
}

// NamedSchema is a referenced schema with the name its user gives it.
type NamedSchema struct {
	Name string
	Schema
}

// compiled is one schema ready to turn payloads (the bytes after the
// framing) into JSON text and back.
type compiled interface {
	// decode appends the JSON text of payload to dst.
	decode(dst, payload []byte) ([]byte, error)
	// encode appends the payload for JSON text to dst. Input that does not
	// fit the schema is a *FieldError.
	encode(dst, text []byte) ([]byte, error)
	// name is the fully qualified name of the record type it writes, for
	// the subject strategies ("" when it has none).
	name() string
}

// formats holds the schema types streamctl can read and write.
var formats = map[SchemaType]schemaFormat{
	Avro:       avroFormat{},
	JSONSchema: jsonSchemaFormat{},
	Protobuf:   protoFormat{},
}

// schemaCodecs maps the codec names to the type they take; "sr" (empty)
// takes whatever the registry says.
var schemaCodecs = map[string]SchemaType{
	"avro":       Avro,
	"protobuf":   Protobuf,
	"jsonschema": JSONSchema,
	"sr":         "",
}

// schemaCodec frames and unframes messages and hands the payload to the
// compiled schema their id names.
type schemaCodec struct {
	kind SchemaType // "" for any
	cfg  *SchemaConfig

	mu     sync.Mutex
	byID   map[int]compiled
	byGUID map[string]guidSchema
	errs   map[int]error // ids that failed, so each fails once and fast
	writer compiled
	wid    int
	werr   error
	wdone  bool
}

func newSchemaCodec(kind SchemaType, cfg *SchemaConfig) *schemaCodec {
	return &schemaCodec{kind: kind, cfg: cfg, byID: map[int]compiled{}, errs: map[int]error{}, byGUID: map[string]guidSchema{}}
}

type guidSchema struct {
	s   compiled
	id  int
	err error
}

// decodeGUID decodes an unframed payload whose schema a Confluent 8
// header names: GUIDMagic and 16 bytes.
func (c *schemaCodec) decodeGUID(payload, header []byte) ([]byte, int, error) {
	if len(header) < 17 || header[0] != GUIDMagic {
		return nil, 0, &FramingError{Msg: fmt.Sprintf("schema id header of %d bytes, want the magic byte 0x01 and a 16-byte GUID", len(header))}
	}
	b := header[1:]
	guid := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	c.mu.Lock()
	g, ok := c.byGUID[guid]
	if !ok {
		g = c.fetchGUID(guid)
		c.byGUID[guid] = g
	}
	c.mu.Unlock()
	if g.err != nil {
		return nil, g.id, g.err
	}
	out, err := decodeHeaderForm(g.s, header[17:], payload)
	if err != nil {
		return nil, g.id, fmt.Errorf("schema %s: %w", guid, err)
	}
	return out, g.id, nil
}

func (c *schemaCodec) fetchGUID(guid string) guidSchema {
	what := "schema " + guid
	reg, ok := c.cfg.registry().(GUIDRegistry)
	if !ok {
		return guidSchema{err: &SchemaError{What: what, Err: ErrNoRegistry}}
	}
	ss, err := reg.SchemaByGUID(guid)
	if err != nil {
		return guidSchema{err: &SchemaError{What: what, Err: notFound(err)}}
	}
	if ss.Type == "" {
		ss.Type = Avro
	}
	if c.kind != "" && ss.Type != c.kind {
		return guidSchema{id: ss.ID, err: &TypeMismatchError{ID: ss.ID, Got: ss.Type, Codec: c.kind}}
	}
	comp, err := c.compile(ss.Schema)
	if err != nil {
		return guidSchema{id: ss.ID, err: &SchemaError{What: what, Err: err}}
	}
	if ss.ID > 0 {
		c.byID[ss.ID] = comp
	}
	return guidSchema{s: comp, id: ss.ID}
}

func (cfg *SchemaConfig) registry() Registry {
	if cfg == nil {
		return nil
	}
	return cfg.Registry
}

// Decode turns a framed message into JSON text.
func (c *schemaCodec) Decode(wire []byte) ([]byte, error) {
	b, _, err := c.decodeID(wire)
	return b, err
}

func (c *schemaCodec) decodeID(wire []byte) ([]byte, int, error) {
	id, payload, err := ParseHeader(wire)
	if err != nil {
		return nil, 0, err
	}
	s, err := c.byIDCompiled(id)
	if err != nil {
		return nil, id, err
	}
	out, err := s.decode(nil, payload)
	if err != nil {
		return nil, id, fmt.Errorf("schema %d: %w", id, err)
	}
	return out, id, nil
}

// Encode turns JSON text into a framed message written with the
// configured schema.
func (c *schemaCodec) Encode(text []byte) ([]byte, error) {
	s, id, err := c.writerSchema()
	if err != nil {
		return nil, err
	}
	return c.encodeWith(s, id, text)
}

func (c *schemaCodec) encodeID(text []byte, id int) ([]byte, error) {
	if id <= 0 {
		return c.Encode(text)
	}
	s, err := c.byIDCompiled(id)
	if err != nil {
		return nil, err
	}
	return c.encodeWith(s, id, text)
}

func (c *schemaCodec) encodeWith(s compiled, id int, text []byte) ([]byte, error) {
	dst := make([]byte, headerSize, headerSize+len(text))
	AppendHeader(dst[:0], id)
	return s.encode(dst, text)
}

// byIDCompiled returns the compiled schema for id, fetching and compiling
// it the first time.
func (c *schemaCodec) byIDCompiled(id int) (compiled, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byIDLocked(id)
}

func (c *schemaCodec) byIDLocked(id int) (compiled, error) {
	if s, ok := c.byID[id]; ok {
		return s, nil
	}
	if err, ok := c.errs[id]; ok {
		return nil, err
	}
	s, err := c.fetchCompile(id)
	if err != nil {
		c.errs[id] = err
		return nil, err
	}
	c.byID[id] = s
	return s, nil
}

func (c *schemaCodec) fetchCompile(id int) (compiled, error) {
	what := "schema " + strconv.Itoa(id)
	if c.cfg == nil || c.cfg.Registry == nil {
		return nil, &SchemaError{What: what, Err: ErrNoRegistry}
	}
	s, err := c.cfg.Registry.SchemaByID(id)
	if err != nil {
		return nil, &SchemaError{What: what, Err: notFound(err)}
	}
	if s.Type == "" {
		s.Type = Avro // the registry's default
	}
	if c.kind != "" && s.Type != c.kind {
		return nil, &TypeMismatchError{ID: id, Got: s.Type, Codec: c.kind}
	}
	comp, err := c.compile(s)
	if err != nil {
		return nil, &SchemaError{What: what, Err: err}
	}
	return comp, nil
}

// compile resolves s's references and compiles it.
func (c *schemaCodec) compile(s Schema) (compiled, error) {
	f, ok := formats[s.Type]
	if !ok {
		return nil, fmt.Errorf("%s schemas are not supported", schemaTypeName(s.Type))
	}
	refs, err := c.resolve(s.References, map[string]bool{}, nil)
	if err != nil {
		return nil, err
	}
	return f.compile(s, refs, c.cfg)
}

// resolve fetches references depth first, dependencies before the
// schemas that use them, each subject and version once.
func (c *schemaCodec) resolve(refs []Reference, seen map[string]bool, out []NamedSchema) ([]NamedSchema, error) {
	for _, r := range refs {
		key := r.Subject + "@" + strconv.Itoa(r.Version)
		if seen[key] {
			continue
		}
		seen[key] = true
		if c.cfg == nil || c.cfg.Registry == nil {
			return nil, ErrNoRegistry
		}
		ss, err := c.cfg.Registry.SchemaByVersion(r.Subject, r.Version)
		if err != nil {
			return nil, fmt.Errorf("reference %q (subject %q version %d): %w", r.Name, r.Subject, r.Version, err)
		}
		if ss.Type == "" {
			ss.Type = Avro
		}
		if out, err = c.resolve(ss.References, seen, out); err != nil {
			return nil, err
		}
		out = append(out, NamedSchema{Name: r.Name, Schema: ss.Schema})
	}
	return out, nil
}

// writerSchema picks, once, the schema Encode writes with.
func (c *schemaCodec) writerSchema() (compiled, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.wdone {
		c.writer, c.wid, c.werr = c.pickWriter()
		if c.werr == nil {
			c.werr = writable(c.writer, c.wid)
		}
		c.wdone = true
	}
	return c.writer, c.wid, c.werr
}

func (c *schemaCodec) pickWriter() (compiled, int, error) {
	cfg := c.cfg
	if cfg == nil || cfg.Registry == nil {
		return nil, 0, ErrNoRegistry
	}
	if cfg.ID > 0 {
		s, err := c.byIDLocked(cfg.ID)
		return s, cfg.ID, err
	}
	if cfg.Subject != "" {
		return c.fromSubject(cfg.Subject, cfg.Version)
	}
	if cfg.Local != nil {
		s := *cfg.Local
		if c.kind != "" && s.Type != c.kind {
			return nil, 0, &SchemaError{What: "the local schema", Err: fmt.Errorf("it is %s, not %s", schemaTypeName(s.Type), schemaTypeName(c.kind))}
		}
		comp, err := c.compileLocal(s)
		if err != nil {
			return nil, 0, &SchemaError{What: "the local schema", Err: err}
		}
		if err := writable(comp, 0); err != nil {
			return nil, 0, err
		}
		subject, err := c.subject(comp.name())
		if err != nil {
			return nil, 0, err
		}
		if s.References, err = c.localReferences(s.References); err != nil {
			return nil, 0, err
		}
		var ss SubjectSchema
		if cfg.Register {
			ss, err = cfg.Registry.RegisterSchema(subject, s)
		} else {
			ss, err = cfg.Registry.LookupSchema(subject, s)
		}
		if err != nil {
			return nil, 0, &SchemaError{What: fmt.Sprintf("subject %q", subject), Err: &LocalSchemaError{Register: cfg.Register, Err: err}}
		}
		return comp, ss.ID, nil
	}
	subject, err := c.subject("")
	if err != nil {
		return nil, 0, err
	}
	return c.fromSubject(subject, -1)
}

// LocalSchemaError is a local schema the registry refused, or does not
// have under the subject (Register false).
type LocalSchemaError struct {
	Register bool
	Err      error
}

func (e *LocalSchemaError) Error() string {
	if e.Register {
		return "registering the schema: " + e.Err.Error()
	}
	return "looking the schema up: " + e.Err.Error()
}
func (e *LocalSchemaError) Unwrap() error { return e.Err }

// ErrNeedsRecordName is a record or topic-record strategy without a local
// schema to take the record's name from.
var ErrNeedsRecordName = errors.New("the record and topic-record subject strategies need the record's name, from a local schema")

func (c *schemaCodec) subject(record string) (string, error) {
	cfg := c.cfg
	switch cfg.Strategy {
	case RecordName, TopicRecordName:
		if record == "" {
			return "", ErrNeedsRecordName
		}
		if cfg.Strategy == RecordName {
			return record, nil
		}
		return cfg.Topic + "-" + record, nil
	}
	if cfg.Key {
		return cfg.Topic + "-key", nil
	}
	return cfg.Topic + "-value", nil
}

func (c *schemaCodec) fromSubject(subject string, version int) (compiled, int, error) {
	if version == 0 {
		version = -1
	}
	what := fmt.Sprintf("subject %q", subject)
	if version > 0 {
		what += fmt.Sprintf(" version %d", version)
	}
	ss, err := c.cfg.Registry.SchemaByVersion(subject, version)
	if err != nil {
		return nil, 0, &SchemaError{What: what, Err: notFound(err)}
	}
	if ss.Type == "" {
		ss.Type = Avro
	}
	if c.kind != "" && ss.Type != c.kind {
		return nil, 0, &TypeMismatchError{ID: ss.ID, Got: ss.Type, Codec: c.kind}
	}
	comp, err := c.compile(ss.Schema)
	if err != nil {
		return nil, 0, &SchemaError{What: fmt.Sprintf("schema %d (%s)", ss.ID, what), Err: err}
	}
	c.byID[ss.ID] = comp
	return comp, ss.ID, nil
}
