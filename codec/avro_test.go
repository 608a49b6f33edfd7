package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
	"github.com/streamctl/streamctl/internal/goldenfile"
)

// golden compares got with testdata/codec/<Test>/<name>.golden, or rewrites
// it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, "codec", name, got)
}

const avroAll = `{"type":"record","name":"All","namespace":"com.example","fields":[
 {"name":"n","type":"null"},
 {"name":"b","type":"boolean"},
 {"name":"i","type":"int"},
 {"name":"l","type":"long"},
 {"name":"f","type":"float"},
 {"name":"d","type":"double"},
 {"name":"bytes","type":"bytes"},
 {"name":"s","type":"string"},
 {"name":"e","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
 {"name":"fx","type":{"type":"fixed","name":"Four","size":4}},
 {"name":"arr","type":{"type":"array","items":"int"}},
 {"name":"m","type":{"type":"map","values":"string"}},
 {"name":"z","type":"string","default":"filled in"}
]}`

const avroLogical = `{"type":"record","name":"Logical","fields":[
 {"name":"date","type":{"type":"int","logicalType":"date"}},
 {"name":"time_ms","type":{"type":"int","logicalType":"time-millis"}},
 {"name":"time_us","type":{"type":"long","logicalType":"time-micros"}},
 {"name":"ts_ms","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"ts_us","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"local_ms","type":{"type":"long","logicalType":"local-timestamp-millis"}},
 {"name":"local_us","type":{"type":"long","logicalType":"local-timestamp-micros"}},
 {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":20,"scale":2}},
 {"name":"dec_fixed","type":{"type":"fixed","name":"Dec8","size":8,"logicalType":"decimal","precision":18,"scale":4}},
 {"name":"uuid","type":{"type":"string","logicalType":"uuid"}},
 {"name":"dur","type":{"type":"fixed","name":"Dur","size":12,"logicalType":"duration"}}
]}`

const avroUnions = `{"type":"record","name":"U","fields":[
 {"name":"opt","type":["null","string"],"default":null},
 {"name":"num","type":["null","int","double"],"default":null},
 {"name":"rec","type":["null",{"type":"record","name":"Point","fields":[{"name":"x","type":"int"},{"name":"y","type":"int","default":0}]}],"default":null},
 {"name":"ts","type":["null",{"type":"long","logicalType":"timestamp-millis"}],"default":null}
]}`

const avroList = `{"type":"record","name":"Node","fields":[
 {"name":"v","type":"int"},
 {"name":"next","type":["null","Node"],"default":null}
]}`

// roundTrip encodes each plain JSON input with the subject's latest
// schema, decodes the wire both ways and writes all of it for a golden
// file. Avro JSON, being lossless, encodes back to the same bytes; plain
// JSON (bare unions) encodes back to bytes that decode to the same text.
func roundTrip(t *testing.T, reg *fakeRegistry, subject string, inputs ...string) string {
	t.Helper()
	var out strings.Builder
	plainEnc, err := ParseSchema("avro", &SchemaConfig{Registry: reg, Subject: subject})
	if err != nil {
		t.Fatal(err)
	}
	nativeEnc, _ := ParseSchema("avro", &SchemaConfig{Registry: reg, Subject: subject, AvroJSON: AvroNative})
	plainDec, _ := ParseSchema("avro", &SchemaConfig{Registry: reg})
	nativeDec, _ := ParseSchema("avro", &SchemaConfig{Registry: reg, AvroJSON: AvroNative})
	for _, in := range inputs {
		wire, err := plainEnc.Encode([]byte(in))
		if err != nil {
			t.Fatalf("Encode(%s): %v", in, err)
		}
		plain, id, err := plainDec.DecodeID(wire)
		if err != nil {
			t.Fatalf("Decode(%x): %v", wire, err)
		}
		native, _, err := nativeDec.DecodeID(wire)
		if err != nil {
			t.Fatalf("Decode(%x) as Avro JSON: %v", wire, err)
		}
		fmt.Fprintf(&out, "in:    %s\nwire:  %x\nplain: %s\navro:  %s\n\n", in, wire, plain, native)
		for _, text := range [][]byte{plain, native} {
			if !json.Valid(text) {
				t.Errorf("Decode gave invalid JSON %s", text)
			}
		}
		if again, err := nativeEnc.EncodeID(native, id); err != nil || string(again) != string(wire) {
			t.Errorf("re-encoding the Avro JSON %s: %x, %v; want %x", native, again, err, wire)
		}
		again, err := plainEnc.EncodeID(plain, id)
		if err != nil {
			t.Errorf("re-encoding %s: %v", plain, err)
			continue
		}
		if text, _ := plainDec.Decode(again); string(text) != string(plain) {
			t.Errorf("plain JSON %s encoded back to %x, which decodes to %s", plain, again, text)
		}
	}
	return out.String()
}

func TestAvroGolden(t *testing.T) {
	reg := newFakeRegistry()
	reg.add("all", Schema{Type: Avro, Text: avroAll})
	reg.add("logical", Schema{Type: Avro, Text: avroLogical})
	reg.add("unions", Schema{Type: Avro, Text: avroUnions})
	reg.add("list", Schema{Type: Avro, Text: avroList})
	for _, tc := range []struct {
		name, subject string
		inputs        []string
	}{
		{"primitives", "all", []string{
			`{"n":null,"b":true,"i":-2147483648,"l":9007199254740993,"f":1.5,"d":-0.1,"bytes":"AP8=","s":"héllo \"q\"\n","e":"GREEN","fx":"AQIDBA==","arr":[1,2,3],"m":{"b":"2","a":"1"},"z":"given"}`,
			`{"n":null,"b":false,"i":0,"l":-1,"f":"NaN","d":"-Infinity","bytes":"","s":"","e":"RED","fx":"AAAAAA==","arr":[],"m":{}}`,
			`{"n":null,"b":false,"i":1e3,"l":2.0,"f":1e-7,"d":1e300,"bytes":"","s":"","e":"RED","fx":"AAAAAA==","arr":[],"m":{}}`,
		}},
		{"logical", "logical", []string{
			`{"date":"2024-02-29","time_ms":"13:45:01.250","time_us":"23:59:59.999999","ts_ms":"2024-01-02T03:04:05.678Z","ts_us":"2024-01-02T04:04:05.678901+01:00","local_ms":"2024-01-02T03:04:05.678","local_us":"1969-12-31T23:59:59.000001","dec":"12345678901234567.89","dec_fixed":"-3.1416","uuid":"0b8e4c1e-6f36-4d1a-9d0e-1f2a3b4c5d6e","dur":{"months":1,"days":2,"milliseconds":3}}`,
			`{"date":0,"time_ms":0,"time_us":0,"ts_ms":1700000000000,"ts_us":-1,"local_ms":0,"local_us":0,"dec":-0.5,"dec_fixed":0,"uuid":"00000000-0000-0000-0000-000000000000","dur":{"months":0,"days":0,"milliseconds":0}}`,
			`{"date":"1969-12-31","time_ms":"00:00:00","time_us":"00:00:00.5","ts_ms":"1970-01-01T00:00:00Z","ts_us":"1969-12-31T23:59:59.999999Z","local_ms":-1,"local_us":1,"dec":"100","dec_fixed":"99999999999999.9999","uuid":"ffffffff-ffff-ffff-ffff-ffffffffffff","dur":{"months":4294967295,"days":0,"milliseconds":0}}`,
		}},
		{"unions", "unions", []string{
			`{}`,
			`{"opt":"bare","num":7,"rec":{"x":1},"ts":"2024-01-02T03:04:05.000Z"}`,
			`{"opt":{"string":"tagged"},"num":{"double":7},"rec":{"Point":{"x":1,"y":2}},"ts":{"long":1}}`,
			`{"opt":null,"num":2.5,"rec":null,"ts":null}`,
			`{"num":3000000000}`,
		}},
		{"recursive", "list", []string{
			`{"v":1,"next":{"v":2,"next":{"v":3}}}`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, roundTrip(t, reg, tc.subject, tc.inputs...))
		})
	}
}

// TestAvroAgainstHamba checks the hand-walked binary against hamba's own
// encoder and decoder, so that the golden files are not streamctl checking
// itself.
func TestAvroAgainstHamba(t *testing.T) {
	reg := newFakeRegistry()
	id := reg.add("all", Schema{Type: Avro, Text: avroAll})
	schema := avro.MustParse(avroAll)
	in := map[string]any{
		"n": nil, "b": true, "i": 42, "l": int64(-7), "f": float32(0.25), "d": 3.5,
		"bytes": []byte{0, 1, 2}, "s": "x", "e": "GREEN", "fx": [4]byte{9, 8, 7, 6},
		"arr": []int{5, 6}, "m": map[string]string{"k": "v"}, "z": "zz",
	}
	wire, err := avro.Marshal(schema, in)
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := ParseSchema("avro", &SchemaConfig{Registry: reg})
	got, err := dec.Decode(append(AppendHeader(nil, id), wire...))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"n":null,"b":true,"i":42,"l":-7,"f":0.25,"d":3.5,"bytes":"AAEC","s":"x","e":"GREEN","fx":"CQgHBg==","arr":[5,6],"m":{"k":"v"},"z":"zz"}`
	if string(got) != want {
		t.Errorf("decoding hamba's bytes:\n got %s\nwant %s", got, want)
	}
	enc, _ := ParseSchema("avro", &SchemaConfig{Registry: reg, ID: id})
	ours, err := enc.Encode(got)
	if err != nil {
		t.Fatal(err)
	}
	// hamba writes blocks with their byte size, streamctl without: the
	// bytes differ, the values must not.
	var theirs, back map[string]any
	if err := avro.Unmarshal(schema, wire, &theirs); err != nil {
		t.Fatal(err)
	}
	if err := avro.Unmarshal(schema, ours[5:], &back); err != nil {
		t.Fatalf("hamba cannot read what streamctl wrote: %v", err)
	}
	if diff := cmp.Diff(theirs, back); diff != "" {
		t.Errorf("hamba reads streamctl's encoding differently (-hamba's +streamctl's):\n%s", diff)
	}
}

func TestAvroReferences(t *testing.T) {
	reg := newFakeRegistry()
	reg.add("money", Schema{Type: Avro, Text: `{"type":"record","name":"Money","namespace":"com.shop","fields":[{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},{"name":"currency","type":"string","default":"EUR"}]}`})
	reg.add("customer", Schema{Type: Avro, Text: `{"type":"record","name":"Customer","namespace":"com.shop","fields":[{"name":"name","type":"string"},{"name":"credit","type":"com.shop.Money"}]}`,
		References: []Reference{{Name: "com.shop.Money", Subject: "money", Version: 1}}})
	reg.add("orders-value", Schema{Type: Avro, Text: `{"type":"record","name":"Order","namespace":"com.shop","fields":[{"name":"id","type":"long"},{"name":"customer","type":"Customer"},{"name":"total","type":"Money"},{"name":"refund","type":["null","Money"],"default":null}]}`,
		References: []Reference{{Name: "com.shop.Customer", Subject: "customer", Version: 1}, {Name: "com.shop.Money", Subject: "money", Version: 1}}})
	golden(t, "references", roundTrip(t, reg, "orders-value",
		`{"id":1,"customer":{"name":"Ada","credit":{"amount":"100.00"}},"total":{"amount":"9.90","currency":"USD"}}`,
		`{"id":2,"customer":{"name":"Bob","credit":{"amount":0}},"total":{"amount":1},"refund":{"amount":"0.10"}}`,
	))
}

func TestAvroBadInput(t *testing.T) {
	reg := newFakeRegistry()
	reg.add("all", Schema{Type: Avro, Text: avroAll})
	reg.add("logical", Schema{Type: Avro, Text: avroLogical})
	reg.add("unions", Schema{Type: Avro, Text: avroUnions})
	reg.add("nested", Schema{Type: Avro, Text: `{"type":"record","name":"Order","fields":[{"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[{"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}},{"name":"tags","type":{"type":"map","values":"long"}, "default":{}}]}`})
	for _, tc := range []struct{ subject, in, want string }{
		{"nested", `{"items":[{"sku":"a","qty":1},{"sku":12,"qty":1}]}`, `items[1].sku: want a string, got the number 12`},
		{"nested", `{"items":[{"sku":"a"}]}`, `items[0].qty: missing, and the field has no default`},
		{"nested", `{"items":[],"tags":{"x":"1"}}`, `tags["x"]: want a long, got the string "1"`},
		{"nested", `{"items":[],"extra":1}`, `extra: record Order has no such field`},
		{"nested", `{"items":{}}`, `items: want an array, got an object`},
		{"nested", `[1]`, `want an object (record Order), got an array`},
		{"nested", `{"items":[]} {}`, `more than one JSON value`},
		{"nested", `{"items":[`, `invalid json: unexpected end of JSON input at byte 10`},
		{"nested", `{"items":[{"sku":"a","qty":2147483648}]}`, `items[0].qty: 2147483648 is out of range for an int`},
		{"nested", `{"items":[{"sku":"a","qty":1.5}]}`, `items[0].qty: want an integer, got 1.5`},
		{"all", `{"n":1}`, `n: want null, got the number 1`},
		{"all", `{"n":null,"b":"yes"}`, `b: want true or false, got the string "yes"`},
		{"all", `{"n":null,"b":true,"i":1,"l":1,"f":1e39}`, `f: 1e39 is out of range for a float`},
		{"all", `{"n":null,"b":true,"i":1,"l":1,"f":1,"d":1,"bytes":"!!"}`, `bytes: the string "!!" is not base64`},
		{"all", `{"n":null,"b":true,"i":1,"l":1,"f":1,"d":1,"bytes":"","s":"","e":"BLUE"}`, `e: "BLUE" is not a symbol of com.example.Color (want RED, GREEN)`},
		{"all", `{"n":null,"b":true,"i":1,"l":1,"f":1,"d":1,"bytes":"","s":"","e":"RED","fx":"AQ=="}`, `fx: want 4 bytes for fixed com.example.Four, got 1`},
		{"logical", `{"date":"2024-13-01"}`, `date: "2024-13-01" is not a date (want YYYY-MM-DD or a number of days)`},
		{"logical", `{"date":1,"time_ms":"25:00:00"}`, `time_ms: "25:00:00" is not a time of day (want HH:MM:SS or HH:MM:SS.ffffff)`},
		{"logical", `{"date":1,"time_ms":1,"time_us":1,"ts_ms":"yesterday"}`, `ts_ms: "yesterday" is not an RFC 3339 timestamp (want 2006-01-02T15:04:05.000Z or a number)`},
		{"logical", `{"date":1,"time_ms":1,"time_us":1,"ts_ms":"2024-01-01T00:00:00.0001Z"}`, `ts_ms: "2024-01-01T00:00:00.0001Z" is more precise than the milliseconds the schema keeps`},
		{"logical", `{"date":1,"time_ms":1,"time_us":1,"ts_ms":1,"ts_us":1,"local_ms":1,"local_us":1,"dec":"1.234"}`, `dec: 1.234 has more decimal places than the schema's scale of 2`},
		{"logical", `{"date":1,"time_ms":1,"time_us":1,"ts_ms":1,"ts_us":1,"local_ms":1,"local_us":1,"dec":"123456789012345678901"}`, `dec: 123456789012345678901 has more digits than the schema's precision of 20`},
		{"logical", `{"date":1,"time_ms":1,"time_us":1,"ts_ms":1,"ts_us":1,"local_ms":1,"local_us":1,"dec":"1e999999999"}`, `dec: "1e999999999" is not a decimal`},
		{"logical", `{"date":1,"time_ms":1,"time_us":1,"ts_ms":1,"ts_us":1,"local_ms":1,"local_us":1,"dec":1,"dec_fixed":1,"uuid":"nope"}`, `uuid: the string "nope" is not a UUID (want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`},
		{"unions", `{"opt":5}`, `opt: the number 5 matches none of the union's types (null, string)`},
		{"unions", `{"num":"x"}`, `num: the string "x" matches none of the union's types (null, int, double)`},
		{"unions", `{"rec":{"x":"1"}}`, `rec.x: want an int, got the string "1"`},
		{"unions", `{"rec":{"Point":{"y":1}}}`, `rec.Point.x: missing, and the field has no default`},
	} {
		enc, _ := ParseSchema("avro", &SchemaConfig{Registry: reg, Subject: tc.subject})
		_, err := enc.Encode([]byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: Encode(%s) = %v, want %q", tc.subject, tc.in, err, tc.want)
		}
	}
}

func TestAvroBadWire(t *testing.T) {
	reg := newFakeRegistry()
	id := reg.add("all", Schema{Type: Avro, Text: `{"type":"record","name":"R","fields":[{"name":"s","type":"string"},{"name":"u","type":["null","int"]},{"name":"b","type":"boolean"}]}`})
	pid := reg.add("p", Schema{Type: Protobuf, Text: `syntax = "proto3";`})
	dec, _ := ParseSchema("avro", &SchemaConfig{Registry: reg})
	for _, tc := range []struct{ payload, want string }{
		{"\x06ab", "schema 1: length 3 exceeds the 2 bytes left at byte 1"},
		{"\x7f", "schema 1: length -64 exceeds the 0 bytes left at byte 1"},
		{"\x02a\x08", "schema 1: union index 4, but the union has 2 types at byte 2"},
		{"\x02a\x00\x02", "schema 1: invalid boolean byte 0x02 at byte 3"},
		{"\x02a\x00\x01xyz", "schema 1: 3 bytes left after the value: the data does not fit the schema"},
		{"\x02\xff\x00\x01", "schema 1: string is not valid UTF-8 at byte 0"},
	} {
		_, err := dec.Decode(append(AppendHeader(nil, id), tc.payload...))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Decode(%q) = %v, want %q", tc.payload, err, tc.want)
		}
	}
	_, err := dec.Decode(AppendHeader(nil, pid))
	var tm *TypeMismatchError
	if !errors.As(err, &tm) || err.Error() != "schema 2 is Protobuf, not Avro" {
		t.Errorf("Decode of a Protobuf id with -s avro = %v, want TypeMismatchError", err)
	}
}
