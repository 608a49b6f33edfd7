package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/goldenfile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// protoCommon is a schema another subject holds; protoOrders imports it
// as "shop/common.proto", the reference's name.
const protoCommon = `syntax = "proto3";
package shop.common;

message Money {
  string currency = 1;
  int64 units = 2;
  int32 nanos = 3;
}
`

const protoOrders = `syntax = "proto3";
package shop;

import "google/protobuf/timestamp.proto";
import "shop/common.proto";
import "confluent/meta.proto";
import "confluent/type/decimal.proto";

option (confluent.file_meta) = { doc: "orders as the shop writes them" };

message Order {
  string id = 1;
  Customer customer = 2;
  repeated Item items = 3;
  google.protobuf.Timestamp placed_at = 4;
  map<string, string> tags = 5;
  Status status = 6;

  message Customer {
    string name = 1 [(confluent.field_meta).doc = "as printed on the invoice"];
    Address address = 2;

    message Address {
      string city = 1;
      string zip = 2;
    }
  }

  message Item {
    string sku = 1;
    int32 qty = 2;
    shop.common.Money price = 3;
  }

  enum Status {
    STATUS_UNSPECIFIED = 0;
    PLACED = 1;
    SHIPPED = 2;
  }
}

message Refund {
  string order_id = 1;
  confluent.type.Decimal amount = 2;
}
`

func protoRefs() map[string]string { return map[string]string{"shop/common.proto": protoCommon} }

func mustCompileProto(t *testing.T, schema string, refs map[string]string) *ProtoSchema {
	t.Helper()
	s, err := CompileProto("orders.proto", schema, refs)
	if err != nil {
		t.Fatalf("CompileProto: %v", err)
	}
	return s
}

func mustProtoMessage(t *testing.T, s *ProtoSchema, name string) *ProtoMessage {
	t.Helper()
	m, err := s.Message(name)
	if err != nil {
		t.Fatalf("Message(%q): %v", name, err)
	}
	return m
}

func TestProtoMessageIndexWire(t *testing.T) {
	tests := []struct {
		index []int
		wire  string
	}{
		{[]int{0}, "00"},
		{[]int{1}, "0202"},
		{[]int{0, 0}, "040000"},
		{[]int{1, 2}, "040204"},
		{[]int{70}, "028c01"},
		{[]int{0, 1, 2}, "06000204"},
	}
	for _, tt := range tests {
		got := AppendMessageIndex([]byte{0xaa}, tt.index)
		if want := "aa" + tt.wire; hex.EncodeToString(got) != want {
			t.Errorf("AppendMessageIndex(%v) = %x, want %s", tt.index, got, want)
		}
		wire, _ := hex.DecodeString(tt.wire + "ff")
		index, rest, err := ReadMessageIndex(wire)
		if err != nil {
			t.Fatalf("ReadMessageIndex(%s): %v", tt.wire, err)
		}
		if !cmp.Equal(index, tt.index) || !bytes.Equal(rest, []byte{0xff}) {
			t.Errorf("ReadMessageIndex(%sff) = %v, %x, want %v, ff", tt.wire, index, rest, tt.index)
		}
	}
	// The long form of [0], a count of one then 0, is what a writer
	// without the shortcut sends; it means the same.
	if index, _, err := ReadMessageIndex([]byte{2, 0}); err != nil || !cmp.Equal(index, []int{0}) {
		t.Errorf("ReadMessageIndex(0200) = %v, %v, want [0]", index, err)
	}
}

func TestProtoMessageIndexBad(t *testing.T) {
	tests := []struct{ wire, want string }{
		{"", "truncated or malformed count"},
		{"01", "count -1 does not fit"},
		{"0602", "count 3 does not fit the 1 bytes that follow"},
		{"0201", "index 1 of 1 is -1"},
		{"04ffff", "index 1 of 2 is truncated or malformed"},
		{"ffffffffffffffffffff01", "truncated or malformed count"},
	}
	for _, tt := range tests {
		wire, _ := hex.DecodeString(tt.wire)
		_, _, err := ReadMessageIndex(wire)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadMessageIndex(%s) = %v, want an error containing %q", tt.wire, err, tt.want)
		}
	}
}

func TestProtoMessageSelection(t *testing.T) {
	s := mustCompileProto(t, protoOrders, protoRefs())
	tests := []struct {
		name  string
		index []int
	}{
		{"shop.Order", []int{0}},
		{".shop.Order", []int{0}},
		{"shop.Refund", []int{1}},
		// The map field tags, declared before Customer, has its entry
		// message at index 0 of Order's nested types, as protoc puts it
		// in the descriptor; Confluent's Python and Go serializers count
		// it, so streamctl does too.
		{"shop.Order.TagsEntry", nil},
		{"shop.Order.Customer", []int{0, 1}},
		{"shop.Order.Item", []int{0, 2}},
		{"shop.Order.Customer.Address", []int{0, 1, 0}},
	}
	for _, tt := range tests {
		if tt.index == nil {
			md, err := s.MessageAt([]int{0, 0})
			if err != nil || md.FullName() != protoreflect.FullName(strings.TrimPrefix(tt.name, ".")) {
				t.Errorf("MessageAt([0 0]) = %v, %v, want %s", md, err, tt.name)
			}
			continue
		}
		m := mustProtoMessage(t, s, tt.name)
		if got := m.Index(); !cmp.Equal(got, tt.index) {
			t.Errorf("Message(%q).Index() = %v, want %v", tt.name, got, tt.index)
		}
		md, err := s.MessageAt(tt.index)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(md.FullName()), strings.TrimPrefix(tt.name, "."); got != want {
			t.Errorf("MessageAt(%v) = %s, want %s", tt.index, got, want)
		}
	}

	_, err := s.Message("")
	var me *ProtoMessageError
	if !errors.As(err, &me) || !cmp.Equal(me.Names, []string{"shop.Order", "shop.Refund"}) {
		t.Errorf(`Message("") = %v, want a ProtoMessageError naming shop.Order and shop.Refund`, err)
	}
	if got, want := err.Error(), "the protobuf schema defines several messages: shop.Order, shop.Refund"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// A name not found lists every message, nested ones too, since the
	// user may have meant one of those; map entries are no one's choice.
	_, err = s.Message("Order")
	if got, want := err.Error(), `the protobuf schema has no message "Order" (it has shop.Order, shop.Order.Customer, shop.Order.Customer.Address, shop.Order.Item, shop.Refund)`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := s.Message("shop.Order.TagsEntry"); err == nil {
		t.Error("Message(shop.Order.TagsEntry) succeeded, want an error: a map entry is not a message to write")
	}

	one := mustCompileProto(t, `syntax = "proto3"; package p; message Only { message Inner {} }`, nil)
	if got := mustProtoMessage(t, one, "").Descriptor().FullName(); got != "p.Only" {
		t.Errorf(`Message("") on a one-message schema = %s, want p.Only`, got)
	}
	none := mustCompileProto(t, `syntax = "proto3"; package p; enum E { E_0 = 0; }`, nil)
	if _, err := none.Message(""); err == nil || err.Error() != "the protobuf schema defines no message" {
		t.Errorf(`Message("") on a schema without messages = %v`, err)
	}

	for _, index := range [][]int{{2}, {0, 9}, {}} {
		if _, err := s.MessageAt(index); err == nil {
			t.Errorf("MessageAt(%v) succeeded, want an error", index)
		}
	}
	if _, err := s.MessageAt([]int{0, 5}); err == nil || !strings.Contains(err.Error(), "shop.Order has 3 nested messages, so no message 5") {
		t.Errorf("MessageAt([0 5]) = %v", err)
	}
}

// TestProtoBytes pins the wire bytes for small messages, worked out by hand
// from the Protobuf encoding, so that a change in index or field encoding
// cannot hide behind a round trip that agrees with itself.
func TestProtoBytes(t *testing.T) {
	s := mustCompileProto(t, protoOrders, protoRefs())
	tests := []struct{ message, json, wire string }{
		// [1]: 02 02; field 1, bytes, "a": 0a 01 61.
		{"shop.Refund", `{"orderId":"a"}`, "0202" + "0a0161"},
		// [0]: 00; field 6, varint 2: 30 02.
		{"shop.Order", `{"status":"SHIPPED"}`, "00" + "3002"},
		// [0 1 0]: 06 00 02 00; field 2, bytes "x": 12 01 78.
		{"shop.Order.Customer.Address", `{"zip":"x"}`, "06000200" + "120178"},
	}
	for _, tt := range tests {
		got, err := mustProtoMessage(t, s, tt.message).AppendEncode(nil, []byte(tt.json))
		if err != nil {
			t.Fatalf("%s: %v", tt.json, err)
		}
		if hex.EncodeToString(got) != tt.wire {
			t.Errorf("encode %s as %s = %x, want %s", tt.json, tt.message, got, tt.wire)
		}
		wire, _ := hex.DecodeString(tt.wire)
		back, err := s.AppendJSON(nil, wire)
		if err != nil {
			t.Fatal(err)
		}
		if string(back) != tt.json {
			t.Errorf("decode %s = %s, want %s", tt.wire, back, tt.json)
		}
	}
}

// TestProtoGolden encodes proto3 JSON and decodes it again through every
// kind of field the orders schema has: nested messages, a message from a
// reference, a well-known type, a map, an enum, Confluent's decimal.
func TestProtoGolden(t *testing.T) {
	s := mustCompileProto(t, protoOrders, protoRefs())
	tests := []struct{ name, message, json string }{
		{"order", "shop.Order", `{
			"id": "o-1",
			"customer": {"name": "Ada", "address": {"city": "Paris", "zip": "75001"}},
			"items": [
				{"sku": "tea", "qty": 2, "price": {"currency": "EUR", "units": "3", "nanos": 500000000}},
				{"sku": "cup", "qty": 1}
			],
			"placedAt": "2026-12-01T09:30:00.250Z",
			"tags": {"gift": "yes", "channel": "web"},
			"status": "PLACED"
		}`},
		// proto3 JSON accepts the proto field names and enum numbers too;
		// what comes back is the canonical form.
		{"proto_names", "shop.Order", `{"placed_at": "2026-12-01T10:30:00+01:00", "status": 2, "items": [{"price": {"units": 7}}]}`},
		{"empty", "shop.Order", `{}`},
		{"nested", "shop.Order.Customer", `{"name": "Bo", "address": {"city": "Oslo"}}`},
		{"decimal", "shop.Refund", `{"orderId": "o-1", "amount": {"value": "MDk=", "precision": 5, "scale": 2}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire, err := mustProtoMessage(t, s, tt.message).AppendEncode(nil, []byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			text, err := s.AppendJSON(nil, wire)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, "wire: "+hex.EncodeToString(wire)+"\njson: "+string(text)+"\n")
			// What consume prints, produce takes back to the same bytes.
			again, err := mustProtoMessage(t, s, tt.message).AppendEncode(nil, text)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, wire) {
				t.Errorf("re-encoding %s = %x, want %x", text, again, wire)
			}
		})
	}
}

// descriptorForm is a schema as Confluent's Python serializer registers
// it: base64 of the serialized FileDescriptorProto.
func descriptorForm(t *testing.T, s *ProtoSchema) string {
	t.Helper()
	b, err := proto.Marshal(protodesc.ToFileDescriptorProto(s.File()))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestProtoDescriptorForm(t *testing.T) {
	text := mustCompileProto(t, protoOrders, protoRefs())
	common, err := CompileProto("shop/common.proto", protoCommon, nil)
	if err != nil {
		t.Fatal(err)
	}
	commonElsewhere, err := CompileProto("money.proto", protoCommon, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := `{"id":"o-2","customer":{"address":{"zip":"1"}},"items":[{"price":{"units":"4"}}],"placedAt":"2026-12-01T00:00:00Z","tags":{"k":"v"}}`
	wire, err := mustProtoMessage(t, text, "shop.Order").AppendEncode(nil, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		refs map[string]string
	}{
		{"references as text", protoRefs()},
		{"references as descriptors", map[string]string{"shop/common.proto": descriptorForm(t, common)}},
		// A reference is the file its name imports, whatever name its
		// descriptor was written with.
		{"reference descriptor named otherwise", map[string]string{"shop/common.proto": descriptorForm(t, commonElsewhere)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := CompileProto("ignored.proto", descriptorForm(t, text), tt.refs)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := s.File().Path(), "orders.proto"; got != want {
				t.Errorf("file name = %q, want the descriptor's own %q", got, want)
			}
			got, err := s.AppendJSON(nil, wire)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != in {
				t.Errorf("decoded %s, want %s", got, in)
			}
			back, err := mustProtoMessage(t, s, "shop.Order").AppendEncode(nil, got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, wire) {
				t.Errorf("encoded %x, want %x", back, wire)
			}
		})
	}
	if _, err := CompileProto("x.proto", "AAAA/w==", nil); err == nil || !strings.Contains(err.Error(), "base64 but not a FileDescriptorProto") {
		t.Errorf("CompileProto(garbage base64) = %v", err)
	}
}

func TestProtoCompileErrors(t *testing.T) {
	tests := []struct {
		name, schema string
		refs         map[string]string
		want         string
	}{
		{"missing reference", protoOrders, nil, `shop/common.proto`},
		{"syntax", `syntax = "proto3"; message {`, nil, `orders.proto:1:28`},
		{"unknown type", `syntax = "proto3"; message M { Nope n = 1; }`, nil, `unknown type Nope`},
		{"name clash with a reference", `syntax = "proto3";`, map[string]string{"orders.proto": ""}, "also one of its references"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileProto("orders.proto", tt.schema, tt.refs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestProtoConfluentImports compiles schemas that import the files
// Confluent's clients ship rather than register, including the old path of
// Decimal, and the well-known types.
func TestProtoConfluentImports(t *testing.T) {
	schema := `syntax = "proto3";
package p;
import "confluent/types/decimal.proto";
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/wrappers.proto";
message M {
  confluent.type.Decimal d = 1;
  google.protobuf.Duration took = 2;
  google.protobuf.Struct extra = 3;
  google.protobuf.Int64Value maybe = 4;
  google.protobuf.Any any = 5;
}
`
	s := mustCompileProto(t, schema, nil)
	in := `{"d":{"value":"AQ==","scale":1},"took":"1.500s","extra":{"a":[1,"x",null]},"maybe":"9","any":{"@type":"type.googleapis.com/confluent.type.Decimal","value":"Ag=="}}`
	wire, err := mustProtoMessage(t, s, "").AppendEncode(nil, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.AppendJSON(nil, wire)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != in {
		t.Errorf("round trip = %s, want %s", got, in)
	}
}

// TestProtoIncludedFiles imports every embedded file at once, so each must
// compile and none may clash with another, and round-trips a value of one
// of them.
func TestProtoIncludedFiles(t *testing.T) {
	var imports strings.Builder
	err := fs.WalkDir(protoInclude, "protoinclude", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			fmt.Fprintf(&imports, "import %q;\n", strings.TrimPrefix(path, "protoinclude/"))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(imports.String(), "import"); n != 21 {
		t.Errorf("%d embedded files, want 21:\n%s", n, imports.String())
	}
	s := mustCompileProto(t, `syntax = "proto3";
package p;
`+imports.String()+`
message M {
  google.type.Date day = 1;
  google.type.DateTime at = 2;
  google.type.Money price = 3;
  google.type.DayOfWeek weekday = 4;
  google.type.PhoneNumber phone = 5;
}
`, nil)
	in := `{"day":{"year":2026,"month":12,"day":1},"at":{"year":2026,"hours":9,"utcOffset":"3600s"},"price":{"currencyCode":"EUR","units":"12"},"weekday":"TUESDAY","phone":{"e164Number":"+33100000000"}}`
	wire, err := mustProtoMessage(t, s, "p.M").AppendEncode(nil, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.AppendJSON(nil, wire)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != in {
		t.Errorf("round trip = %s, want %s", got, in)
	}
}

// TestProtoBadInput checks that input that does not fit the message names
// the field, by its JSON path, however deep and on whatever line.
func TestProtoBadInput(t *testing.T) {
	s := mustCompileProto(t, protoOrders, protoRefs())
	order := mustProtoMessage(t, s, "shop.Order")
	tests := []struct{ json, path, msg string }{
		{`{"items":[{"sku":"a"},{"qty":"x"}]}`, "items[1].qty", `invalid value for int32 field qty: "x"`},
		{`{"customer":{"nmae":"x"}}`, "customer.nmae", `unknown field "nmae"`},
		{`{"customer":{"address":{"zip":7}}}`, "customer.address.zip", `invalid value for string field zip: 7`},
		{`{"placedAt":"yesterday"}`, "placedAt", `invalid google.protobuf.Timestamp value "yesterday"`},
		{`{"tags":{"a b":1}}`, `tags["a b"]`, `invalid value for string field value: 1`},
		{`{"status":"LOST"}`, "status", `invalid value for enum field status: "LOST"`},
		{`{"items":[{"price":{"units":1.5}}]}`, "items[0].price.units", `invalid value for int64 field units: 1.5`},
		{"{\n  \"id\": \"a\",\n  \"items\": [\n    {\"sku\": \"é\", \"qty\": true}\n  ]\n}", "items[0].qty", `invalid value for int32 field qty: true`},
		{`{"id":"a","id":"b"}`, "id", `duplicate field "id"`},
		{`[1]`, "", `unexpected token [`},
	}
	for _, tt := range tests {
		_, err := order.AppendEncode(nil, []byte(tt.json))
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a FieldError", tt.json, err)
			continue
		}
		if fe.Path != tt.path || fe.Msg != tt.msg {
			t.Errorf("%s: got path %q msg %q, want %q %q", tt.json, fe.Path, fe.Msg, tt.path, tt.msg)
		}
	}
	if _, err := order.AppendEncode(nil, []byte(`{"id":`)); err == nil || !strings.HasPrefix(err.Error(), "invalid json") {
		t.Errorf("truncated JSON: got %v, want invalid json", err)
	}
}

func TestProtoDecodeErrors(t *testing.T) {
	s := mustCompileProto(t, protoOrders, protoRefs())
	tests := []struct{ wire, want string }{
		{"", "protobuf message index: truncated"},
		{"0208", "the schema has 2 top-level messages, so no message 4"},
		{"00ff", "invalid protobuf shop.Order: "},
		{"000a05616263", "invalid protobuf shop.Order: "},
	}
	for _, tt := range tests {
		wire, _ := hex.DecodeString(tt.wire)
		_, err := s.AppendJSON(nil, wire)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("decode %s: got %v, want an error containing %q", tt.wire, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "proto:") {
			t.Errorf("decode %s: %q keeps the library's prefix", tt.wire, err)
		}
	}
}

func TestJSONPathAt(t *testing.T) {
	text := `{"a":{"b":[1,{"c":2},[3,4]]},"d e":"f","":0}`
	tests := []struct{ at, want string }{
		{`"a"`, "a"},
		{`{"b"`, "a"},
		{`"b"`, "a.b"},
		{`1`, "a.b[0]"},
		{`"c"`, "a.b[1].c"},
		{`2`, "a.b[1].c"},
		{`[3`, "a.b[2]"},
		{`4`, "a.b[2][1]"},
		{`"f"`, `["d e"]`},
		{`0}`, `[""]`},
	}
	for _, tt := range tests {
		pos := strings.Index(text, tt.at)
		if got := jsonPathAt([]byte(text), pos); got != tt.want {
			t.Errorf("path at %q (byte %d) = %q, want %q", tt.at, pos, got, tt.want)
		}
	}
}

// confluentPython is what testdata/codec/gen_proto_fixtures.py writes.
type confluentPython struct {
	Schemas map[string]struct {
		Subject    string
		Version    int
		SchemaType string
		Schema     string
		References []struct {
			Name    string
			Subject string
			Version int
		}
	}
	Records []struct {
		Case, Topic, Message, Wire string
		JSON                       any
	}
}

// TestProtoConfluentPython reads what Confluent's Python serializer
// registered and wrote (base64 FileDescriptorProtos, a subject for each
// import, nested messages' index paths) and checks that streamctl decodes
// it to the JSON Python's json_format gives, and encodes that JSON back to
// the same bytes.
func TestProtoConfluentPython(t *testing.T) {
	dir := filepath.Join("..", "testdata", "codec", "protobuf")
	if *goldenfile.Update {
		// The script's input: the test schemas as a FileDescriptorSet,
		// since Python's protobuf cannot compile .proto text.
		s := mustCompileProto(t, protoOrders, protoRefs())
		common, err := CompileProto("shop/common.proto", protoCommon, nil)
		if err != nil {
			t.Fatal(err)
		}
		set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
			protodesc.ToFileDescriptorProto(common.File()), protodesc.ToFileDescriptorProto(s.File()),
		}}
		b, err := proto.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "schema.fds"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("wrote schema.fds; now run testdata/codec/gen_proto_fixtures.py")
		return
	}
	raw, err := os.ReadFile(filepath.Join(dir, "confluent_python.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx confluentPython
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	bySubject := map[string]string{}
	for _, s := range fx.Schemas {
		bySubject[s.Subject+"@"+strconv.Itoa(s.Version)] = s.Schema
	}
	if len(fx.Records) == 0 {
		t.Fatal("no records in the fixture")
	}
	for _, rec := range fx.Records {
		t.Run(rec.Case, func(t *testing.T) {
			wire, err := hex.DecodeString(rec.Wire)
			if err != nil || len(wire) < 5 || wire[0] != 0 {
				t.Fatalf("fixture wire %q is not framed", rec.Wire)
			}
			id := strconv.Itoa(int(binary.BigEndian.Uint32(wire[1:5])))
			root, ok := fx.Schemas[id]
			if !ok {
				t.Fatalf("no schema %s in the fixture", id)
			}
			refs := map[string]string{}
			var resolve func(name, subject string, version int)
			resolve = func(name, subject string, version int) {
				text, ok := bySubject[subject+"@"+strconv.Itoa(version)]
				if !ok {
					t.Fatalf("no subject %s version %d in the fixture", subject, version)
				}
				refs[name] = text
				for _, s := range fx.Schemas {
					if s.Subject == subject && s.Version == version {
						for _, r := range s.References {
							resolve(r.Name, r.Subject, r.Version)
						}
					}
				}
			}
			for _, r := range root.References {
				resolve(r.Name, r.Subject, r.Version)
			}
			s, err := CompileProto("schema.proto", root.Schema, refs)
			if err != nil {
				t.Fatal(err)
			}
			text, err := s.AppendJSON(nil, wire[5:])
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if err := json.Unmarshal(text, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rec.JSON, got); diff != "" {
				t.Errorf("decoded JSON differs from Python's (-python +streamctl):\n%s", diff)
			}
			in, _ := json.Marshal(rec.JSON)
			payload, err := mustProtoMessage(t, s, rec.Message).AppendEncode(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(payload, wire[5:]) {
				t.Errorf("encoded %x, Python wrote %x", payload, wire[5:])
			}
		})
	}
}

// FuzzProtoDecode feeds arbitrary payloads to the orders schema: decoding
// may fail but must not panic, what it prints must be JSON, and that JSON
// must encode again as the message the payload named.
func FuzzProtoDecode(f *testing.F) {
	s, err := CompileProto("orders.proto", protoOrders, protoRefs())
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"00", "0202", "06000200120178", "0208", "00ff"} {
		b, _ := hex.DecodeString(seed)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := s.AppendJSON(nil, payload)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("AppendJSON(%x) = %s, which is not JSON", payload, out)
		}
		index, _, _ := ReadMessageIndex(payload)
		md, _ := s.MessageAt(index)
		m := &ProtoMessage{desc: md, index: MessageIndex(md), types: s.types}
		if _, err := m.AppendEncode(nil, out); err != nil {
			t.Fatalf("AppendJSON(%x) = %s, which does not encode again: %v", payload, out, err)
		}
	})
}

func TestProtoImports(t *testing.T) {
	got, err := ProtoImports("orders.proto", protoOrders+`import "google/type/date.proto"; import public "other/x.proto";`)
	if err != nil {
		t.Fatal(err)
	}
	// The well-known types, google/type and Confluent's files are shipped,
	// so only the others need references.
	if want := []string{"shop/common.proto", "other/x.proto"}; !cmp.Equal(got, want) {
		t.Errorf("ProtoImports = %v, want %v", got, want)
	}
	if _, err := ProtoImports("bad.proto", `syntax = "proto3"; message {`); err == nil {
		t.Error("ProtoImports of bad text succeeded, want an error")
	}
}
