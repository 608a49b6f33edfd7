package cmd

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// protoFile reads a schema from testdata/cmd/protobuf.
func protoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "cmd", "protobuf", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ordersTopic creates a topic whose <topic>-value subject holds the
// orders schema, which imports shop/common.proto from the subject common,
// as Confluent's clients register a Protobuf import.
func ordersTopic(t *testing.T, addr string, reg *srfake.Registry) string {
	t.Helper()
	registerSchema(t, reg, "common", sr.TypeProtobuf, protoFile(t, "shop/common.proto"))
	topic := newTopic(t, addr, 1)
	registerSchema(t, reg, topic+"-value", sr.TypeProtobuf, protoFile(t, "orders.proto"),
		sr.SchemaReference{Name: "shop/common.proto", Subject: "common", Version: 1})
	return topic
}

// wireHex is each record's value in hex, one per line.
func wireHex(t *testing.T, addr, topic string) string {
	t.Helper()
	var sb strings.Builder
	for _, r := range kafkatest.ReadAll(t, addr, topic) {
		sb.WriteString(hex.EncodeToString(r.Value) + "\n")
	}
	return sb.String()
}

var envelopeTimestamp = regexp.MustCompile(`"timestamp":\d+`)

// TestProtobufProduceConsume produces proto3 JSON with the registry's
// schema (nested messages, a message from another subject, a well-known
// type, a map, an enum), and consumes it back as JSON, plain and in -J.
func TestProtobufProduceConsume(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	topic := ordersTopic(t, addr, reg)
	sreg := []string{"--schema-registry", reg.URL()}

	mustRun(t, ExitOK, protoFile(t, "orders.jsonl"), append([]string{"produce", "-b", addr, topic, "-s", "protobuf", "--proto-message", "shop.Order"}, sreg...)...)
	golden(t, "cmd", "wire", wireHex(t, addr, topic))

	plain := mustRun(t, ExitOK, "", append([]string{"consume", topic, "-b", addr, "-e", "-s", "protobuf"}, sreg...)...)
	golden(t, "cmd", "consume", plain.Stdout)

	env := mustRun(t, ExitOK, "", append([]string{"consume", topic, "-b", addr, "-e", "-J", "-s", "sr"}, sreg...)...)
	golden(t, "cmd", "consume-envelope", envelopeTimestamp.ReplaceAllString(scrubTopic(env.Stdout, topic), `"timestamp":T`))

	// consume -J -s sr | produce -J -s sr copies the topic. The envelope
	// carries the schema id but not which of the schema's messages a
	// record is, so a schema of several needs --proto-message.
	dst := newTopic(t, addr, 1)
	mustRun(t, ExitOK, env.Stdout, append([]string{"produce", "-b", addr, dst, "-J", "-s", "sr", "--proto-message", "shop.Order"}, sreg...)...)
	if got, want := wireHex(t, addr, dst), wireHex(t, addr, topic); got != want {
		t.Errorf("the copy's values differ:\n got %s\nwant %s", got, want)
	}
}

// TestProtobufNestedMessage writes a nested message, whose index path the
// framing carries, and reads it back without being told which it is.
func TestProtobufNestedMessage(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	topic := ordersTopic(t, addr, reg)
	sreg := []string{"--schema-registry", reg.URL()}
	mustRun(t, ExitOK, `{"city":"Oslo","zip":"0150"}`, append([]string{"produce", "-b", addr, topic, "-s", "protobuf", "--proto-message", "shop.Order.Customer.Address"}, sreg...)...)
	// Magic byte, schema 2, index [0 1 0] (Order's first nested type is
	// its map field's entry), then the message.
	if got, want := wireHex(t, addr, topic), "0000000002"+"06000200"+"0a044f736c6f120430313530\n"; got != want {
		t.Errorf("wire = %s, want %s", got, want)
	}
	r := mustRun(t, ExitOK, "", append([]string{"consume", topic, "-b", addr, "-e", "-s", "sr"}, sreg...)...)
	if got, want := r.Stdout, `{"city":"Oslo","zip":"0150"}`+"\n"; got != want {
		t.Errorf("consume = %q, want %q", got, want)
	}
}

// TestProtobufBadInput: input that does not fit the message is reported
// with its line and field path, what came before it is delivered, exit 1.
func TestProtobufBadInput(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	for _, tc := range []struct {
		name, stdin string
	}{
		{"wrong type deep inside", `{"id":"a"}` + "\n" + `{"items":[{"sku":"b"},{"qty":"two"}]}` + "\n" + `{"id":"c"}` + "\n"},
		{"unknown field", `{"id":"a"}` + "\n" + `{"customer":{"nmae":"x"}}` + "\n"},
		{"not json", `{"id":"a"}` + "\n" + `{"id":` + "\n"},
		{"bad timestamp", `{"id":"a"}` + "\n" + `{"placedAt":"yesterday"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := ordersTopic(t, addr, reg)
			r := mustRun(t, ExitError, tc.stdin, "produce", "-b", addr, topic, "-s", "protobuf", "--proto-message", "shop.Order", "--schema-registry", reg.URL())
			golden(t, "cmd", tc.name, scrubTopic(r.Stderr, topic))
			if got := wireHex(t, addr, topic); got != "0000000002000a0161\n" {
				t.Errorf("delivered %q, want only the first record", got)
			}
		})
	}
}

// TestProtobufWriterChoice: a schema of several messages needs one named,
// and says so before reading any input.
func TestProtobufWriterChoice(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	topic := ordersTopic(t, addr, reg)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"several messages", nil},
		{"no such message", []string{"--proto-message", "Order"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"produce", "-b", addr, topic, "-s", "protobuf", "--schema-registry", reg.URL()}, tc.args...)
			r := mustRun(t, ExitError, `{"id":"a"}`, args...)
			golden(t, "cmd", tc.name, scrubTopic(r.Stderr, topic))
			if got := wireHex(t, addr, topic); got != "" {
				t.Errorf("delivered %q, want nothing", got)
			}
		})
	}
}

// TestProtobufLocalSchema registers a local .proto under the topic's
// subject and writes with it.
func TestProtobufLocalSchema(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	topic := newTopic(t, addr, 1)
	path := filepath.Join("..", "testdata", "cmd", "protobuf", "click.proto")
	mustRun(t, ExitOK, `{"page":"/","at":"2026-12-01T10:00:00Z","tags":["a","b"]}`,
		"produce", "-b", addr, topic, "-s", "protobuf", "--value-schema", path, "--register", "--schema-registry", reg.URL())
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.SchemaByVersion(context.Background(), topic+"-value", -1)
	if err != nil || ss.Type != sr.TypeProtobuf {
		t.Fatalf("subject %s-value: %+v, %v; want the Protobuf schema registered", topic, ss, err)
	}
	r := mustRun(t, ExitOK, "", "consume", topic, "-b", addr, "-e", "-s", "sr", "--schema-registry", reg.URL())
	if got, want := r.Stdout, `{"page":"/","at":"2026-12-01T10:00:00Z","tags":["a","b"]}`+"\n"; got != want {
		t.Errorf("consume = %q, want %q", got, want)
	}
}

// TestProtobufConfluentPython consumes what Confluent's Python serializer
// wrote (codec's fixture, from testdata/codec/gen_proto_fixtures.py): its
// schemas as it registers them, base64 FileDescriptorProtos with the
// imported file as a subject of its own, and its records.
func TestProtobufConfluentPython(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "codec", "protobuf", "confluent_python.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Schemas map[string]struct {
			Subject, Schema string
			References      []sr.SchemaReference
		}
		Records []struct {
			Wire string
			JSON any
		}
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	// srfake numbers schemas itself, so the Python ids are mapped to its.
	ids := make([]int, 0, len(fx.Schemas))
	for id := range fx.Schemas {
		n, _ := strconv.Atoi(id)
		ids = append(ids, n)
	}
	sort.Ints(ids)
	ours := map[uint32]int{}
	for _, id := range ids {
		s := fx.Schemas[strconv.Itoa(id)]
		ours[uint32(id)] = registerSchema(t, reg, s.Subject, sr.TypeProtobuf, s.Schema, s.References...)
	}
	var msgs []kafkatest.Message
	var want []any
	for _, rec := range fx.Records {
		wire, err := hex.DecodeString(rec.Wire)
		if err != nil || len(wire) < 5 {
			t.Fatalf("fixture wire %q", rec.Wire)
		}
		binary.BigEndian.PutUint32(wire[1:5], uint32(ours[binary.BigEndian.Uint32(wire[1:5])]))
		msgs = append(msgs, kafkatest.Message{Value: wire})
		want = append(want, rec.JSON)
	}
	topic := seed(t, addr, 1, msgs...)
	r := mustRun(t, ExitOK, "", "consume", topic, "-b", addr, "-e", "-s", "sr", "--schema-registry", reg.URL())
	var got []any
	for _, line := range strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n") {
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, v)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("consumed JSON differs from Python's (-python +streamctl):\n%s", diff)
	}
}

// TestProtobufDecodeErrors: a payload the schema cannot read is a decode
// error naming where it is, never silent.
func TestProtobufDecodeErrors(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	registerSchema(t, reg, "common", sr.TypeProtobuf, protoFile(t, "shop/common.proto"))
	// Index [5] where the schema has one message; then index [0] and a
	// field whose length runs past the end; then a good one.
	topic := seed(t, addr, 1, values(framed(1, "\x02\x0a"), framed(1, "\x00\x0a\x05ab"), framed(1, "\x00\x0a\x03EUR"))...)
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"stops at the first", nil, ExitError},
		{"skip invalid", []string{"--skip-invalid"}, ExitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"consume", topic, "-b", addr, "-e", "-s", "protobuf", "--schema-registry", reg.URL()}, tc.args...)
			r := mustRun(t, tc.code, "", args...)
			golden(t, "cmd", tc.name, scrubTopic(r.Stdout+"--- stderr\n"+r.Stderr, topic))
		})
	}
}

// TestProtobufKeys: keys have the same codec and flags as values, with a
// subject of their own, <topic>-key.
func TestProtobufKeys(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	topic := ordersTopic(t, addr, reg)
	registerSchema(t, reg, topic+"-key", sr.TypeProtobuf, protoFile(t, "orders.proto"),
		sr.SchemaReference{Name: "shop/common.proto", Subject: "common", Version: 1})
	sreg := []string{"--schema-registry", reg.URL()}
	mustRun(t, ExitOK, `{"orderId":"o-1"}`+"\t"+`{"id":"o-1"}`+"\n", append([]string{"produce", "-b", addr, topic, "-K", "\t",
		"--key-serializer", "protobuf", "--key-proto-message", "shop.Refund", "-s", "protobuf", "--proto-message", "shop.Order"}, sreg...)...)
	r := mustRun(t, ExitOK, "", append([]string{"consume", topic, "-b", addr, "-e", "-J", "--key-serializer", "sr", "-s", "sr"}, sreg...)...)
	for _, want := range []string{`"key":{"orderId":"o-1"},"key_encoding":"json"`, `"value":{"id":"o-1"},"value_encoding":"json"`, `"key_schema_id":2`, `"value_schema_id":2`} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("consume -J = %s, want it to contain %s", r.Stdout, want)
		}
	}
}

// TestProtobufLocalSchemaImports: a local .proto that imports another file
// beside it registers that file under a subject named after the import,
// as Confluent's serializers do, and itself with a reference to it.
func TestProtobufLocalSchemaImports(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	topic := newTopic(t, addr, 1)
	path := filepath.Join("..", "testdata", "cmd", "protobuf", "orders.proto")
	args := []string{"produce", "-b", addr, topic, "-s", "protobuf", "--value-schema", path, "--proto-message", "shop.Order", "--schema-registry", reg.URL()}

	// Not registered yet, and not asked to be.
	r := mustRun(t, ExitError, `{"id":"a"}`, args...)
	golden(t, "cmd", "not registered", scrubTopic(r.Stderr, topic))

	mustRun(t, ExitOK, `{"id":"a","items":[{"price":{"units":"2"}}]}`, append(args, "--register")...)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.SchemaByVersion(context.Background(), topic+"-value", -1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []sr.SchemaReference{{Name: "shop/common.proto", Subject: "shop/common.proto", Version: 1}}; !cmp.Equal(ss.References, want) {
		t.Errorf("references = %+v, want %+v", ss.References, want)
	}
	// Now that both are registered, looking them up is enough.
	mustRun(t, ExitOK, `{"id":"b"}`, args...)
	out := mustRun(t, ExitOK, "", "consume", topic, "-b", addr, "-e", "-s", "sr", "--schema-registry", reg.URL())
	if got, want := out.Stdout, `{"id":"a","items":[{"price":{"units":"2"}}]}`+"\n"+`{"id":"b"}`+"\n"; got != want {
		t.Errorf("consume = %q, want %q", got, want)
	}

	// An import that is not beside the file is a usage error.
	dir := t.TempDir()
	lone := filepath.Join(dir, "lone.proto")
	if err := os.WriteFile(lone, []byte(protoFile(t, "orders.proto")), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustRun(t, ExitUsage, `{"id":"a"}`, "produce", "-b", addr, topic, "-s", "protobuf", "--value-schema", lone, "--schema-registry", reg.URL())
	if want := `--value-schema: lone.proto imports "shop/common.proto", which is not beside it`; !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr = %q, want it to contain %q", r.Stderr, want)
	}
}

// TestProtobufGUIDHeader reads the Confluent 8 form of Protobuf: the value
// is the bare message, and the __value_schema_id header holds magic 1, the
// schema's GUID and then the message-index path, as Confluent's serializers
// write it.
func TestProtobufGUIDHeader(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	topic := ordersTopic(t, addr, reg)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.SchemaByVersion(t.Context(), topic+"-value", 1)
	if err != nil || ss.GUID == "" {
		t.Fatalf("the registry gave no GUID: %+v, %v", ss, err)
	}
	guid, err := hex.DecodeString(strings.ReplaceAll(ss.GUID, "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	header := func(index ...byte) []sarama.RecordHeader {
		return []sarama.RecordHeader{{Key: []byte("__value_schema_id"), Value: append(append([]byte{1}, guid...), index...)}}
	}
	src := seed(t, addr, 1,
		kafkatest.Message{Value: []byte("\x0a\x01r"), Headers: header(0x02, 0x02)},          // shop.Refund, [1]
		kafkatest.Message{Value: []byte("\x0a\x03o-1"), Headers: header(0x00)},              // shop.Order, [0]
		kafkatest.Message{Value: []byte("\x0a\x04Oslo"), Headers: header(0x06, 0, 0x02, 0)}, // [0 1 0]
		kafkatest.Message{Value: []byte("\x0a\x01x"), Headers: header()},
		kafkatest.Message{Value: []byte("\x0a\x01x"), Headers: header(0x00, 0x07)},
	)
	r := mustRun(t, ExitOK, "", "consume", src, "-b", addr, "-e", "-s", "protobuf", "--skip-invalid", "--schema-registry", reg.URL())
	if want := `{"orderId":"r"}` + "\n" + `{"id":"o-1"}` + "\n" + `{"city":"Oslo"}` + "\n"; r.Stdout != want {
		t.Errorf("stdout = %q, want %q", r.Stdout, want)
	}
	for _, want := range []string{
		"offset 3: cannot decode value: schema " + ss.GUID + ": schema id header holds no message index after the GUID, and a Protobuf record needs one",
		"offset 4: cannot decode value: schema " + ss.GUID + ": schema id header has 1 byte after the GUID and message index",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr = %q, want it to contain %q", r.Stderr, want)
		}
	}
}
