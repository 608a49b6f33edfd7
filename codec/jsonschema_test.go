package codec

import (
	"fmt"
	"strings"
	"testing"
)

const orderJSONSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "Order",
  "type": "object",
  "properties": {
    "id": {"type": "integer"},
    "items": {"type": "array", "items": {"$ref": "item.json"}},
    "ship_to": {"$ref": "https://example.com/schemas/address.json"}
  },
  "required": ["id", "items"],
  "additionalProperties": false
}`

func jsonSchemaRegistry() *fakeRegistry {
	reg := newFakeRegistry()
	reg.add("item", Schema{Type: JSONSchema, Text: `{"type":"object","properties":{"sku":{"type":"string","minLength":1},"qty":{"type":"integer","minimum":1}},"required":["sku","qty"]}`})
	reg.add("address", Schema{Type: JSONSchema, Text: `{"$id":"https://example.com/schemas/address.json","type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`})
	reg.add("orders-value", Schema{Type: JSONSchema, Text: orderJSONSchema, References: []Reference{
		{Name: "item.json", Subject: "item", Version: 1},
		{Name: "https://example.com/schemas/address.json", Subject: "address", Version: 1},
	}})
	return reg
}

func TestJSONSchemaGolden(t *testing.T) {
	reg := jsonSchemaRegistry()
	enc, err := ParseSchema("jsonschema", &SchemaConfig{Registry: reg, Topic: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := ParseSchema("sr", &SchemaConfig{Registry: reg})
	var out strings.Builder
	for _, in := range []string{
		`{"id": 1, "items": [{"sku": "a", "qty": 2}]}`,
		"{\n  \"id\": 2,\n  \"items\": [],\n  \"ship_to\": {\"city\": \"Oslo\"}\n}",
	} {
		wire, err := enc.Encode([]byte(in))
		if err != nil {
			t.Fatalf("Encode(%s): %v", in, err)
		}
		text, id, err := dec.DecodeID(wire)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "in:   %q\nwire: %x %s\nid:   %d\nout:  %s\n\n", in, wire[:5], wire[5:], id, text)
	}
	golden(t, "orders", out.String())
}

func TestJSONSchemaBadInput(t *testing.T) {
	reg := jsonSchemaRegistry()
	enc, _ := ParseSchema("jsonschema", &SchemaConfig{Registry: reg, Topic: "orders"})
	for _, tc := range []struct{ in, want string }{
		{`{"id":1,"items":[{"sku":"a","qty":1},{"sku":"","qty":1}]}`, `items[1].sku: minLength: got 0, want 1`},
		{`{"id":1,"items":[{"sku":"a","qty":0}]}`, `items[0].qty: minimum: got 0, want 1`},
		{`{"id":"1","items":[]}`, `id: got string, want integer`},
		{`{"items":[]}`, `missing property 'id'`},
		{`{"id":1,"items":[],"extra":true}`, `additional properties 'extra' not allowed`},
		{`{"id":1,"items":[],"ship_to":{}}`, `ship_to: missing property 'city'`},
		{`{"id":1,`, `invalid json: unexpected end of JSON input at byte 8`},
	} {
		_, err := enc.Encode([]byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Encode(%s) = %v, want %q", tc.in, err, tc.want)
		}
	}
	// Consuming does not validate, but the payload must be JSON.
	dec, _ := ParseSchema("jsonschema", &SchemaConfig{Registry: reg})
	if got, err := dec.Decode(AppendHeader(nil, 3)); err == nil {
		t.Errorf("Decode of an empty JSON payload = %s, want an error", got)
	}
	if got, err := dec.Decode(append(AppendHeader(nil, 3), `{"id":"not an integer"}`...)); err != nil || string(got) != `{"id":"not an integer"}` {
		t.Errorf("Decode of JSON that breaks the schema = %s, %v; want it shown as it is", got, err)
	}
}
