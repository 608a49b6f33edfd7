package codec

import (
	"strings"
	"testing"
)

// benchDoc is a Faust record of a typical size.
const benchDoc = `{"id":12345,"customer":"ada@example.com","items":[{"sku":"A-1","qty":2,"price":9.99},{"sku":"B-7","qty":1,"price":24.5}],"paid":true,"note":null,"__faust":{"ns":"shop.models.Order"}}`

func benchDecode(b *testing.B, spec string, text string) {
	c := mustParse(b, spec)
	wire, err := c.Encode([]byte(text))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRaw(b *testing.B)        { benchDecode(b, "raw", benchDoc) }
func BenchmarkDecodeJSON(b *testing.B)       { benchDecode(b, "json", benchDoc) }
func BenchmarkDecodeBinary(b *testing.B)     { benchDecode(b, "binary", benchDoc) }
func BenchmarkDecodeJSONBinary(b *testing.B) { benchDecode(b, "json|binary", benchDoc) }
func BenchmarkDecodeHex(b *testing.B)        { benchDecode(b, "hex", benchDoc) }
func BenchmarkDecodePickle(b *testing.B)     { benchDecode(b, "pickle", benchDoc) }

func BenchmarkDecodePickleLarge(b *testing.B) {
	benchDecode(b, "pickle", "["+strings.TrimSuffix(strings.Repeat(benchDoc+",", 1000), ",")+"]")
}

func BenchmarkEncodePickle(b *testing.B) {
	c := mustParse(b, "pickle")
	b.SetBytes(int64(len(benchDoc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode([]byte(benchDoc)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStripFaustMeta(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := StripFaustMeta([]byte(benchDoc)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchAvro is benchDoc's order as Avro.
const benchAvro = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"long"},{"name":"customer","type":"string"},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
   {"name":"sku","type":"string"},{"name":"qty","type":"int"},{"name":"price","type":"double"}]}}},
 {"name":"paid","type":"boolean"},{"name":"note","type":["null","string"],"default":null}]}`

const benchAvroDoc = `{"id":12345,"customer":"ada@example.com","items":[{"sku":"A-1","qty":2,"price":9.99},{"sku":"B-7","qty":1,"price":24.5}],"paid":true,"note":null}`

func benchAvroCodec(b *testing.B) *Chain {
	reg := newFakeRegistry()
	reg.add("orders-value", Schema{Type: Avro, Text: benchAvro})
	c, err := ParseSchema("avro", &SchemaConfig{Registry: reg, Topic: "orders"})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkDecodeAvro(b *testing.B) {
	c := benchAvroCodec(b)
	wire, err := c.Encode([]byte(benchAvroDoc))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.DecodeID(wire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeAvro(b *testing.B) {
	c := benchAvroCodec(b)
	b.SetBytes(int64(len(benchAvroDoc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode([]byte(benchAvroDoc)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeJSONSchema is produce -s jsonschema's work per record:
// parse, validate against a draft-07 schema with a reference, compact.
func BenchmarkEncodeJSONSchema(b *testing.B) {
	c, err := ParseSchema("jsonschema", &SchemaConfig{Registry: jsonSchemaRegistry(), Topic: "orders"})
	if err != nil {
		b.Fatal(err)
	}
	doc := []byte(`{"id":12345,"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"ship_to":{"city":"Oslo"}}`)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode(doc); err != nil {
			b.Fatal(err)
		}
	}
}
