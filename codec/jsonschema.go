package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/kaptinlin/jsonschema"
)

// JSON Schema: the payload is the JSON text itself. Producing validates it
// against the schema with kaptinlin/jsonschema (drafts 4, 6, 7, 2019-09
// and 2020-12, chosen by $schema; whose package init costs nothing, where
// a validator that compiles every draft's meta-schema at start-up would
// cost every run of the program) and writes it compactly; consuming checks
// that it is JSON and prints it compactly, but does not validate it, as
// Confluent's Java deserializer does not by default: the schema is what
// the producer claimed, and a record that breaks it is still worth seeing.

type jsonSchemaFormat struct{}

// jsonSchemaBase is where schemas without an $id live, so that references
// by relative name ("address.json") resolve among the references given.
const jsonSchemaBase = "mem://registry/"

// jsonSchemaDialect is the draft a schema declares with $schema, reduced
// to the year-like number the drafts are ordered by (0: none declared).
func jsonSchemaDialect(doc any) int {
	m, _ := doc.(map[string]any)
	s, _ := m["$schema"].(string)
	for _, d := range []struct {
		name string
		n    int
	}{{"draft-04", 4}, {"draft-06", 6}, {"draft-07", 7}, {"2019-09", 2019}, {"2020-12", 2020}} {
		if strings.Contains(s, d.name) {
			return d.n
		}
	}
	return 0
}

func (jsonSchemaFormat) compile(s Schema, refs []NamedSchema, _ *SchemaConfig) (compiled, error) {
	var doc any
	if err := json.Unmarshal([]byte(s.Text), &doc); err != nil {
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
	c := jsonschema.NewCompiler()
	// Nothing outside the registry is read: the compiler's own HTTP
	// loaders go, so a $ref to no reference given is an error.
	clear(c.Loaders)
	// Format is asserted up to draft-07, as those drafts say and as
	// Confluent's serializers do; from 2019-09 on it is an annotation.
	if d := jsonSchemaDialect(doc); d > 0 && d < 2019 {
		c.SetAssertFormat(true)
	}
	var compiled []*jsonschema.Schema
	for _, r := range refs {
		if r.Type != JSONSchema {
			return nil, fmt.Errorf("reference %q is %s, not JSON Schema", r.Name, schemaTypeName(r.Type))
		}
		var v any
		if err := json.Unmarshal([]byte(r.Text), &v); err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.Name, err)
		}
		locs := refLocations(r.Name, id)
		rs, err := c.Compile([]byte(r.Text), locs[0])
		if err != nil {
			return nil, fmt.Errorf("reference %q: %w", r.Name, err)
		}
		// A reference with an $id of its own is found by that too; the
		// compiler keeps it there only, so every name goes in by hand.
		for _, loc := range locs {
			c.SetSchema(loc, rs)
		}
		compiled = append(compiled, rs)
	}
	sch, err := c.Compile([]byte(s.Text), jsonSchemaBase+"schema.json")
	if err != nil {
		return nil, err
	}
	for _, cs := range append(compiled, sch) {
		cs.ResolveUnresolvedReferences()
		if refs := cs.UnresolvedReferenceURIs(); len(refs) > 0 {
			slices.Sort(refs)
			return nil, fmt.Errorf("$ref %q: no such schema among the references", refs[0])
		}
	}
	return &jsonSchema{schema: sch, title: title, c: c}, nil
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
	c      *jsonschema.Compiler // for the schema an error is about
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
	d := json.NewDecoder(bytes.NewReader(text))
	d.UseNumber() // big integers and exact decimals stay what they are
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return nil, jsonError(text)
	}
	if res := s.schema.Validate(v); !res.IsValid() {
		return nil, s.validationError(res, v)
	}
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, text); err != nil {
		return nil, jsonError(text)
	}
	return buf.Bytes(), nil
}

// validationError reports the first leaf of a validation failure: the
// innermost place and the rule it broke.
func (s *jsonSchema) validationError(res *jsonschema.EvaluationResult, v any) error {
	loc, e, where := firstLeaf(res, "", "")
	if e == nil {
		return &FieldError{Msg: "does not match the schema"}
	}
	var toks []string
	if loc != "" {
		toks = strings.Split(loc[1:], "/")
		for i, t := range toks {
			toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
		}
	}
	msg := jsonSchemaMessage(e)
	if e.Code == "value_not_in_enum" {
		// The error lists the values as Go prints them; the schema has
		// them as they were written.
		if sub := s.schemaAt(where); sub != nil && len(sub.Enum) > 0 {
			msg = "value must be one of " + enumList(sub.Enum)
		}
	}
	return &FieldError{Path: instancePath(toks, v), Msg: msg}
}

// schemaAt is the schema at a location the validator reported, through
// the $ref found there; the location of an item of an array carries the
// index after the pointer to "items", which is left out if need be.
func (s *jsonSchema) schemaAt(loc string) *jsonschema.Schema {
	sub, err := s.c.Schema(loc)
	if err != nil {
		i := strings.LastIndexByte(loc, '/')
		if _, nerr := strconv.Atoi(loc[i+1:]); i < 0 || nerr != nil {
			return nil
		}
		if sub, err = s.c.Schema(loc[:i]); err != nil {
			return nil
		}
	}
	for n := 0; sub != nil && len(sub.Enum) == 0 && sub.ResolvedRef != nil && n < 16; n++ {
		sub = sub.ResolvedRef
	}
	return sub
}

// enumList writes enum values as 'click', 'view', 3, null.
func enumList(vals []any) string {
	out := make([]string, len(vals))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = "'" + s + "'"
			continue
		}
		b, _ := json.Marshal(v)
		out[i] = string(b)
	}
	return strings.Join(out, ", ")
}

// aggregate are the keywords whose error only says that a subschema
// failed, with the subschema's own result among the details.
var aggregate = map[string]bool{
	"properties": true, "items": true, "prefixItems": true, "$ref": true, "$dynamicRef": true,
	"allOf": true, "additionalItems": true, "patternProperties": true, "dependentSchemas": true,
	"dependencies": true, "contains": true, "unevaluatedProperties": true, "unevaluatedItems": true,
	"propertyNames": true, "then": true, "else": true, "contentSchema": true,
}

// leafOrder is the order in which a result's own errors are reported:
// a missing property first (the validator also checks it against its
// schema as if it were null), then the rules about the value itself.
var leafOrder = []string{"required", "type", "enum", "const", "additionalProperties"}

// firstLeaf finds, depth first and in a stable order, the innermost
// error of a failed result, and the instance location it is about.
// schemaLoc is the nearest schema location known on the way: the
// validator leaves it out at the root of a referenced schema.
func firstLeaf(res *jsonschema.EvaluationResult, at, schemaLoc string) (string, *jsonschema.EvaluationError, string) {
	at += res.InstanceLocation
	if res.SchemaLocation != "" {
		schemaLoc = res.SchemaLocation
	}
	keys := make([]string, 0, len(res.Errors))
	for k := range res.Errors {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ia, ib := slices.Index(leafOrder, a), slices.Index(leafOrder, b)
		if ia < 0 {
			ia = len(leafOrder)
		}
		if ib < 0 {
			ib = len(leafOrder)
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	falseSchema := func() bool { // additionalProperties: false
		for _, d := range res.Details {
			if !d.IsValid() && d.Errors["schema"] != nil && len(d.Errors) == 1 {
				return true
			}
		}
		return false
	}
	for _, k := range keys {
		if k == "additionalProperties" {
			if falseSchema() {
				return at, res.Errors[k], schemaLoc
			}
			continue // the property's own error says more
		}
		if !aggregate[k] {
			return at, res.Errors[k], schemaLoc
		}
	}
	details := slices.Clone(res.Details)
	slices.SortStableFunc(details, func(a, b *jsonschema.EvaluationResult) int {
		return strings.Compare(a.EvaluationPath, b.EvaluationPath)
	})
	for _, d := range details {
		if !d.IsValid() {
			if loc, e, sl := firstLeaf(d, at, schemaLoc); e != nil {
				return loc, e, sl
			}
		}
	}
	for _, k := range keys { // an aggregate with no failed detail
		return at, res.Errors[k], schemaLoc
	}
	return at, nil, ""
}

// jsonSchemaMessage words an error as the rule and the value's
// side of it: "minLength: got 0, want 1", "missing property 'id'".
func jsonSchemaMessage(e *jsonschema.EvaluationError) string {
	p := func(k string) any { return e.Params[k] }
	switch e.Code {
	case "type_mismatch":
		return fmt.Sprintf("got %v, want %v", p("received"), p("expected"))
	case "missing_required_property":
		return fmt.Sprintf("missing property %v", p("property"))
	case "missing_required_properties":
		return fmt.Sprintf("missing properties %v", p("properties"))
	case "additional_property_mismatch":
		return fmt.Sprintf("additional properties %v not allowed", p("property"))
	case "additional_properties_mismatch":
		return fmt.Sprintf("additional properties %v not allowed", p("properties"))
	case "value_not_in_enum":
		return fmt.Sprintf("value must be one of %v", p("expected"))
	case "string_too_short":
		return fmt.Sprintf("minLength: got %v, want %v", p("length"), p("min_length"))
	case "string_too_long":
		return fmt.Sprintf("maxLength: got %v, want %v", p("length"), p("max_length"))
	case "value_below_minimum":
		return fmt.Sprintf("minimum: got %v, want %v", p("value"), p("minimum"))
	case "value_above_maximum":
		return fmt.Sprintf("maximum: got %v, want %v", p("value"), p("maximum"))
	case "exclusive_minimum_mismatch":
		return fmt.Sprintf("exclusiveMinimum: got %v, want more than %v", p("value"), p("exclusive_minimum"))
	case "exclusive_maximum_mismatch":
		return fmt.Sprintf("exclusiveMaximum: got %v, want less than %v", p("value"), p("exclusive_maximum"))
	case "items_too_short":
		return fmt.Sprintf("minItems: got %v, want %v", p("count"), p("min_items"))
	case "items_too_long":
		return fmt.Sprintf("maxItems: got %v, want %v", p("count"), p("max_items"))
	case "pattern_mismatch":
		return fmt.Sprintf("does not match pattern %v", p("pattern"))
	case "format_mismatch":
		return fmt.Sprintf("is not a valid %v", p("format"))
	case "false_schema_mismatch":
		return "not allowed"
	}
	msg := e.Error()
	if msg != "" {
		msg = strings.ToLower(msg[:1]) + msg[1:]
	}
	return e.Keyword + ": " + msg
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
