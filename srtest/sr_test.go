package srtest_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// A codec case: a schema and the JSON objects that go through it.
type codecCase struct {
	name   string
	codec  string // avro, protobuf or jsonschema: streamctl's -s and confluent_ref.py's --codec
	schema string // under testdata/sr
	data   string // JSON lines under testdata/sr, as Confluent's JSON for the codec
	// decimals names the fields that are Avro decimals.
	decimals []string
	// refs, for Avro, registers named types of other subjects first:
	// NAME=FILE, under the subject <topic>-<file without .avsc>.
	refs []string
}

var cases = []codecCase{
	{name: "avro", codec: "avro", schema: "order.avsc", data: "order.avro.jsonl"},
	{name: "avro-logical-types", codec: "avro", schema: "logical.avsc", data: "logical.avro.jsonl",
		decimals: []string{"price", "refund"}},
	{name: "avro-logical-types-more", codec: "avro", schema: "logical-more.avsc", data: "logical-more.avro.jsonl",
		decimals: []string{"amount"}},
	{name: "avro-reference", codec: "avro", schema: "customer.avsc", data: "customer.avro.jsonl",
		refs: []string{"com.example.common.Address=address.avsc"}},
	{name: "protobuf", codec: "protobuf", schema: "proto/order.proto", data: "order.proto.jsonl"},
	{name: "protobuf-imports", codec: "protobuf", schema: "proto/shipment.proto", data: "shipment.proto.jsonl"},
	{name: "jsonschema", codec: "jsonschema", schema: "order.schema.json", data: "order.json.jsonl"},
}

// refArgs are confluent_ref.py's --ref flags for c on topic.
func (c codecCase) refArgs(topic string) []string {
	var args []string
	for _, r := range c.refs {
		name, file, _ := strings.Cut(r, "=")
		args = append(args, "--ref", name+"="+refSubject(topic, file)+"="+filepath.Join(dataDir, file))
	}
	return args
}

func refSubject(topic, file string) string {
	return topic + "-" + strings.TrimSuffix(file, filepath.Ext(file))
}

// pyReadArgs are what confluent_ref.py consume needs beyond the codec:
// Protobuf wants the message class.
func (c codecCase) pyReadArgs() []string {
	if c.codec == "protobuf" {
		return []string{"--schema", filepath.Join(dataDir, c.schema)}
	}
	return nil
}

// TestConfluentToStreamctl: Confluent's serializer writes, and
// `streamctl consume -s <codec>` and `-s sr` print the same objects, one
// compact JSON per line into a pipe.
func TestConfluentToStreamctl(t *testing.T) {
	tr := need(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := tr.topic(t)
			tr.pyProduce(t, topic, c.codec, c.schema, c.data, c.refArgs(topic)...)
			want := readData(t, c.data)
			for _, s := range []string{c.codec, "sr"} {
				got := lines(tr.scOK(t, "", "consume", topic, "-s", s, "-e"))
				sameObjects(t, "consume -s "+s, got, want, c.decimals...)
			}
		})
	}
}

// TestStreamctlToConfluent: `streamctl produce -s <codec>` writes, and
// Confluent's deserializer reads back the same objects.
//
// streamctl encodes with the latest version of <topic>-value, registered
// beforehand by Confluent's serializer (one pass of the same objects, so the
// topic holds them twice: Python's, then streamctl's). Protobuf has to be
// registered that way here: Confluent's deserializer reads only the base64
// FileDescriptorProto form, and Apicurio 3.0.9 does not convert .proto text
// to it (it ignores ?format=serialized).
func TestStreamctlToConfluent(t *testing.T) {
	tr := need(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := tr.topic(t)
			tr.pyProduce(t, topic, c.codec, c.schema, c.data, c.refArgs(topic)...)
			want := readData(t, c.data)
			tr.scOK(t, strings.Join(want, "\n")+"\n", "produce", topic, "-s", c.codec)
			got := tr.pyConsume(t, topic, c.codec, 2*len(want), c.pyReadArgs()...)
			sameObjects(t, "Confluent's deserializer", got, append(append([]string{}, want...), want...), c.decimals...)
		})
	}
}

// TestRegisterSchemaFile: `--value-schema FILE --register` registers the
// local schema under <topic>-value and encodes with it; a second run finds
// it registered. Avro and JSON Schema are read back by Confluent's
// deserializer, Protobuf by streamctl (see TestStreamctlToConfluent).
func TestRegisterSchemaFile(t *testing.T) {
	tr := need(t)
	for _, c := range cases {
		if len(c.refs) > 0 || c.name == "protobuf-imports" {
			continue // references come from the registry, not from one file
		}
		t.Run(c.name, func(t *testing.T) {
			topic := tr.topic(t)
			want := readData(t, c.data)
			in := strings.Join(want, "\n") + "\n"
			file := filepath.Join(dataDir, c.schema)
			tr.scOK(t, in, "produce", topic, "-s", c.codec, "--value-schema", file, "--register")
			id := tr.subjectID(t, topic+"-value")
			tr.scOK(t, in, "produce", topic, "-s", c.codec, "--value-schema", file)
			if again := tr.subjectID(t, topic+"-value"); again != id {
				t.Errorf("the second run registered a new schema: id %d, then %d", id, again)
			}
			both := append(append([]string{}, want...), want...)
			if c.codec == "protobuf" {
				got := lines(tr.scOK(t, "", "consume", topic, "-s", "sr", "-e"))
				sameObjects(t, "consume -s sr", got, both)
				return
			}
			got := tr.pyConsume(t, topic, c.codec, len(both), c.pyReadArgs()...)
			sameObjects(t, "Confluent's deserializer", got, both, c.decimals...)
		})
	}
}

// TestChooseSchema: the schema to encode with by id, by subject and
// version, and by default the latest of <topic>-value, all read back by
// Confluent's deserializer.
func TestChooseSchema(t *testing.T) {
	tr := need(t)
	topic := tr.topic(t)
	c := cases[0]
	tr.pyProduce(t, topic, c.codec, c.schema, c.data)
	want := readData(t, c.data)
	id := tr.subjectID(t, topic+"-value")
	in := strings.Join(want, "\n") + "\n"
	tr.scOK(t, in, "produce", topic, "-s", "avro")
	tr.scOK(t, in, "produce", topic, "-s", "avro", "--value-schema-id", fmt.Sprint(id))
	tr.scOK(t, in, "produce", topic, "-s", "avro", "--value-subject", topic+"-value@1")
	tr.scOK(t, in, "produce", topic, "-s", "avro", "--value-subject", topic+"-value")
	var all []string
	for range 5 {
		all = append(all, want...)
	}
	sameObjects(t, "Confluent's deserializer", tr.pyConsume(t, topic, c.codec, len(all)), all)
}

// TestAvroLogicalInput: timestamps as epoch milliseconds and decimals as
// JSON numbers are the same values as their text forms; Confluent's
// deserializer reads the exact decimal back.
func TestAvroLogicalInput(t *testing.T) {
	tr := need(t)
	topic := tr.topic(t)
	in := `{"at":1709251199123,"day":"2024-02-29","price":12.3,"refund":-0.01}
{"at":0,"day":"1970-01-01","price":9999999999.99,"refund":null}
`
	want := []string{
		`{"at":"2024-02-29T23:59:59.123Z","day":"2024-02-29","price":"12.30","refund":"-0.01"}`,
		`{"at":"1970-01-01T00:00:00.000Z","day":"1970-01-01","price":"9999999999.99","refund":null}`,
	}
	tr.scOK(t, in, "produce", topic, "-s", "avro", "--value-schema", filepath.Join(dataDir, "logical.avsc"), "--register")
	got := tr.pyConsume(t, topic, "avro", len(want))
	// Confluent prints decimals at the schema's scale: compare the text.
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Confluent's deserializer read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestProtobufSourceText: a Protobuf schema registered as .proto source
// text (as Java clients and curl users register it), importing another
// subject and google/protobuf/timestamp.proto, works both ways in
// streamctl. Confluent's Python deserializer cannot read that form from
// Apicurio, so streamctl reads back its own records.
func TestProtobufSourceText(t *testing.T) {
	tr := need(t)
	topic := tr.topic(t)
	addrSubject := topic + "-address.proto"
	tr.registerText(t, addrSubject, "PROTOBUF", readFile(t, "proto/address.proto"))
	tr.registerText(t, topic+"-value", "PROTOBUF", readFile(t, "proto/shipment.proto"),
		map[string]any{"name": "address.proto", "subject": addrSubject, "version": 1})
	want := readData(t, "shipment.proto.jsonl")
	tr.scOK(t, strings.Join(want, "\n")+"\n", "produce", topic, "-s", "protobuf")
	for _, s := range []string{"protobuf", "sr"} {
		sameObjects(t, "consume -s "+s, lines(tr.scOK(t, "", "consume", topic, "-s", s, "-e")), want)
	}
}

// TestEnvelopeCopy: `consume -J -s sr` embeds the decoded value with its
// schema id, and `produce -J -s sr` encodes it again with that id, so a
// schema'd topic copies to another that Confluent's deserializer reads.
func TestEnvelopeCopy(t *testing.T) {
	tr := need(t)
	for _, c := range cases {
		if c.name != "avro" && c.name != "protobuf-imports" && c.name != "jsonschema" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			from, to := tr.topic(t), tr.topic(t)
			tr.pyProduce(t, from, c.codec, c.schema, c.data, c.refArgs(from)...)
			id := tr.subjectID(t, from+"-value")
			env := tr.scOK(t, "", "consume", from, "-s", "sr", "-J", "-e")
			for i, l := range lines(env) {
				var e struct {
					ValueEncoding string `json:"value_encoding"`
					ValueSchemaID *int   `json:"value_schema_id"`
				}
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatalf("envelope line %d: %v\n%s", i+1, err, l)
				}
				if e.ValueEncoding != "json" || e.ValueSchemaID == nil || *e.ValueSchemaID != id {
					t.Errorf("envelope line %d: want value_encoding json and value_schema_id %d:\n%s", i+1, id, l)
				}
			}
			tr.scOK(t, env, "produce", to, "-J", "-s", "sr")
			want := readData(t, c.data)
			got := tr.pyConsume(t, to, c.codec, len(want), c.pyReadArgs()...)
			sameObjects(t, "Confluent's deserializer on the copy", got, want, c.decimals...)
		})
	}
}

// TestBadInput: input that does not match the schema stops produce with
// exit 1 and a message naming the line and the field; the lines before it
// are delivered. Confluent's serializer registers the schema with a first
// good record, so that its deserializer can read back what streamctl
// delivered (see TestStreamctlToConfluent on Protobuf's registered form).
func TestBadInput(t *testing.T) {
	tr := need(t)
	order := `{"id":1,"customer":"ada","amount":1.5,"paid":true,"note":null,"tags":[],"attrs":{},"status":"NEW"}`
	for _, tc := range []struct {
		name, codec, schema, good, bad, field string
	}{
		{"avro-type", "avro", "order.avsc", order,
			`{"id":"two","customer":"bob","amount":1.5,"paid":true,"tags":[],"status":"NEW"}`, "id"},
		{"avro-missing-field", "avro", "order.avsc", order,
			`{"id":2,"amount":1.5,"paid":true,"tags":[],"status":"NEW"}`, "customer"},
		{"avro-enum", "avro", "order.avsc", order,
			`{"id":2,"customer":"bob","amount":1.5,"paid":true,"tags":[],"status":"LOST"}`, "status"},
		{"avro-decimal", "avro", "logical.avsc",
			`{"at":"1970-01-01T00:00:00.000Z","day":"1970-01-01","price":"1.00","refund":null}`,
			`{"at":0,"day":"1970-01-01","price":"one"}`, "price"},
		{"protobuf-unknown-field", "protobuf", "proto/order.proto",
			`{"id":"1","customer":"ada"}`, `{"id":"2","colour":"red"}`, "colour"},
		{"protobuf-type", "protobuf", "proto/order.proto",
			`{"id":"1","customer":"ada"}`, `{"id":"2","paid":"yes"}`, "paid"},
		{"jsonschema-violation", "jsonschema", "order.schema.json",
			`{"id":1,"customer":"ada"}`, `{"id":2,"customer":""}`, "customer"},
		{"jsonschema-extra-property", "jsonschema", "order.schema.json",
			`{"id":1,"customer":"ada"}`, `{"id":2,"customer":"bob","colour":"red"}`, "colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := tr.topic(t)
			tr.pyProduceText(t, topic, tc.codec, tc.schema, tc.good+"\n")
			r := tr.sc(t, tc.good+"\n"+tc.bad+"\n"+tc.good+"\n", "produce", topic, "-s", tc.codec)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "line 2") || !strings.Contains(r.stderr, tc.field) {
				t.Errorf("stderr does not name line 2 and field %q:\n%s", tc.field, r.stderr)
			}
			var extra []string
			if tc.codec == "protobuf" {
				extra = []string{"--schema", filepath.Join(dataDir, tc.schema)}
			}
			// Python's record, then streamctl's first line.
			got := tr.pyConsume(t, topic, tc.codec, 2, extra...)
			sameObjects(t, "what was delivered", got, []string{tc.good, tc.good})
			if have := tr.records(t, topic); have != 2 {
				t.Errorf("topic holds %d records, want 2: nothing after the bad line may be sent", have)
			}
		})
	}
}

// TestUndecodable: a record without the magic byte among Confluent-framed
// ones is a decode error naming topic, partition and offset (exit 1), or is
// reported and skipped with --skip-invalid.
func TestUndecodable(t *testing.T) {
	tr := need(t)
	topic := tr.topic(t)
	c := cases[0]
	tr.pyProduce(t, topic, c.codec, c.schema, c.data)
	tr.scOK(t, "plain text\n", "produce", topic)
	tr.pyProduce(t, topic, c.codec, c.schema, c.data)
	want := readData(t, c.data)
	n := len(want)

	r := tr.sc(t, "", "consume", topic, "-s", "avro", "-e")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", r.code, r.stderr)
	}
	for _, part := range []string{topic, "0", fmt.Sprint(n)} {
		if !strings.Contains(r.stderr, part) {
			t.Errorf("stderr does not name %q (topic, partition 0, offset %d):\n%s", part, n, r.stderr)
		}
	}
	sameObjects(t, "printed before the bad record", lines(r.stdout), want)

	r = tr.sc(t, "", "consume", topic, "-s", "sr", "-e", "--skip-invalid")
	if r.code != 0 {
		t.Fatalf("--skip-invalid: exit %d, want 0\nstderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, fmt.Sprint(n)) {
		t.Errorf("--skip-invalid: stderr does not report offset %d:\n%s", n, r.stderr)
	}
	sameObjects(t, "--skip-invalid", lines(r.stdout), append(append([]string{}, want...), want...))
}

// TestKeys: keys go through the registry too (subject <topic>-key), both
// ways, with -J showing key_schema_id.
func TestKeys(t *testing.T) {
	tr := need(t)
	want := readData(t, "keyed.avro.jsonl")

	t.Run("confluent-to-streamctl", func(t *testing.T) {
		topic := tr.topic(t)
		tr.pyProduce(t, topic, "avro", "order.avsc", "keyed.avro.jsonl", "--key-codec", "avro", "--key-schema", filepath.Join(dataDir, "key.avsc"))
		keyID, valueID := tr.subjectID(t, topic+"-key"), tr.subjectID(t, topic+"-value")
		out := tr.scOK(t, "", "consume", topic, "-s", "avro", "--key-serializer", "avro", "-J", "-e")
		var got []string
		for i, l := range lines(out) {
			var e struct {
				Key         json.RawMessage `json:"key"`
				Value       json.RawMessage `json:"value"`
				KeySchemaID int             `json:"key_schema_id"`
				ValSchemaID int             `json:"value_schema_id"`
			}
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("envelope line %d: %v\n%s", i+1, err, l)
			}
			if e.KeySchemaID != keyID || e.ValSchemaID != valueID {
				t.Errorf("envelope line %d: want key_schema_id %d, value_schema_id %d:\n%s", i+1, keyID, valueID, l)
			}
			got = append(got, fmt.Sprintf(`{"key":%s,"value":%s}`, e.Key, e.Value))
		}
		sameObjects(t, "consume --key-serializer avro -J", got, want)
	})

	t.Run("streamctl-to-confluent", func(t *testing.T) {
		topic := tr.topic(t)
		var in strings.Builder
		for _, l := range want {
			var kv struct{ Key, Value json.RawMessage }
			if err := json.Unmarshal([]byte(l), &kv); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&in, `{"key":%s,"key_encoding":"json","value":%s,"value_encoding":"json"}`+"\n", kv.Key, kv.Value)
		}
		tr.scOK(t, in.String(), "produce", topic, "-J", "-s", "avro", "--key-serializer", "avro",
			"--key-schema", filepath.Join(dataDir, "key.avsc"), "--value-schema", filepath.Join(dataDir, "order.avsc"), "--register")
		got := tr.pyConsume(t, topic, "avro", len(want), "--key-codec", "avro")
		sameObjects(t, "Confluent's deserializers on key and value", got, want)
	})
}

// TestSubjectStrategy: with --subject-strategy record or topic-record,
// streamctl looks the local schema up under the subject Confluent's
// RecordNameStrategy or TopicRecordNameStrategy registered it as.
func TestSubjectStrategy(t *testing.T) {
	tr := need(t)
	c := cases[0]
	want := readData(t, c.data)
	for _, strategy := range []string{"record", "topic-record"} {
		t.Run(strategy, func(t *testing.T) {
			topic := tr.topic(t)
			tr.pyProduce(t, topic, c.codec, c.schema, c.data, "--strategy", strategy)
			subject := "com.example.shop.Order"
			if strategy == "topic-record" {
				subject = topic + "-" + subject
			}
			tr.subjectID(t, subject) // Python registered it there
			tr.scOK(t, strings.Join(want, "\n")+"\n", "produce", topic, "-s", "avro",
				"--subject-strategy", strategy, "--value-schema", filepath.Join(dataDir, c.schema))
			both := append(append([]string{}, want...), want...)
			sameObjects(t, "Confluent's deserializer", tr.pyConsume(t, topic, c.codec, len(both)), both)
		})
	}
}

// TestProtobufMessageIndex: in a file of several messages, a record's
// message-index path ([1], [1, 0]) picks the message, in Confluent's
// encoding both ways; --proto-message names it when producing.
func TestProtobufMessageIndex(t *testing.T) {
	tr := need(t)
	const schema = "proto/multi.proto"
	for _, tc := range []struct{ message, data string }{
		{"streamctl.test.Event", "event.proto.jsonl"},
		{"streamctl.test.Event.Detail", "detail.proto.jsonl"},
	} {
		t.Run(tc.message, func(t *testing.T) {
			topic := tr.topic(t)
			tr.pyProduce(t, topic, "protobuf", schema, tc.data, "--message", tc.message)
			want := readData(t, tc.data)
			for _, s := range []string{"protobuf", "sr"} {
				sameObjects(t, "consume -s "+s, lines(tr.scOK(t, "", "consume", topic, "-s", s, "-e")), want)
			}
			tr.scOK(t, strings.Join(want, "\n")+"\n", "produce", topic, "-s", "protobuf", "--proto-message", tc.message)
			both := append(append([]string{}, want...), want...)
			got := tr.pyConsume(t, topic, "protobuf", len(both), "--schema", filepath.Join(dataDir, schema), "--message", tc.message)
			sameObjects(t, "Confluent's deserializer", got, both)
		})
	}
}
