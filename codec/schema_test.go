package codec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// fakeRegistry is an in-memory Registry: schemas by id, and subjects as
// lists of ids (version N is ids[N-1]).
type fakeRegistry struct {
	schemas  map[int]Schema
	subjects map[string][]int
	calls    int
}

var _ Registry = (*fakeRegistry)(nil)

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{schemas: map[int]Schema{}, subjects: map[string][]int{}}
}

func (f *fakeRegistry) add(subject string, s Schema) int {
	for id, have := range f.schemas {
		if have.Text == s.Text && have.Type == s.Type {
			f.subjects[subject] = append(f.subjects[subject], id)
			return id
		}
	}
	id := len(f.schemas) + 1
	f.schemas[id] = s
	f.subjects[subject] = append(f.subjects[subject], id)
	return id
}

func (f *fakeRegistry) SchemaByID(id int) (Schema, error) {
	f.calls++
	s, ok := f.schemas[id]
	if !ok {
		return Schema{}, fmt.Errorf("schema %d %w", id, ErrNotFound)
	}
	return s, nil
}

func (f *fakeRegistry) SchemaByVersion(subject string, version int) (SubjectSchema, error) {
	f.calls++
	ids := f.subjects[subject]
	if len(ids) == 0 {
		return SubjectSchema{}, fmt.Errorf("subject %q %w", subject, ErrNotFound)
	}
	if version == -1 {
		version = len(ids)
	}
	if version < 1 || version > len(ids) {
		return SubjectSchema{}, fmt.Errorf("version %d %w", version, ErrNotFound)
	}
	id := ids[version-1]
	return SubjectSchema{Subject: subject, Version: version, ID: id, Schema: f.schemas[id]}, nil
}

func (f *fakeRegistry) LookupSchema(subject string, s Schema) (SubjectSchema, error) {
	f.calls++
	for i, id := range f.subjects[subject] {
		if f.schemas[id].Text == s.Text {
			return SubjectSchema{Subject: subject, Version: i + 1, ID: id, Schema: s}, nil
		}
	}
	return SubjectSchema{}, fmt.Errorf("schema under %q %w", subject, ErrNotFound)
}

func (f *fakeRegistry) RegisterSchema(subject string, s Schema) (SubjectSchema, error) {
	if ss, err := f.LookupSchema(subject, s); err == nil {
		return ss, nil
	}
	id := f.add(subject, s)
	return SubjectSchema{Subject: subject, Version: len(f.subjects[subject]), ID: id, Schema: s}, nil
}

func TestHeader(t *testing.T) {
	b := AppendHeader(nil, 258)
	if got, want := fmt.Sprintf("%x", b), "0000000102"; got != want {
		t.Fatalf("AppendHeader(258) = %s, want %s", got, want)
	}
	id, rest, err := ParseHeader(append(b, 'x'))
	if err != nil || id != 258 || string(rest) != "x" {
		t.Fatalf("ParseHeader = %d, %q, %v; want 258, \"x\", nil", id, rest, err)
	}
	for _, tc := range []struct {
		in   string
		want string
	}{
		{`{"a":1}`, "no schema registry framing: first byte is 0x7b, not the magic byte 0x00"},
		{"\x00\x00\x01", "3 bytes, too short for the schema registry framing (magic byte and 4-byte schema id)"},
		{"x", "no schema registry framing: first byte is 0x78, not the magic byte 0x00"},
	} {
		_, _, err := ParseHeader([]byte(tc.in))
		var fe *FramingError
		if !errors.As(err, &fe) || err.Error() != tc.want {
			t.Errorf("ParseHeader(%q) = %v, want FramingError %q", tc.in, err, tc.want)
		}
	}
}

func TestSchemaCodecErrors(t *testing.T) {
	reg := newFakeRegistry()
	reg.add("other-value", Schema{Type: "XML", Text: "<x/>"})
	ch, err := ParseSchema("sr", &SchemaConfig{Registry: reg, Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		wire []byte
		want string
	}{
		{AppendHeader(nil, 42), "schema 42: not found in the schema registry"},
		{AppendHeader(nil, 1), "schema 1: XML schemas are not supported"},
		{[]byte("plain"), "no schema registry framing"},
	} {
		_, _, err := ch.DecodeID(tc.wire)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DecodeID(%x) = %v, want an error containing %q", tc.wire, err, tc.want)
		}
	}
	// An unknown id is asked for once, not once per message.
	calls := reg.calls
	_, _, _ = ch.DecodeID(AppendHeader(nil, 42))
	if reg.calls != calls {
		t.Errorf("the registry was asked %d more times for a known-missing id, want 0", reg.calls-calls)
	}
	if err := ch.Prepare(); err == nil || !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `subject "t-value"`) {
		t.Errorf("Prepare() = %v, want subject \"t-value\" not found", err)
	}
	if _, err := ParseSchema("json|avro", nil); err == nil || !strings.Contains(err.Error(), "comes first") {
		t.Errorf("ParseSchema(json|avro) = %v, want an error saying avro comes first", err)
	}
	noreg, _ := Parse("avro")
	if _, err := noreg.Decode(AppendHeader(nil, 1)); !errors.Is(err, ErrNoRegistry) {
		t.Errorf("Decode without a registry = %v, want ErrNoRegistry", err)
	}
}
