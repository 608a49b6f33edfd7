package codec

import (
	"strings"
	"testing"
)

// TestJSONSchemaDrafts: each draft a registry holds is validated by its
// own rules, and an error names the field by its path in the value.
func TestJSONSchemaDrafts(t *testing.T) {
	for _, tc := range []struct {
		name, schema string
		refs         map[string]string // reference name: schema
		in, want     string            // want "": valid
	}{
		{"draft-04 exclusiveMinimum is a flag", `{"$schema":"http://json-schema.org/draft-04/schema#","properties":{"n":{"type":"number","minimum":1,"exclusiveMinimum":true}}}`,
			nil, `{"n":1}`, "n: "},
		{"draft-04 above the bound", `{"$schema":"http://json-schema.org/draft-04/schema#","properties":{"n":{"type":"number","minimum":1,"exclusiveMinimum":true}}}`,
			nil, `{"n":2}`, ""},
		{"draft-06 exclusiveMinimum is a number", `{"$schema":"http://json-schema.org/draft-06/schema#","properties":{"n":{"exclusiveMinimum":1}}}`,
			nil, `{"n":1}`, "n: "},
		{"draft-07 tuple items", `{"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}`,
			nil, `["a","b"]`, "[1]: got string, want integer"},
		{"draft-07 asserts format", `{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"at":{"type":"string","format":"date-time"}}}`,
			nil, `{"at":"yesterday"}`, "at: "},
		{"draft-07 valid format", `{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"at":{"type":"string","format":"date-time"}}}`,
			nil, `{"at":"2024-05-01T12:00:00Z"}`, ""},
		{"draft-07 definitions", `{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"sku":{"type":"string","minLength":2}},"properties":{"lines":{"type":"array","items":{"properties":{"sku":{"$ref":"#/definitions/sku"}}}}}}`,
			nil, `{"lines":[{"sku":"ab"},{"sku":"a"}]}`, "lines[1].sku: minLength: got 1, want 2"},
		{"2019-09 dependentRequired", `{"$schema":"https://json-schema.org/draft/2019-09/schema","dependentRequired":{"card":["cvv"]}}`,
			nil, `{"card":"4111"}`, "dependentRequired: "},
		{"2020-12 prefixItems", `{"$schema":"https://json-schema.org/draft/2020-12/schema","prefixItems":[{"type":"integer"}],"items":false}`,
			nil, `[1,2]`, "[1]: "},
		{"enum in a referenced schema", `{"type":"array","items":{"$ref":"kind.json"}}`,
			map[string]string{"kind.json": `{"enum":["click",2,null]}`}, `["click","view"]`, "[1]: value must be one of 'click', 2, null"},
		{"keys that look like indexes", `{"properties":{"0":{"properties":{"a b":{"type":"integer"}}}}}`,
			nil, `{"0":{"a b":"x"}}`, "0.a b: got string, want integer"},
		{"big integers stay exact", `{"properties":{"id":{"type":"integer","maximum":9007199254740993}}}`,
			nil, `{"id":9007199254740994}`, "id: maximum: got 9007199254740994, want 9007199254740993"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newFakeRegistry()
			var refs []Reference
			for name, text := range tc.refs {
				reg.add(name, Schema{Type: JSONSchema, Text: text})
				refs = append(refs, Reference{Name: name, Subject: name, Version: 1})
			}
			reg.add("t-value", Schema{Type: JSONSchema, Text: tc.schema, References: refs})
			enc, err := ParseSchema("jsonschema", &SchemaConfig{Registry: reg, Topic: "t"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = enc.Encode([]byte(tc.in))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Encode(%s) = %v, want it valid", tc.in, err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("Encode(%s) = %v, want an error starting %q", tc.in, err, tc.want)
			}
		})
	}
}

// TestJSONSchemaMissingReference: a $ref to nothing the registry gave is
// an error when the schema is compiled, not a request to the network.
func TestJSONSchemaMissingReference(t *testing.T) {
	reg := newFakeRegistry()
	reg.add("t-value", Schema{Type: JSONSchema, Text: `{"properties":{"a":{"$ref":"https://example.com/elsewhere.json"}}}`})
	enc, err := ParseSchema("jsonschema", &SchemaConfig{Registry: reg, Topic: "t"})
	if err == nil {
		_, err = enc.Encode([]byte(`{"a":1}`))
	}
	if err == nil || !strings.Contains(err.Error(), "elsewhere.json") {
		t.Errorf("err = %v, want the missing reference named", err)
	}
}
