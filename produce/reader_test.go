package produce

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
)

// readAll reads every record of input in format f, one byte per Read so
// that delimiters straddle reads, and renders each record (or error) on a
// line for comparison.
func readAll(t *testing.T, input string, f *Format) []string {
	t.Helper()
	r := NewReader(iotest.OneByteReader(strings.NewReader(input)), "", f)
	var got []string
	for i := 0; i < 1000; i++ {
		rec, err := r.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("Next: %v", err)
			}
			got = append(got, err.Error())
			continue
		}
		got = append(got, render(rec))
	}
	t.Fatal("no end after 1000 records")
	return nil
}

func show(b []byte) string {
	if b == nil {
		return "null"
	}
	return fmt.Sprintf("%q", b)
}

func render(r Record) string {
	s := fmt.Sprintf("%d: key=%s value=%s", r.Line, show(r.Key), show(r.Value))
	for _, h := range r.Headers {
		s += fmt.Sprintf(" h[%s]=%s", h.Key, show(h.Value))
	}
	if r.Partition >= 0 {
		s += fmt.Sprintf(" p=%d", r.Partition)
	}
	if !r.Timestamp.IsZero() {
		s += fmt.Sprintf(" ts=%d", r.Timestamp.UnixMilli())
	}
	return s
}

// upper is a stand-in codec that refuses "bad".
type upper struct{}

func (upper) Encode(b []byte) ([]byte, error) {
	if string(b) == "bad" {
		return nil, errors.New("bad text")
	}
	return bytes.ToUpper(b), nil
}

func TestReader(t *testing.T) {
	hs := []sarama.RecordHeader{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("2")}}
	cases := []struct {
		name  string
		input string
		f     Format
		want  []string
	}{
		{"lines", "a\nb\n", Format{}, []string{`1: key=null value="a"`, `2: key=null value="b"`}},
		{"last line without delimiter", "a\nb", Format{}, []string{`1: key=null value="a"`, `2: key=null value="b"`}},
		{"empty input", "", Format{}, nil},
		{"empty lines are empty messages", "\n\nx\n", Format{},
			[]string{`1: key=null value=""`, `2: key=null value=""`, `3: key=null value="x"`}},
		{"carriage returns are kept", "a\r\n", Format{}, []string{`1: key=null value="a\r"`}},
		{"tombstone", "\nx\n", Format{Tombstone: true}, []string{`1: key=null value=null`, `2: key=null value="x"`}},
		{"multi-byte delimiter", "a||b|c||||d", Format{Delimiter: []byte("||")},
			[]string{`1: key=null value="a"`, `2: key=null value="b|c"`, `3: key=null value=""`, `4: key=null value="d"`}},
		{"NUL delimiter", "a\x00b\nc\x00", Format{Delimiter: []byte{0}},
			[]string{`1: key=null value="a"`, `2: key=null value="b\nc"`}},
		{"delimiter prefix at the end", "ab|", Format{Delimiter: []byte("||")}, []string{`1: key=null value="ab|"`}},
		{"key delimiter", "k:v:w\nnokey\n:v\nk:\n", Format{KeyDelimiter: []byte(":")},
			[]string{`1: key="k" value="v:w"`, `2: key=null value="nokey"`, `3: key="" value="v"`, `4: key="k" value=""`}},
		{"key delimiter with tombstone", ":v\nk:\n", Format{KeyDelimiter: []byte(":"), Tombstone: true},
			[]string{`1: key=null value="v"`, `2: key="k" value=null`}},
		{"multi-byte key delimiter", "k::v\n", Format{KeyDelimiter: []byte("::")}, []string{`1: key="k" value="v"`}},
		{"fixed key", "a\n", Format{Key: []byte("k")}, []string{`1: key="k" value="a"`}},
		{"empty fixed key is not null", "a\n", Format{Key: []byte{}}, []string{`1: key="" value="a"`}},
		{"headers in order", "a\n", Format{Headers: hs}, []string{`1: key=null value="a" h[a]="1" h[a]="2"`}},
		{"encoders", "k:v\nk:bad\nbad:v\nx\n", Format{KeyDelimiter: []byte(":"), KeyEncoder: upper{}, ValueEncoder: upper{}},
			[]string{`1: key="K" value="V"`, `line 2: value: bad text`, `line 3: key: bad text`, `4: key=null value="X"`}},
		{"value meta runs before the encoder", "v\n", Format{
			ValueMeta:    func(b []byte) ([]byte, error) { return append(b, "+meta"...), nil },
			ValueEncoder: upper{}},
			[]string{`1: key=null value="V+META"`}},
		{"too large", "short\n" + strings.Repeat("x", 200) + "\nok\n", Format{MaxBytes: 150},
			[]string{`1: key=null value="short"`, `line 2: message of 282 bytes exceeds the topic's max.message.bytes (150)`, `3: key=null value="ok"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := readAll(t, c.input, &c.f)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReaderEnvelope(t *testing.T) {
	hs := []sarama.RecordHeader{{Key: []byte("x"), Value: []byte("y")}}
	cases := []struct {
		name  string
		input string
		f     Format
		want  []string
	}{
		{"full", `{"topic":"a","partition":2,"offset":9,"timestamp":1700000000000,"key":"k","value":{"a":1},"value_encoding":"json","headers":[{"key":"h","value":"v"},{"key":"n","value":null}]}`,
			Format{Envelope: true},
			[]string{`1: key="k" value="{\"a\":1}" h[h]="v" h[n]=null p=2 ts=1700000000000`}},
		{"nulls and base64", `{"key":null,"value":"AAE=","value_encoding":"base64"}`, Format{Envelope: true},
			[]string{`1: key=null value="\x00\x01"`}},
		{"fields left out are null", `{"value":null}`, Format{Envelope: true}, []string{`1: key=null value=null`}},
		{"value left out", "{\"value\":\"a\"}\n{\"key\":\"k\"}\n{\"key\":\"k\",\"valeu\":\"x\"}\n", Format{Envelope: true},
			[]string{`1: key=null value="a"`, `line 2: field "value" is missing (a null value, a tombstone, is written "value":null)`,
				`line 3: unknown field "valeu" (an envelope has topic, partition, offset, timestamp, key, key_encoding, key_schema_id, value, value_encoding, value_schema_id, headers)`}},
		{"negative partition", `{"partition":-5,"value":"a"}`, Format{Envelope: true, Partitions: 3},
			[]string{`line 1: field "partition": want an integer from 0 to 2147483647, got -5`}},
		{"blank lines are skipped", "\n{\"value\":\"a\"}\n  \n{\"value\":\"b\"}", Format{Envelope: true},
			[]string{`2: key=null value="a"`, `4: key=null value="b"`}},
		{"malformed", "{\"value\":\"a\"}\nnot json\n{\"value\":\"b\"}\n", Format{Envelope: true},
			[]string{`1: key=null value="a"`, `line 2: invalid envelope: invalid character 'o' in literal null (expecting 'u')`, `3: key=null value="b"`}},
		{"wrong type", `{"partition":"x"}`, Format{Envelope: true},
			[]string{`line 1: field "partition": want an integer of 0 or more, got a string`}},
		{"partition out of range", `{"partition":3,"value":"a"}`, Format{Envelope: true, Partitions: 3},
			[]string{`line 1: partition 3 does not exist (the topic has partitions 0-2)`}},
		{"partition ignored", `{"partition":3,"value":"a"}`, Format{Envelope: true, Partitions: 3, IgnorePartition: true},
			[]string{`1: key=null value="a"`}},
		{"flag headers after the envelope's", `{"value":"a","headers":[{"key":"h","value":"v"}]}`, Format{Envelope: true, Headers: hs},
			[]string{`1: key=null value="a" h[h]="v" h[x]="y"`}},
		{"tombstone on an empty value", `{"value":""}`, Format{Envelope: true, Tombstone: true}, []string{`1: key=null value=null`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := readAll(t, c.input, &c.f)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReaderLongLines reads lines far beyond bufio.Scanner's 64 KiB, and
// skips (without holding in memory) one beyond the reader's limit.
func TestReaderLongLines(t *testing.T) {
	big := strings.Repeat("x", 2<<20)
	r := NewReader(strings.NewReader("a\n"+big+"\nb"), "", &Format{})
	for i, want := range []string{"a", big, "b"} {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		if string(rec.Value) != want {
			t.Fatalf("record %d: %d bytes, want %d", i+1, len(rec.Value), len(want))
		}
	}
	huge := strings.Repeat("y", 3<<20)
	r = NewReader(strings.NewReader("a\n"+huge+"\nb"), "in.txt", &Format{MaxBytes: 100 << 10})
	var got []string
	largest := 0 // the largest block read into
	for {
		rec, err := r.Next()
		largest = max(largest, cap(r.split.buf))
		if err == io.EOF {
			break
		}
		if err != nil {
			got = append(got, err.Error())
			continue
		}
		got = append(got, string(rec.Value))
	}
	want := []string{"a", "line 2 of in.txt: message of 3145728 bytes exceeds the topic's max.message.bytes (102400)", "b"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if largest > 2*(8*(100<<10)+64<<10)+initialBuffer {
		t.Errorf("buffer grew to %d bytes for a line over the limit", largest)
	}
}

// TestReaderKeepsRecords checks that records stay intact after later reads
// reuse the buffer.
func TestReaderKeepsRecords(t *testing.T) {
	var in strings.Builder
	var want []string
	for i := 0; i < 20000; i++ {
		s := fmt.Sprintf("line-%d-%s", i, strings.Repeat("z", i%300))
		want = append(want, s)
		in.WriteString(s + "\n")
	}
	r := NewReader(strings.NewReader(in.String()), "", &Format{})
	var got []string
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(rec.Value))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestParseDelimiter(t *testing.T) {
	cases := []struct {
		in, want, err string
	}{
		{`\n`, "\n", ""},
		{`\t`, "\t", ""},
		{`\r\n`, "\r\n", ""},
		{`\0`, "\x00", ""},
		{`\x1e`, "\x1e", ""},
		{`\xFF\x00`, "\xff\x00", ""},
		{`--`, "--", ""},
		{`a\\b`, `a\b`, ""},
		{``, "", "empty delimiter"},
		{`\`, "", `trailing backslash (write \\ for a backslash)`},
		{`\x1`, "", `\x needs two hex digits`},
		{`\xzz`, "", `\xzz: want two hex digits`},
		{`\q`, "", `unknown escape \q (known: \n \r \t \0 \\ \xHH)`},
	}
	for _, c := range cases {
		got, err := ParseDelimiter(c.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if string(got) != c.want || gotErr != c.err {
			t.Errorf("ParseDelimiter(%q) = %q, %q; want %q, %q", c.in, got, gotErr, c.want, c.err)
		}
	}
}
