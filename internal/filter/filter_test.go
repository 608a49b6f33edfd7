package filter

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/envelope"
)

func TestRaw(t *testing.T) {
	hs := []*sarama.RecordHeader{{Key: []byte("env"), Value: []byte("prod")}, {Key: []byte("trace"), Value: nil}}
	for _, tc := range []struct {
		greps []string
		want  bool
	}{
		{nil, true},
		{[]string{"k:^id-"}, true},
		{[]string{"!k:^id-"}, false},
		{[]string{"v:paid"}, true},
		{[]string{"v:paid", "v:refund"}, false},
		{[]string{"t:^orders$"}, true},
		{[]string{"hk:^trace$"}, true},
		{[]string{"hv:^prod$"}, true},
		{[]string{"h:env=^prod$"}, true},
		{[]string{"h:env=^dev$"}, false},
		{[]string{"h:trace=^$"}, true}, // a null value matches as empty bytes
		{[]string{"!h:missing=.*"}, true},
	} {
		f, err := New(tc.greps, nil, nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.greps, err)
		}
		if got := f.Raw("orders", []byte("id-1"), []byte(`{"status":"paid"}`), hs); got != tc.want {
			t.Errorf("%q: got %v, want %v", tc.greps, got, tc.want)
		}
	}
}

func TestDecoded(t *testing.T) {
	rec := &envelope.Record{Topic: "orders", Partition: 2, Offset: 7, Timestamp: 1000, HasTimestamp: true,
		Key: []byte("k"), Value: []byte(`{"amount":12,"tags":["a"]}`), ValueJSON: true,
		Headers: []envelope.Header{{Key: "h", Value: []byte("one")}, {Key: "h", Value: []byte("two")}, {Key: "n"}}}
	env := map[string]string{"WANT": "12"}
	for _, tc := range []struct {
		where   string
		want    bool
		wantErr bool
	}{
		{`.value.amount > 10`, true, false},
		{`.value.missing.deeper`, false, false},
		{`.partition == 2 and .offset == 7 and .topic == "orders"`, true, false},
		{`header("h") == "one"`, true, false},
		{`header("n") == null and header("none") == null`, true, false},
		{`.value.amount == ($ENV.WANT | tonumber)`, true, false},
		{`env.WANT == "12"`, true, false},
		{`.value.tags[0]`, true, false},
		{`empty`, false, false},
		{`0`, true, false}, // jq's truth: only false and null fail
		{`.value.tags.x`, false, true},
	} {
		f, err := New(nil, []string{tc.where}, env)
		if err != nil {
			t.Fatalf("%s: %v", tc.where, err)
		}
		got, err := f.Decoded(rec)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: got %v, %v; want %v, error %v", tc.where, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct{ greps, wheres []string }{
		{[]string{"v"}, nil},
		{[]string{"z:x"}, nil},
		{[]string{"h:x"}, nil},
		{[]string{"v:[", ""}, nil},
		{nil, []string{".a |"}},
		{nil, []string{"nosuch(1)"}},
		{nil, []string{"$undefined"}},
	} {
		_, err := New(tc.greps, tc.wheres, nil)
		var pe *PatternError
		if !errors.As(err, &pe) {
			t.Errorf("%q %q: err %v, want a PatternError", tc.greps, tc.wheres, err)
		}
	}
}

// TestDocumentIsTheJSONEnvelope checks that --where sees exactly what -J
// prints, for every kind of key, value and header.
func TestDocumentIsTheJSONEnvelope(t *testing.T) {
	for _, rec := range []*envelope.Record{
		{Topic: "t", Partition: 0, Offset: 0, Key: nil, Value: nil},
		{Topic: "t", Partition: 3, Offset: 9, Timestamp: 1714564800123, HasTimestamp: true, Key: []byte(""), Value: []byte("")},
		{Topic: "t", Partition: 1, Offset: 2, Key: []byte{0xff, 0x00}, Value: []byte("text\nwith lines")},
		{Topic: "t", Partition: 1, Offset: 2, Key: []byte(`{"k":1}`), KeyJSON: true, Value: []byte("{\"a\":[1,\n2,{\"b\":null}]}"), ValueJSON: true},
		{Topic: "t", Partition: 1, Offset: 2, Value: []byte("not json"), ValueJSON: true},
		{Topic: "t", Partition: 1, Offset: 2, Value: []byte{0x80}, ValueJSON: true, Headers: []envelope.Header{
			{Key: "a", Value: []byte("1")}, {Key: "a", Value: nil}, {Key: "bin", Value: []byte{0xfe}}, {Key: "", Value: []byte("")},
		}},
	} {
		var want map[string]any
		if err := json.Unmarshal(envelope.Append(nil, rec), &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, Document(rec)); diff != "" {
			t.Errorf("%+v (-J +Document):\n%s", rec, diff)
		}
	}
}

// The document's maps are reused from message to message: nothing of one
// message shows in the next.
func TestDecodedForgetsTheLastMessage(t *testing.T) {
	f, err := New(nil, []string{`.value.a == null and .key == null and (.headers | length) == 0`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := &envelope.Record{Topic: "t", Key: []byte("k"), Value: []byte(`{"a":1}`), ValueJSON: true,
		Headers: []envelope.Header{{Key: "h", Value: []byte("v")}}}
	second := &envelope.Record{Topic: "t", Value: []byte(`{"b":2}`), ValueJSON: true}
	for i, tc := range []struct {
		rec  *envelope.Record
		want bool
	}{{first, false}, {second, true}, {first, false}} {
		if got, err := f.Decoded(tc.rec); got != tc.want || err != nil {
			t.Errorf("message %d: got %v, %v, want %v", i, got, err, tc.want)
		}
	}
}
