package envelope

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendForms(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  Record
		want string
	}{
		{"text", Record{Topic: "t", Partition: 1, Offset: 7, Timestamp: 5, Key: []byte("k"), Value: []byte("v\n\"q\"")},
			`{"topic":"t","partition":1,"offset":7,"timestamp":5,"key":"k","value":"v\n\"q\"","headers":[]}`},
		{"null and empty", Record{Topic: "t", Key: nil, Value: []byte{}},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":null,"value":"","headers":[]}`},
		{"binary", Record{Topic: "t", Value: []byte{0xff, 0x00, 0x01}},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":null,"value":"/wAB","value_encoding":"base64","headers":[]}`},
		{"json embedded", Record{Topic: "t", Value: []byte(`{"a": 1}`), ValueJSON: true},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":null,"value":{"a": 1},"value_encoding":"json","headers":[]}`},
		{"json multi-line compacted", Record{Topic: "t", Value: []byte("{\n \"a\": 1\n}"), ValueJSON: true},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":null,"value":{"a":1},"value_encoding":"json","headers":[]}`},
		{"invalid json falls back to text", Record{Topic: "t", Value: []byte(`{oops`), ValueJSON: true},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":null,"value":"{oops","headers":[]}`},
		{"control chars", Record{Topic: "t", Value: []byte("\x00\x1f\x7f\t")},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":null,"value":"\u0000\u001f\u007f\t","headers":[]}`},
		{"headers in order with duplicates", Record{Topic: "t", Headers: []Header{{"a", []byte("1")}, {"a", nil}, {"b", []byte{0xfe}}}},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":null,"value":null,"headers":[{"key":"a","value":"1"},{"key":"a","value":null},{"key":"b","value":"/g==","value_encoding":"base64"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(Append(nil, &tc.rec))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

func TestParseJSONNullIsNotNullMessage(t *testing.T) {
	r, err := Parse([]byte(`{"value":null,"value_encoding":"json"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Value) != "null" || !r.ValueJSON {
		t.Errorf("value = %q (json %v), want the JSON text null", r.Value, r.ValueJSON)
	}
	r, err = Parse([]byte(`{"value":null}`))
	if err != nil || r.Value != nil {
		t.Errorf("value = %q, %v; want a null value", r.Value, err)
	}
}

func TestParseDefaults(t *testing.T) {
	r, err := Parse([]byte(`{"value":"v"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Partition != -1 || r.Offset != -1 || r.HasTimestamp || r.Key != nil {
		t.Errorf("got %+v, want partition -1, offset -1, no timestamp, null key", r)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`not json`, "invalid envelope: invalid character"},
		{`[1]`, "invalid envelope: want a JSON object, got an array"},
		{`{"value":"a"`, "invalid envelope: unexpected EOF"},
		{`{"value":1}`, `field "value": want a string (or set value_encoding to "json"), got a number`},
		{`{"value":"x","value_encoding":"rot13"}`, `field "value_encoding": unknown encoding "rot13"`},
		{`{"value":"x","value_encoding":7}`, `field "value_encoding": want "text", "base64" or "json", got a number`},
		{`{"value":"!!","value_encoding":"base64"}`, `field "value": invalid base64`},
		{`{"value":"a"} {"value":"b"}`, "more than one"},
		{`{"topic":1,"value":"a"}`, `field "topic": want a string, got a number`},
		{`{"offset":"9","value":"a"}`, `field "offset": want an integer, got a string`},
		{`{"timestamp":1.5,"value":"a"}`, `field "timestamp": want an integer, got 1.5`},
		// Kafka has no time before the epoch: -1 is "none" (what consume
		// -J prints for a record without one), anything below it is refused.
		{`{"timestamp":-5,"value":"a"}`, `field "timestamp": want milliseconds since the epoch (0 or more, or -1 for none), got -5`},
		{`{"headers":[{"key":"h","value":1}],"value":"a"}`, `field "headers[0].value": want a string`},
		{`{"headers":[{"key":null,"value":"v"}],"value":"a"}`, `field "headers[0].key": a header key cannot be null`},
		{`{"headers":["h"],"value":"a"}`, `field "headers[0]": want a {"key","value"} object, got a string`},
		{`{"headers":[{"key":"h","value":"v","x":1}],"value":"a"}`, `unknown field "headers[0].x"`},
	} {
		_, err := Parse([]byte(tc.line))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", tc.line, err, tc.want)
		}
	}
}

// TestParseRejectsMalformed: what would otherwise send a null value (a
// tombstone on a compacted topic) or drop a field is an error naming the
// field in JSON terms, never a Go type.
func TestParseRejectsMalformed(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"key":"k"}`, `field "value" is missing (a null value, a tombstone, is written "value":null)`},
		{`{}`, `field "value" is missing (a null value, a tombstone, is written "value":null)`},
		{`{"key":"k","valeu":"x"}`, `unknown field "valeu" (an envelope has topic, partition, offset, timestamp, key, key_encoding, key_schema_id, value, value_encoding, value_schema_id, headers)`},
		{`{"partition":-5,"value":"x"}`, `field "partition": want an integer from 0 to 2147483647, got -5`},
		{`{"partition":-1,"value":"x"}`, `field "partition": want an integer from 0 to 2147483647, got -1`},
		{`{"partition":2147483648,"value":"x"}`, `field "partition": want an integer from 0 to 2147483647, got 2147483648`},
		{`{"partition":"zero","value":"x"}`, `field "partition": want an integer of 0 or more, got a string`},
		{`{"headers":{"key":"h","value":"v"},"value":"x"}`, `field "headers": want an array of {"key","value"} objects, got an object`},
		{`{"headers":[{"value":"v"}],"value":"x"}`, `field "headers[0].key" is missing`},
		{`{"headers":[{"key":"h"}],"value":"x"}`, `field "headers[0].value" is missing`},
	} {
		_, err := Parse([]byte(tc.line))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%s) = %v, want %q", tc.line, err, tc.want)
		}
	}
}

// TestParseAcceptsWhatConsumeWrites: every field consume -J writes, nulls
// for the optional ones, and the optional ones left out.
func TestParseAcceptsWhatConsumeWrites(t *testing.T) {
	for _, line := range []string{
		`{"topic":"t","partition":3,"offset":9,"timestamp":5,"key":"/w==","key_encoding":"base64","value":{"a":1},"value_encoding":"json","headers":[{"key":"h","key_encoding":"text","value":"AA==","value_encoding":"base64"}]}`,
		`{"topic":null,"partition":null,"offset":null,"timestamp":null,"key":null,"value":null,"headers":null}`,
		`{"value":"v"}`,
		`{"value":"v","headers":[]}`,
		`{"value":"v","value_encoding":"text"}`,
	} {
		if _, err := Parse([]byte(line)); err != nil {
			t.Errorf("Parse(%s): %v", line, err)
		}
	}
}

func TestAppendLeavesOutAbsentPartition(t *testing.T) {
	line := Append(nil, &Record{Partition: -1, Offset: -1, Value: []byte("v")})
	if got, want := string(line), `{"topic":"","timestamp":0,"key":null,"value":"v","headers":[]}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	r, err := Parse(line)
	if err != nil || r.Partition != -1 || r.Offset != -1 {
		t.Errorf("Parse(%s) = partition %d, offset %d, %v; want -1, -1", line, r.Partition, r.Offset, err)
	}
}

// TestRoundTripRandom is a property test: whatever bytes a record holds,
// Append then Parse gives the same record back.
func TestRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	randBytes := func() []byte {
		switch rng.Intn(5) {
		case 0:
			return nil
		case 1:
			return []byte{}
		case 2:
			return []byte("plain text ✓ \"quoted\"\n")
		}
		b := make([]byte, rng.Intn(40))
		rng.Read(b)
		return b
	}
	for i := 0; i < 2000; i++ {
		in := Record{Topic: "t", Partition: int32(rng.Intn(10)), Offset: rng.Int63n(1e9), Timestamp: rng.Int63n(2e12), HasTimestamp: true,
			Key: randBytes(), Value: randBytes()}
		for n := rng.Intn(4); n > 0; n-- {
			in.Headers = append(in.Headers, Header{Key: string(randBytes()), Value: randBytes()})
		}
		line := Append(nil, &in)
		out, err := Parse(line)
		if err != nil {
			t.Fatalf("Parse(%s): %v", line, err)
		}
		if !same(in.Key, out.Key) || !same(in.Value, out.Value) || out.Partition != in.Partition || out.Timestamp != in.Timestamp || len(out.Headers) != len(in.Headers) {
			t.Fatalf("round trip of %s:\n in %+v\nout %+v", line, in, out)
		}
		for j := range in.Headers {
			if in.Headers[j].Key != out.Headers[j].Key || !same(in.Headers[j].Value, out.Headers[j].Value) {
				t.Fatalf("header %d: in %+v out %+v", j, in.Headers[j], out.Headers[j])
			}
		}
	}
}

// same compares bytes keeping null apart from empty.
func same(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"topic":"t","key":"k","value":{"a":1},"value_encoding":"json","headers":[{"key":"h","value":"v"}]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := Parse(line)
		if err != nil {
			return
		}
		// What parses must survive a second trip unchanged.
		again, err := Parse(Append(nil, &r))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !same(r.Key, again.Key) || (!r.ValueJSON && !same(r.Value, again.Value)) {
			t.Fatalf("second trip changed the record: %+v -> %+v", r, again)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	r := &Record{Topic: "topic", Partition: 3, Offset: 123456, Timestamp: 1714564800123, Key: []byte("key-1"),
		Value: bytes.Repeat([]byte("x"), 100), Headers: []Header{{"h", []byte("v")}}}
	buf := make([]byte, 0, 512)
	for i := 0; i < b.N; i++ {
		buf = Append(buf[:0], r)
	}
}

func BenchmarkParse(b *testing.B) {
	line := []byte(`{"topic":"topic","partition":3,"offset":123456,"timestamp":1714564800123,"key":"key-1","value":"` +
		strings.Repeat("x", 100) + `","headers":[{"key":"h","value":"v"}]}`)
	for i := 0; i < b.N; i++ {
		if _, err := Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSchemaIDs(t *testing.T) {
	r := Record{Topic: "t", Key: []byte(`"k"`), KeyJSON: true, KeySchemaID: 3, Value: []byte(`{"a":1}`), ValueJSON: true, ValueSchemaID: 7}
	line := string(Append(nil, &r))
	want := `{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":"k","key_encoding":"json","key_schema_id":3,"value":{"a":1},"value_encoding":"json","value_schema_id":7,"headers":[]}`
	if line != want {
		t.Fatalf("Append:\n got %s\nwant %s", line, want)
	}
	got, err := Parse([]byte(line))
	if err != nil || got.KeySchemaID != 3 || got.ValueSchemaID != 7 {
		t.Fatalf("Parse(%s) = ids %d/%d, %v; want 3/7", line, got.KeySchemaID, got.ValueSchemaID, err)
	}
	// Without a schema codec no id is written, and none is read.
	plain := string(Append(nil, &Record{Topic: "t", Value: []byte("v")}))
	if strings.Contains(plain, "schema_id") {
		t.Errorf("Append without ids wrote %s", plain)
	}
	for _, tc := range []struct{ line, want string }{
		{`{"value_schema_id":0}`, `field "value_schema_id": want an integer from 1 to 2147483647, got 0`},
		{`{"key_schema_id":-2}`, `field "key_schema_id": want an integer from 1 to 2147483647, got -2`},
		{`{"value_schema_id":"7"}`, `field "value_schema_id": want an integer of 1 or more, got a string`},
	} {
		if _, err := Parse([]byte(tc.line)); err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%s) = %v, want %q", tc.line, err, tc.want)
		}
	}
}
