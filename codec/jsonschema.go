package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// JSON Schema: the payload is the JSON text itself. Producing validates it
// against the schema with santhosh-tekuri/jsonschema and writes it
// compactly; consuming checks that it is JSON and prints it compactly, but
// does not validate it, as Confluent's Java deserializer does not by
// default: the schema is what the producer claimed, and a record that
// breaks it is still worth seeing.

type jsonSchemaFormat struct{}

// jsonSchemaBase is where schemas without an $id live, so that references
// by relative name ("address.json") resolve among the references given.
const jsonSchemaBase = "mem://registry/"

var jsonSchemaPrinter = message.NewPrinter(language.English)

func (jsonSchemaFormat) compile(s Schema, refs []NamedSchema, _ *SchemaConfig) (compiled, error) {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s.Text))
	if err != nil {
		return nil, fmt.Errorf("schema is not JSON: %w", err)
	}
	var id *url.URL
	title := ""
	if m, ok := doc.(map[string]any); ok {
		title, _ = m["title"].(string)
		if s, ok := m["$id"].(string); ok {
			if u, err := url.Parse(s); err == nil && u.IsAbs() {
				id = u
			}
		}
	}
	c := jsonschema.NewCompiler() // no loader: nothing outside the registry is read
	added := map[string]bool{}
	for _, r := range refs {
		if r.Type != JSONSchema {
			return nil, fmt.Errorf("reference %q is %s, not JSON Schema", r.Name, schemaTypeName(r.Type))
		}
		rdoc, err := jsonschema.UnmarshalJSON(strings.NewReader(r.Text))
		if err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.Name, err)
		}
		for _, loc := range refLocations(r.Name, id) {
			if added[loc] {
				continue
			}
			added[loc] = true
			if err := c.AddResource(loc, rdoc); err != nil {
				return nil, fmt.Errorf("reference %q: %w", r.Name, err)
			}
		}
	}
	root := jsonSchemaBase + "schema.json"
	if err := c.AddResource(root, doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(root)
	if err != nil {
		return nil, err
	}
	return &jsonSchema{schema: sch, title: title}, nil
}

// refLocations places a reference among the compiler's resources where
// the schema's $ref may point: an absolute name stays, a relative one
// goes under jsonSchemaBase and, when the schema has an absolute $id,
// next to it.
func refLocations(name string, id *url.URL) []string {
	if u, err := url.Parse(name); err == nil && u.IsAbs() {
		return []string{name}
	}
	locs := []string{jsonSchemaBase + strings.TrimPrefix(name, "/")}
	if rel, err := url.Parse(name); id != nil && err == nil {
		locs = append(locs, id.ResolveReference(rel).String())
	}
	return locs
}

type jsonSchema struct {
	schema *jsonschema.Schema
	title  string
}

// name is the schema's title, which Confluent's record name strategies
// use for JSON Schema.
func (s *jsonSchema) name() string { return s.title }

func (s *jsonSchema) decode(dst, payload []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, payload); err != nil {
		return nil, jsonError(payload)
	}
	return buf.Bytes(), nil
}

func (s *jsonSchema) encode(dst, text []byte) ([]byte, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(text))
	if err != nil {
		return nil, jsonError(text)
	}
	if err := s.schema.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return nil, validationError(ve, v)
		}
		return nil, err
	}
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, text); err != nil {
		return nil, jsonError(text)
	}
	return buf.Bytes(), nil
}

// validationError reports the first leaf of a validation failure: the
// innermost place and the rule it broke.
func validationError(ve *jsonschema.ValidationError, v any) error {
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	return &FieldError{Path: instancePath(ve.InstanceLocation, v), Msg: ve.ErrorKind.LocalizedString(jsonSchemaPrinter)}
}

// instancePath writes a JSON pointer's tokens as items[2].sku, telling
// array indexes from keys by the value they index.
func instancePath(loc []string, v any) string {
	var b strings.Builder
	for _, tok := range loc {
		switch x := v.(type) {
		case []any:
			b.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(x) {
				v = x[i]
			} else {
				v = nil
			}
			continue
		case map[string]any:
			v = x[tok]
		default:
			v = nil
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}
