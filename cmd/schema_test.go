package cmd

import (
	"encoding/hex"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/codec"
	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// schemaRegistry starts an in-process registry for the test.
func schemaRegistry(t *testing.T) *srfake.Registry {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	return reg
}

// registerSchema registers text under subject and returns its id.
func registerSchema(t *testing.T, reg *srfake.Registry, subject string, typ sr.SchemaType, text string, refs ...sr.SchemaReference) int {
	t.Helper()
	id, _, err := reg.RegisterSchema(subject, sr.Schema{Schema: text, Type: typ, References: refs})
	if err != nil {
		t.Fatalf("registering %s: %v", subject, err)
	}
	return id
}

// framed is payload behind the Confluent framing for id.
func framed(id int, payload string) string {
	return string(codec.AppendHeader(nil, id)) + payload
}

func TestConsumeSchemaDecodeErrors(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	topic := seed(t, addr, 1, values(`{"plain":"json"}`, framed(99, "x"))...)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no magic byte", []string{"-n", "1"}, ExitError,
			`offset 0: cannot decode value: no schema registry framing: first byte is 0x7b, not the magic byte 0x00`},
		{"unknown id", []string{"-o", "1"}, ExitError,
			`offset 1: cannot decode value: schema 99: `},
		{"skipped", []string{"--skip-invalid"}, ExitOK,
			`offset 1: cannot decode value: schema 99: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"consume", topic, "-b", addr, "-e", "-s", "sr", "--schema-registry", reg.URL()}, tc.args...)
			r := mustRun(t, tc.code, "", args...)
			if !strings.Contains(r.Stderr, `topic "`+topic+`" partition 0 `+tc.want) {
				t.Errorf("stderr = %q, want it to contain topic %q partition 0 %s", r.Stderr, topic, tc.want)
			}
			if r.Stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.Stdout)
			}
		})
	}
}

func TestSchemaCodecNeedsRegistry(t *testing.T) {
	for _, args := range [][]string{
		{"consume", "t", "-s", "avro"},
		{"produce", "t", "--key-serializer", "jsonschema"},
	} {
		r := mustRun(t, ExitUsage, "", args...)
		if !strings.Contains(r.Stderr, "needs a schema registry\nhint: give its URL with --schema-registry URL") {
			t.Errorf("%v: stderr = %q, want the registry hint", args, r.Stderr)
		}
	}
	r := mustRun(t, ExitUsage, "", "produce", "t", "--value-schema-id", "3")
	if !strings.Contains(r.Stderr, "--value-schema-id chooses a schema, which only the schema codecs use: add -s avro") {
		t.Errorf("stderr = %q, want a hint to add -s", r.Stderr)
	}
}

const moneyAvsc = `{"type":"record","name":"Money","namespace":"com.shop","fields":[
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}},
 {"name":"currency","type":"string","default":"EUR"}]}`

const orderAvsc = `{"type":"record","name":"Order","namespace":"com.shop","fields":[
 {"name":"id","type":"long"},
 {"name":"placed","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"total","type":"Money"},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID"]},"default":"NEW"}]}`

// avroTopic makes a topic whose value subject holds Order, which
// references Money in a subject of its own.
func avroTopic(t *testing.T, addr string, reg *srfake.Registry) (topic string, id int) {
	t.Helper()
	topic = seed(t, addr, 1)
	registerSchema(t, reg, "com.shop.Money", sr.TypeAvro, moneyAvsc)
	id = registerSchema(t, reg, topic+"-value", sr.TypeAvro, orderAvsc,
		sr.SchemaReference{Name: "com.shop.Money", Subject: "com.shop.Money", Version: 1})
	return topic, id
}

const orderEnvelopes = `{"key":"o-1","value":{"id":1,"placed":"2024-05-01T12:00:00.123Z","total":{"amount":"19.99"}},"value_encoding":"json","timestamp":1714564800123}
{"key":"o-2","value":{"id":2,"placed":1714564801000,"total":{"amount":5,"currency":"USD"},"note":{"string":"gift"},"status":"PAID"},"value_encoding":"json","timestamp":1714564801000}
{"key":"o-3","value":{"id":3,"placed":"2024-05-01T14:00:00+02:00","total":{"amount":"-0.10"},"note":"refund"},"value_encoding":"json","timestamp":1714564802000}
`

func TestAvroBothWays(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	topic, _ := avroTopic(t, addr, reg)
	sreg := []string{"--schema-registry", reg.URL()}
	mustRun(t, ExitOK, orderEnvelopes, append([]string{"produce", topic, "-b", addr, "-J", "-s", "avro"}, sreg...)...)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"plain", []string{"-s", "avro"}},
		{"envelope", []string{"-s", "avro", "-J"}},
		{"envelope-sr", []string{"-s", "sr", "-J"}},
		{"avro-json", []string{"-s", "avro", "--avro-json", "avro"}},
		{"pretty", []string{"-s", "avro", "--pretty", "-n", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"consume", topic, "-b", addr, "-e"}, sreg...), tc.args...)
			r := mustRun(t, ExitOK, "", args...)
			golden(t, "cmd", tc.name, strings.ReplaceAll(r.Stdout, topic, "TOPIC"))
		})
	}

	// consume -J -s sr | produce -J -s sr copies the records byte for byte,
	// into a topic that has no subject of its own: the envelope names the id.
	orig := kafkatest.ReadAll(t, addr, topic)
	env := mustRun(t, ExitOK, "", append([]string{"consume", topic, "-b", addr, "-e", "-J", "-s", "sr"}, sreg...)...)
	for _, args := range [][]string{
		append([]string{"-s", "sr"}, sreg...),
		nil, // without -s, the bytes travel as they are
	} {
		dst := seed(t, addr, 1)
		in := env.Stdout
		if args == nil {
			in = mustRun(t, ExitOK, "", "consume", topic, "-b", addr, "-e", "-J").Stdout
		}
		mustRun(t, ExitOK, in, append([]string{"produce", dst, "-b", addr, "-J"}, args...)...)
		got := kafkatest.ReadAll(t, addr, dst)
		if len(got) != len(orig) {
			t.Fatalf("copy %v: %d records, want %d", args, len(got), len(orig))
		}
		for i := range got {
			if string(got[i].Value) != string(orig[i].Value) || string(got[i].Key) != string(orig[i].Key) {
				t.Errorf("copy %v: record %d is %q=%x, want %q=%x", args, i, got[i].Key, got[i].Value, orig[i].Key, orig[i].Value)
			}
		}
	}
}

func TestAvroProduceBadInput(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	topic, _ := avroTopic(t, addr, reg)
	in := `{"id":1,"placed":0,"total":{"amount":"1.00"}}
{"id":2,"placed":0,"total":{"amount":"2.00"}}
{"id":3,"placed":0,"total":{"amount":"3.001"}}
{"id":4,"placed":0,"total":{"amount":"4.00"}}
`
	r := mustRun(t, ExitError, in, "produce", topic, "-b", addr, "-s", "avro", "--schema-registry", reg.URL())
	golden(t, "cmd", "stderr", strings.ReplaceAll(r.Stderr, topic, "TOPIC"))
	if got := len(kafkatest.ReadAll(t, addr, topic)); got != 2 {
		t.Errorf("%d records in the topic, want the 2 before the bad line", got)
	}
	r = mustRun(t, ExitOK, in, "produce", topic, "-b", addr, "-s", "avro", "--schema-registry", reg.URL(), "--skip-invalid", "-v")
	if !strings.Contains(r.Stderr, "line 3: value: total.amount: 3.001 has more decimal places than the schema's scale of 2 (skipped)") {
		t.Errorf("--skip-invalid stderr = %q, want line 3 reported and skipped", r.Stderr)
	}
}

func TestAvroProduceChoosesSchema(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	dir := t.TempDir()
	writeFile := func(name, text string) string {
		path := dir + "/" + name
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	point := writeFile("point.avsc", `{"type":"record","name":"Point","namespace":"geo","fields":[{"name":"x","type":"int"},{"name":"y","type":"int","default":0}]}`)
	keyFile := writeFile("key.avsc", `"string"`)
	topic := seed(t, addr, 1)
	sreg := []string{"--schema-registry", reg.URL()}
	produce := func(code int, in string, args ...string) result {
		t.Helper()
		return mustRun(t, code, in, append(append([]string{"produce", topic, "-b", addr, "-s", "avro"}, sreg...), args...)...)
	}

	// No subject yet: a hint says how to get one.
	r := produce(ExitError, `{"x":1}`)
	if !strings.Contains(r.Stderr, `subject "`+topic+`-value": not found in the schema registry`) || !strings.Contains(r.Stderr, "hint: register a schema there first (--value-schema FILE --register does)") {
		t.Errorf("stderr = %q, want subject not found with a hint", r.Stderr)
	}
	r = produce(ExitError, `{"x":1}`, "--value-schema", point)
	if !strings.Contains(r.Stderr, "looking the schema up: ") || !strings.Contains(r.Stderr, "hint: register it with --register") {
		t.Errorf("stderr = %q, want the lookup to fail with a hint", r.Stderr)
	}
	// --register, then the same file is found; keys have flags of their own.
	produce(ExitOK, "\"a\":{\"x\":1}\n", "--value-schema", point, "--register", "-K:", "--key-serializer", "avro", "--key-schema", keyFile, "--register")
	produce(ExitOK, "\"b\":{\"x\":2}\n", "--value-schema", point, "-K:", "--key-serializer", "avro", "--key-schema", keyFile)
	for _, subject := range []string{topic + "-value", topic + "-key"} {
		if !reg.SubjectExists(subject) {
			t.Errorf("subject %q was not registered", subject)
		}
	}
	// The record strategies name the subject after the record.
	produce(ExitOK, `{"x":3}`, "--value-schema", point, "--register", "--subject-strategy", "record")
	produce(ExitOK, `{"x":4}`, "--value-schema", point, "--register", "--subject-strategy", "topic-record")
	for _, subject := range []string{"geo.Point", topic + "-geo.Point"} {
		if !reg.SubjectExists(subject) {
			t.Errorf("subject %q was not registered", subject)
		}
	}
	ss, _ := reg.GetSchema(topic+"-value", 1)
	produce(ExitOK, `{"x":5}`, "--value-schema-id", strconv.Itoa(ss.ID))
	produce(ExitOK, `{"x":6}`, "--value-subject", "geo.Point@1")
	produce(ExitOK, `{"x":7}`)

	r = mustRun(t, ExitOK, "", append([]string{"consume", topic, "-b", addr, "-e", "-s", "avro", "--key-serializer", "avro", "-f", "%k %s\n"}, sreg...)...)
	want := "\"a\" {\"x\":1,\"y\":0}\n\"b\" {\"x\":2,\"y\":0}\n {\"x\":3,\"y\":0}\n {\"x\":4,\"y\":0}\n {\"x\":5,\"y\":0}\n {\"x\":6,\"y\":0}\n {\"x\":7,\"y\":0}\n"
	if r.Stdout != want {
		t.Errorf("consumed:\n%s\nwant:\n%s", r.Stdout, want)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--subject-strategy", "record"}, "--subject-strategy record names the subject after the record, whose name comes from a schema file: add --value-schema FILE"},
		{[]string{"--value-schema-id", "1", "--value-subject", "x"}, "--value-schema-id, --value-subject and --value-schema each choose the schema: give one"},
		{[]string{"--value-subject", "x@first"}, `--value-subject: version "first": want a positive number or latest (want SUBJECT or SUBJECT@VERSION)`},
		{[]string{"--value-schema", dir + "/point.txt"}, "--value-schema: open " + dir + "/point.txt: no such file or directory"},
		{[]string{"--avro-json", "yaml"}, `--avro-json "yaml": want plain or avro`},
	} {
		r := produce(ExitUsage, "", tc.args...)
		if !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%v: stderr = %q, want %q", tc.args, r.Stderr, tc.want)
		}
	}
}

func TestJSONSchemaBothWays(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	topic := seed(t, addr, 1)
	file := t.TempDir() + "/event.json"
	schema := `{"title":"com.example.Event","type":"object","properties":{"kind":{"enum":["click","view"]},"at":{"type":"integer"}},"required":["kind"]}`
	if err := os.WriteFile(file, []byte(schema), 0o644); err != nil {
		t.Fatal(err)
	}
	sreg := []string{"--schema-registry", reg.URL()}
	in := "{\"kind\": \"click\", \"at\": 1}\n{\"kind\":\"view\"}\n{\"kind\":\"scroll\"}\n{\"kind\":\"view\"}\n"
	r := mustRun(t, ExitError, in, append([]string{"produce", topic, "-b", addr, "-s", "jsonschema", "--value-schema", file, "--register", "--subject-strategy", "topic-record"}, sreg...)...)
	if !strings.Contains(r.Stderr, "2 messages sent, 2 acknowledged") || !strings.Contains(r.Stderr, "line 3: value: kind: value must be one of 'click', 'view'") {
		t.Errorf("stderr = %q, want 2 delivered and line 3 named", r.Stderr)
	}
	if !reg.SubjectExists(topic + "-com.example.Event") {
		t.Errorf("subject %q was not registered (the title names the record)", topic+"-com.example.Event")
	}
	r = mustRun(t, ExitOK, "", append([]string{"consume", topic, "-b", addr, "-e", "-J", "-s", "jsonschema"}, sreg...)...)
	out := regexp.MustCompile(`"timestamp":\d+`).ReplaceAllString(r.Stdout, `"timestamp":0`)
	golden(t, "cmd", "envelope", strings.ReplaceAll(out, topic, "TOPIC"))
	// A JSON Schema id under -s avro is named, with the way out.
	r = mustRun(t, ExitError, "", append([]string{"consume", topic, "-b", addr, "-e", "-s", "avro"}, sreg...)...)
	if !strings.Contains(r.Stderr, "offset 0: cannot decode value: schema 1 is JSON Schema, not Avro") {
		t.Errorf("stderr = %q, want the type mismatch named", r.Stderr)
	}
}

// TestConsumeGUIDHeader reads the Confluent Platform 8 form: unframed Avro
// with the schema's GUID in the __value_schema_id header.
func TestConsumeGUIDHeader(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	id := registerSchema(t, reg, "g-value", sr.TypeAvro, `{"type":"record","name":"G","fields":[{"name":"s","type":"string"}]}`)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.SchemaByVersion(t.Context(), "g-value", 1)
	if err != nil || ss.GUID == "" {
		t.Fatalf("the registry gave no GUID: %+v, %v", ss, err)
	}
	guid, err := hex.DecodeString(strings.ReplaceAll(ss.GUID, "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	header := func(b []byte) []sarama.RecordHeader {
		return []sarama.RecordHeader{{Key: []byte("__value_schema_id"), Value: b}}
	}
	topic := seed(t, addr, 1,
		kafkatest.Message{Value: []byte("\x04hi"), Headers: header(append([]byte{1}, guid...))},
		kafkatest.Message{Value: []byte(framed(id, "\x04ho"))},
		kafkatest.Message{Value: []byte("\x04hu"), Headers: header([]byte{1, 2, 3})},
	)
	r := mustRun(t, ExitError, "", "consume", topic, "-b", addr, "-e", "-s", "avro", "--schema-registry", reg.URL(), "-f", "%s\n")
	if r.Stdout != "{\"s\":\"hi\"}\n{\"s\":\"ho\"}\n" {
		t.Errorf("stdout = %q, want the GUID record and the framed one", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "offset 2: cannot decode value: schema id header of 3 bytes, want the magic byte 0x01 and a 16-byte GUID") {
		t.Errorf("stderr = %q, want the bad header named", r.Stderr)
	}
	r = mustRun(t, ExitOK, "", "consume", topic, "-b", addr, "-e", "-n", "1", "-s", "avro", "--schema-registry", reg.URL(), "-J")
	if !strings.Contains(r.Stdout, `"value":{"s":"hi"},"value_encoding":"json","value_schema_id":`+strconv.Itoa(id)) {
		t.Errorf("-J = %s, want the numeric id %d", r.Stdout, id)
	}
}

// TestConsumeRegistryDownIsNotSkipped: a registry that fails is not the
// message's fault, so --skip-invalid must not skip (and a group commit past)
// the record; the run stops with exit 1.
func TestConsumeRegistryDownIsNotSkipped(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	id := registerSchema(t, reg, "d-value", sr.TypeAvro, `"string"`)
	topic := seed(t, addr, 1, values(framed(id, "\x04ok"))...)
	reg.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
		http.Error(w, `{"error_code":50001,"message":"store unavailable"}`, http.StatusServiceUnavailable)
		return true
	})
	r := mustRun(t, ExitError, "", "consume", topic, "-b", addr, "-e", "-s", "avro", "--skip-invalid", "--schema-registry", reg.URL())
	if !strings.Contains(r.Stderr, "offset 0: cannot decode value: schema 1: store unavailable") || strings.Contains(r.Stderr, "skipped") {
		t.Errorf("stderr = %q, want the registry failure to stop the run", r.Stderr)
	}
}

// TestProduceRegistryDownIsNotSkipped: with -J each record may name a
// schema id; a registry that fails then is not the line's fault, so
// --skip-invalid must not drop the line.
func TestProduceRegistryDownIsNotSkipped(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	id := registerSchema(t, reg, "d-value", sr.TypeAvro, `"string"`)
	topic := seed(t, addr, 1)
	reg.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
		http.Error(w, `{"error_code":50001,"message":"store unavailable"}`, http.StatusServiceUnavailable)
		return true
	})
	in := `{"value":"a","value_encoding":"json","value_schema_id":` + strconv.Itoa(id) + "}\n"
	r := mustRun(t, ExitError, `{"value":"x"}`+"\n"+in, "produce", topic, "-b", addr, "-J", "-s", "avro", "--skip-invalid", "--schema-registry", reg.URL())
	if !strings.Contains(r.Stderr, "line 1: value: ") || !strings.Contains(r.Stderr, "store unavailable") || strings.Contains(r.Stderr, "skipped") ||
		!strings.Contains(r.Stderr, "hint: the schema registry failed, not the input") {
		t.Errorf("stderr = %q, want the registry failure to stop the run at line 1", r.Stderr)
	}
}
