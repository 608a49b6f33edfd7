package codec

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/parser"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// protoInclude holds the files Confluent's serializers import but never
// register as references: confluent/meta.proto, confluent/type/decimal.proto
// (and its old path confluent/types/decimal.proto), confluent/type/variant.proto
// and googleapis' google/type/*.proto. The google/protobuf well-known types come from
// protocompile's standard imports instead.
//
//go:embed protoinclude
var protoInclude embed.FS

// ProtoSchema is a compiled Protobuf schema: one file, as a registry holds
// it, linked with everything it imports.
type ProtoSchema struct {
	file protoreflect.FileDescriptor
	// types resolves google.protobuf.Any type URLs and extensions against
	// the schema's own files rather than whatever a binary happens to link.
	types *dynamicpb.Types
}

// CompileProto compiles schema, the file named name, against refs, which
// maps each import path to that file's schema. Registries hold Protobuf
// schemas in two forms and both are accepted, for schema and for every
// reference: .proto source text, and the base64 of a serialized
// google.protobuf.FileDescriptorProto, which is what Confluent's Python
// serializer registers. refs must hold the whole import graph (the caller
// resolves references recursively); the files Confluent's clients never
// register (the google/protobuf well-known types and those in protoInclude)
// are supplied here. For the base64 form the file's own name is
// used and name only when it has none.
func CompileProto(name, schema string, refs map[string]string) (*ProtoSchema, error) {
	if _, clash := refs[name]; clash {
		return nil, fmt.Errorf("protobuf schema %q is also one of its references", name)
	}
	root, err := protoSearchResult(name, schema)
	if err != nil {
		return nil, err
	}
	if root.Proto != nil {
		name = root.Proto.GetName()
	}
	resolver := protocompile.WithStandardImports(protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		if path == name {
			return root, nil
		}
		if text, ok := refs[path]; ok {
			res, err := protoSearchResult(path, text)
			// An import is known by the path it is imported as, whatever
			// name its descriptor was serialized with.
			if res.Proto != nil {
				res.Proto.Name = proto.String(path)
			}
			return res, err
		}
		if fs.ValidPath(path) {
			if b, err := protoInclude.ReadFile("protoinclude/" + path); err == nil {
				return protocompile.SearchResult{Source: bytes.NewReader(b)}, nil
			}
		}
		return protocompile.SearchResult{}, fs.ErrNotExist
	}))
	// One worker: a registry schema is a handful of small files, and the
	// compiler's goroutines are then at most one at a time.
	c := protocompile.Compiler{Resolver: resolver, MaxParallelism: 1}
	files, err := c.Compile(context.Background(), name)
	if err != nil {
		return nil, fmt.Errorf("compiling protobuf schema: %w", err)
	}
	reg := new(protoregistry.Files)
	if err := registerProtoFile(reg, files[0]); err != nil {
		return nil, fmt.Errorf("compiling protobuf schema: %w", err)
	}
	return &ProtoSchema{file: files[0], types: dynamicpb.NewTypes(reg)}, nil
}

// protoSearchResult tells the two forms a registry holds apart. Source text
// always has a space, quote or semicolon in it, none of which is base64, so
// text that decodes as base64 into a FileDescriptorProto is one.
func protoSearchResult(path, schema string) (protocompile.SearchResult, error) {
	trimmed := strings.TrimSpace(schema)
	if trimmed != "" && !strings.ContainsAny(trimmed, " \t\r\n;\"'{") {
		if raw, err := base64.StdEncoding.DecodeString(trimmed); err == nil {
			fd := new(descriptorpb.FileDescriptorProto)
			if err := proto.Unmarshal(raw, fd); err != nil {
				return protocompile.SearchResult{}, fmt.Errorf("protobuf schema %q: base64 but not a FileDescriptorProto: %s", path, protoErrText(err))
			}
			if fd.GetName() == "" {
				fd.Name = proto.String(path)
			}
			return protocompile.SearchResult{Proto: fd}, nil
		}
	}
	return protocompile.SearchResult{Source: strings.NewReader(schema)}, nil
}

// ProtoImports returns the files the .proto source text imports that
// streamctl does not ship (see protoInclude), which a registry must hold as
// references.
func ProtoImports(name, text string) ([]string, error) {
	handler := reporter.NewHandler(nil)
	file, err := parser.Parse(name, strings.NewReader(text), handler)
	if err != nil {
		return nil, fmt.Errorf("reading protobuf schema: %w", err)
	}
	res, err := parser.ResultFromAST(file, false, handler)
	if err != nil {
		return nil, fmt.Errorf("reading protobuf schema: %w", err)
	}
	var imports []string
	for _, dep := range res.FileDescriptorProto().GetDependency() {
		if !protoShipped(dep) {
			imports = append(imports, dep)
		}
	}
	return imports, nil
}

// protoShipped says whether path is one of the files compiled in.
func protoShipped(path string) bool {
	if fs.ValidPath(path) {
		if _, err := fs.Stat(protoInclude, "protoinclude/"+path); err == nil {
			return true
		}
	}
	none := protocompile.ResolverFunc(func(string) (protocompile.SearchResult, error) {
		return protocompile.SearchResult{}, fs.ErrNotExist
	})
	_, err := protocompile.WithStandardImports(none).FindFileByPath(path)
	return err == nil
}

// registerProtoFile adds fd after everything it imports, which is the order
// protoregistry.Files insists on.
func registerProtoFile(reg *protoregistry.Files, fd protoreflect.FileDescriptor) error {
	if _, err := reg.FindFileByPath(fd.Path()); err == nil {
		return nil
	}
	imports := fd.Imports()
	for i := 0; i < imports.Len(); i++ {
		if err := registerProtoFile(reg, imports.Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	return reg.RegisterFile(fd)
}

// File returns the compiled root file.
func (s *ProtoSchema) File() protoreflect.FileDescriptor { return s.file }

// ProtoMessageError says which message of a schema to use could not be
// decided: the schema defines none, several (and none was named), or not
// the one named. Names lists the schema's messages, fully qualified.
type ProtoMessageError struct {
	Want  string
	Names []string
}

func (e *ProtoMessageError) Error() string {
	switch {
	case len(e.Names) == 0:
		return "the protobuf schema defines no message"
	case e.Want == "":
		return fmt.Sprintf("the protobuf schema defines several messages: %s", strings.Join(e.Names, ", "))
	}
	return fmt.Sprintf("the protobuf schema has no message %q (it has %s)", e.Want, strings.Join(e.Names, ", "))
}

// Message returns the message named by its fully qualified name (a leading
// "." is allowed, as protoc writes type names), which may be nested. An empty
// name means the file's only top-level message, which is how Confluent's
// serializers are used with most schemas.
func (s *ProtoSchema) Message(name string) (*ProtoMessage, error) {
	var md protoreflect.MessageDescriptor
	if want := strings.TrimPrefix(name, "."); want != "" {
		md = findProtoMessage(s.file.Messages(), protoreflect.FullName(want))
	} else if s.file.Messages().Len() == 1 {
		md = s.file.Messages().Get(0)
	}
	if md == nil {
		return nil, &ProtoMessageError{Want: name, Names: s.messageNames(name != "")}
	}
	return &ProtoMessage{desc: md, index: MessageIndex(md), types: s.types}, nil
}

func findProtoMessage(mds protoreflect.MessageDescriptors, want protoreflect.FullName) protoreflect.MessageDescriptor {
	for i := 0; i < mds.Len(); i++ {
		md := mds.Get(i)
		if md.FullName() == want && !md.IsMapEntry() {
			return md
		}
		if found := findProtoMessage(md.Messages(), want); found != nil {
			return found
		}
	}
	return nil
}

// messageNames lists the top-level messages, or with nested all of them,
// in the order the schema declares them.
func (s *ProtoSchema) messageNames(nested bool) []string {
	var names []string
	var walk func(mds protoreflect.MessageDescriptors)
	walk = func(mds protoreflect.MessageDescriptors) {
		for i := 0; i < mds.Len(); i++ {
			md := mds.Get(i)
			if md.IsMapEntry() {
				continue
			}
			names = append(names, string(md.FullName()))
			if nested {
				walk(md.Messages())
			}
		}
	}
	walk(s.file.Messages())
	return names
}

// MessageIndex returns the path of md from its file's root, as the
// Confluent wire format writes it: [0] for the first top-level message,
// [1, 0] for the first message nested in the second. The entry messages
// of map fields count where protoc's descriptor puts them, among the
// nested messages in declaration order, as Confluent's Python and Go
// serializers count them.
func MessageIndex(md protoreflect.MessageDescriptor) []int {
	var index []int
	for d := protoreflect.Descriptor(md); ; d = d.Parent() {
		if _, ok := d.(protoreflect.MessageDescriptor); !ok {
			break
		}
		index = append(index, d.Index())
	}
	for i, j := 0, len(index)-1; i < j; i, j = i+1, j-1 {
		index[i], index[j] = index[j], index[i]
	}
	return index
}

// MessageAt returns the message at index, a path from MessageIndex or
// ReadMessageIndex.
func (s *ProtoSchema) MessageAt(index []int) (protoreflect.MessageDescriptor, error) {
	var md protoreflect.MessageDescriptor
	mds := s.file.Messages()
	for _, i := range index {
		if i < 0 || i >= mds.Len() {
			where, kind := "the schema", "top-level"
			if md != nil {
				where, kind = string(md.FullName()), "nested"
			}
			plural := "s"
			if mds.Len() == 1 {
				plural = ""
			}
			return nil, fmt.Errorf("protobuf message index %v: %s has %d %s message%s, so no message %d", index, where, mds.Len(), kind, plural, i)
		}
		md = mds.Get(i)
		mds = md.Messages()
	}
	if md == nil {
		return nil, fmt.Errorf("protobuf message index %v is empty", index)
	}
	return md, nil
}

// AppendMessageIndex appends index in the Confluent wire format: the count
// and then each index as zig-zag varints, except that [0], the common case,
// is the single byte 0x00 (a count of zero).
func AppendMessageIndex(b []byte, index []int) []byte {
	if len(index) == 0 || len(index) == 1 && index[0] == 0 {
		return append(b, 0)
	}
	b = binary.AppendVarint(b, int64(len(index)))
	for _, i := range index {
		b = binary.AppendVarint(b, int64(i))
	}
	return b
}

// ReadMessageIndex reads the message-index path that starts b, as
// AppendMessageIndex writes it, and returns it with the bytes after it.
func ReadMessageIndex(b []byte) ([]int, []byte, error) {
	n, k := binary.Varint(b)
	if k <= 0 {
		return nil, nil, errors.New("protobuf message index: truncated or malformed count")
	}
	b = b[k:]
	if n == 0 {
		return []int{0}, b, nil
	}
	// Every index takes at least one byte, which bounds what a corrupt
	// count can make us allocate.
	if n < 0 || n > int64(len(b)) {
		return nil, nil, fmt.Errorf("protobuf message index: count %d does not fit the %d bytes that follow", n, len(b))
	}
	index := make([]int, n)
	for i := range index {
		v, k := binary.Varint(b)
		if k <= 0 {
			return nil, nil, fmt.Errorf("protobuf message index: index %d of %d is truncated or malformed", i+1, n)
		}
		if v < 0 || v > math.MaxInt32 {
			return nil, nil, fmt.Errorf("protobuf message index: index %d of %d is %d", i+1, n, v)
		}
		index[i] = int(v)
		b = b[k:]
	}
	return index, b, nil
}

// AppendJSON appends to dst the compact proto3 JSON of a Confluent Protobuf
// payload, the bytes after the schema id: the message-index path, then the
// message.
func (s *ProtoSchema) AppendJSON(dst, payload []byte) ([]byte, error) {
	index, rest, err := ReadMessageIndex(payload)
	if err != nil {
		return nil, err
	}
	return s.appendMessageJSON(dst, index, rest)
}

// appendMessageJSON appends the JSON of msg, the message at index.
func (s *ProtoSchema) appendMessageJSON(dst []byte, index []int, rest []byte) ([]byte, error) {
	md, err := s.MessageAt(index)
	if err != nil {
		return nil, err
	}
	msg := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{Resolver: s.types}).Unmarshal(rest, msg); err != nil {
		return nil, fmt.Errorf("invalid protobuf %s: %s", md.FullName(), protoErrText(err))
	}
	out, err := protojson.MarshalOptions{Resolver: s.types}.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("protobuf %s to json: %s", md.FullName(), protoErrText(err))
	}
	// protojson varies its whitespace on purpose; compact makes the output
	// the same on every run, and one line per record.
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, out); err != nil {
		return nil, fmt.Errorf("protobuf %s to json: %w", md.FullName(), err)
	}
	return buf.Bytes(), nil
}

// ProtoMessage is one message type of a ProtoSchema, the one records are
// encoded as.
type ProtoMessage struct {
	desc  protoreflect.MessageDescriptor
	index []int
	types *dynamicpb.Types
}

// Descriptor returns the message's descriptor.
func (m *ProtoMessage) Descriptor() protoreflect.MessageDescriptor { return m.desc }

// Index returns the message's index path, which Encode writes first.
func (m *ProtoMessage) Index() []int { return m.index }

// AppendEncode appends to dst the Confluent Protobuf payload for text, in
// proto3's canonical JSON mapping: the message-index path, then the message
// bytes. Input that does not fit the message is a *FieldError naming the
// field.
func (m *ProtoMessage) AppendEncode(dst, text []byte) ([]byte, error) {
	if !json.Valid(text) {
		return nil, jsonError(text)
	}
	msg := dynamicpb.NewMessage(m.desc)
	if err := (protojson.UnmarshalOptions{Resolver: m.types}).Unmarshal(text, msg); err != nil {
		return nil, protoJSONError(text, err)
	}
	b := AppendMessageIndex(dst, m.index)
	// Deterministic so that the same JSON always gives the same bytes,
	// maps included.
	b, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(b, msg)
	if err != nil {
		return nil, &FieldError{Msg: protoErrText(err)}
	}
	return b, nil
}

// protoErrText drops the "proto:" prefix that google.golang.org/protobuf
// puts on its errors, followed by a space or, deliberately at random, a
// no-break space.
func protoErrText(err error) string {
	s := err.Error()
	if rest, ok := strings.CutPrefix(s, "proto:"); ok {
		s = strings.TrimLeft(rest, " \u00a0")
	}
	return s
}

// protojsonPosition is compiled on first use, not at every start.
var protojsonPosition = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:syntax error )?\(line (\d+):(\d+)\): `)
})

// protoJSONError turns protojson's "(line L:C): what" into a FieldError
// whose path is that of the JSON token at L:C.
func protoJSONError(text []byte, err error) error {
	msg := protoErrText(err)
	m := protojsonPosition().FindStringSubmatch(msg)
	if m == nil {
		return &FieldError{Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	return &FieldError{Path: jsonPathAt(text, textOffset(text, line, col)), Msg: msg[len(m[0]):]}
}

// textOffset turns a 1-based line and rune column, as protojson counts
// them, into a byte offset.
func textOffset(text []byte, line, col int) int {
	off := 0
	for ; line > 1; line-- {
		i := bytes.IndexByte(text[off:], '\n')
		if i < 0 {
			return len(text)
		}
		off += i + 1
	}
	for ; col > 1 && off < len(text); col-- {
		_, size := utf8.DecodeRune(text[off:])
		off += size
	}
	return off
}

// jsonPathAt returns the path of the JSON token that starts at byte pos of
// text: an object key or a value, as in items[2].price.
func jsonPathAt(text []byte, pos int) string {
	type frame struct {
		array   bool
		index   int
		key     string
		haveKey bool
		wantKey bool
	}
	var stack []*frame
	render := func() string {
		var sb strings.Builder
		for _, f := range stack {
			switch {
			case f.array:
				fmt.Fprintf(&sb, "[%d]", f.index)
			case !f.haveKey:
			case isIdent(f.key):
				if sb.Len() > 0 {
					sb.WriteByte('.')
				}
				sb.WriteString(f.key)
			default:
				fmt.Fprintf(&sb, "[%s]", strconv.Quote(f.key))
			}
		}
		return sb.String()
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return render()
		}
		past := int(dec.InputOffset()) > pos
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if key, ok := tok.(string); ok && top != nil && !top.array && top.wantKey {
			top.key, top.haveKey, top.wantKey = key, true, false
			if past {
				return render()
			}
			continue
		}
		if top != nil && top.array && tok != json.Delim(']') {
			top.index++
		}
		if past {
			return render()
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{array: true, index: -1})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value has ended: the object that holds it expects a key next.
		if len(stack) > 0 && !stack[len(stack)-1].array {
			stack[len(stack)-1].wantKey = true
		}
	}
}

func isIdent(s string) bool {
	for i, r := range s {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return s != ""
}
