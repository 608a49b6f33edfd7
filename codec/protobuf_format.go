package codec

import (
	"fmt"
	"strconv"
)

// protoFormat plugs Protobuf into the schema codecs.
type protoFormat struct{}

// protoRootName is the file name a registry's schema compiles under; the
// registry gives it none, and its imports may not take it.
const protoRootName = "schema.proto"

func (protoFormat) compile(s Schema, refs []NamedSchema, cfg *SchemaConfig) (compiled, error) {
	files := make(map[string]string, len(refs))
	for _, r := range refs {
		files[r.Name] = r.Text
	}
	name := protoRootName
	for files[name] != "" {
		name = "_" + name
	}
	ps, err := CompileProto(name, s.Text, files)
	if err != nil {
		return nil, err
	}
	c := &protoCompiled{schema: ps}
	var want string
	if cfg != nil {
		want = cfg.ProtoMessage
	}
	c.msg, c.msgErr = ps.Message(want)
	// A message named but missing is wrong whatever the schema is used
	// for; a schema of several messages, none named, still decodes, since
	// each payload names its message.
	if want != "" && c.msgErr != nil {
		return nil, c.msgErr
	}
	return c, nil
}

// protoCompiled is a compiled Protobuf schema and the message it writes.
type protoCompiled struct {
	schema *ProtoSchema
	msg    *ProtoMessage
	msgErr error // why no message could be chosen to write
}

func (c *protoCompiled) decode(dst, payload []byte) ([]byte, error) {
	return c.schema.AppendJSON(dst, payload)
}

func (c *protoCompiled) encode(dst, text []byte) ([]byte, error) {
	if c.msgErr != nil {
		return nil, c.msgErr
	}
	return c.msg.AppendEncode(dst, text)
}

// name is the message's full name, which Confluent's record subject
// strategies use for Protobuf.
func (c *protoCompiled) name() string {
	if c.msg == nil {
		return ""
	}
	return string(c.msg.Descriptor().FullName())
}

func (c *protoCompiled) writeErr() error { return c.msgErr }

// writable says why comp, about to be written with, cannot be: a Protobuf
// schema of several messages and none named. It lets the writer's choice
// fail before any input is read rather than on the first record.
func writable(comp compiled, id int) error {
	w, ok := comp.(interface{ writeErr() error })
	if !ok || w.writeErr() == nil {
		return nil
	}
	what := "the local schema"
	if id > 0 {
		what = "schema " + strconv.Itoa(id)
	}
	return &SchemaError{What: what, Err: w.writeErr()}
}

// decodeHeaderForm decodes the value of a Confluent 8 record, whose schema
// id header holds, after the GUID, what the framing would have held between
// the id and the payload: a Protobuf message's index path, as Confluent's
// serializers write it; nothing for the other types.
func decodeHeaderForm(s compiled, extra, payload []byte) ([]byte, error) {
	p, ok := s.(*protoCompiled)
	if !ok {
		if len(extra) > 0 {
			return nil, &FramingError{Msg: fmt.Sprintf("schema id header of %d bytes, want the magic byte 0x01 and a 16-byte GUID", 17+len(extra))}
		}
		return s.decode(nil, payload)
	}
	if len(extra) == 0 {
		return nil, &FramingError{Msg: "schema id header holds no message index after the GUID, and a Protobuf record needs one"}
	}
	index, rest, err := ReadMessageIndex(extra)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		unit := "bytes"
		if len(rest) == 1 {
			unit = "byte"
		}
		return nil, &FramingError{Msg: fmt.Sprintf("schema id header has %d %s after the GUID and message index", len(rest), unit)}
	}
	return p.schema.appendMessageJSON(nil, index, payload)
}
