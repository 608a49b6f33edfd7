package filter

import (
	"testing"

	"github.com/streamctl/streamctl/internal/envelope"
)

// benchRecord is one of the JSON records scripts/bench.sh's verbs cases
// filter, its value already checked as JSON.
func benchRecord() *envelope.Record {
	return &envelope.Record{Topic: "t", Partition: 1, Offset: 42, Timestamp: 1700000000000, HasTimestamp: true,
		Value:     []byte(`{"id":123456,"user":"user-123456","amount":"3456.56","at":"2024-05-01T12:17:36.000Z","ok":true,"note":null}`),
		ValueJSON: true, ValueValid: true}
}

func BenchmarkDecodedWhere(b *testing.B) {
	f, err := New(nil, []string{`.value.ok and .value.id >= 0`}, nil)
	if err != nil {
		b.Fatal(err)
	}
	rec := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := f.Decoded(rec); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkWhereRunOnly(b *testing.B) {
	f, _ := New(nil, []string{`.value.ok and .value.id >= 0`}, nil)
	rec := benchRecord()
	doc := Document(rec)
	for b.Loop() {
		it := f.wheres[0].code.Run(doc)
		it.Next()
	}
}

func BenchmarkDocument(b *testing.B) {
	rec := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		Document(rec)
	}
}

// BenchmarkDecodedWhereGojq is an expression outside the fast path: the
// document is built and gojq runs.
func BenchmarkDecodedWhereGojq(b *testing.B) {
	f, err := New(nil, []string{`.value.ok and (.value.id | . >= 0)`}, nil)
	if err != nil {
		b.Fatal(err)
	}
	rec := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := f.Decoded(rec); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkRawGrep is the --grep that scripts/bench.sh measures.
func BenchmarkRawGrep(b *testing.B) {
	f, err := New([]string{`v:"user":"user-[0-9]+"`}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	value := []byte(`{"id":123456,"user":"user-123456","amount":"3456.56","at":"2024-05-01T12:17:36.000Z","ok":true,"note":null}`)
	b.ReportAllocs()
	for b.Loop() {
		if !f.Raw("t", nil, value, nil) {
			b.Fatal("no match")
		}
	}
}
