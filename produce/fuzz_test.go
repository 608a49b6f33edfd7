package produce

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/envelope"
)

// FuzzLineReader checks the reader against bytes.Split for any input and
// delimiter, with reads cut at arbitrary places.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("a\nb\n"), []byte("\n"), uint8(0))
	f.Add([]byte("a||b|c||"), []byte("||"), uint8(1))
	f.Add([]byte("aaa"), []byte("aa"), uint8(2))
	f.Add([]byte("x\x00\x00y"), []byte{0}, uint8(3))
	f.Fuzz(func(t *testing.T, data, delim []byte, mode uint8) {
		if len(delim) == 0 {
			delim = []byte("\n")
		}
		want := bytes.Split(data, delim)
		if len(want[len(want)-1]) == 0 {
			want = want[:len(want)-1] // a final delimiter ends the last record
		}
		var r io.Reader = bytes.NewReader(data)
		switch mode % 3 {
		case 1:
			r = iotest.OneByteReader(r)
		case 2:
			r = iotest.HalfReader(r)
		}
		rd := NewReader(r, "", &Format{Delimiter: delim})
		var got [][]byte
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Line != len(got)+1 {
				t.Fatalf("record %d has line %d", len(got)+1, rec.Line)
			}
			got = append(got, rec.Value)
		}
		if len(got) != len(want) {
			t.Fatalf("%d records, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) || got[i] == nil {
				t.Fatalf("record %d: %q, want %q", i+1, got[i], want[i])
			}
		}
	})
}

// FuzzEnvelopeLine reads arbitrary envelope lines: no panics, and what
// reads as a record writes back (envelope.Append) and reads again the same.
func FuzzEnvelopeLine(f *testing.F) {
	f.Add(`{"topic":"t","partition":0,"offset":1,"timestamp":1700000000000,"key":"k","value":{"a":1},"value_encoding":"json","headers":[{"key":"h","value":"v"}]}`)
	f.Add(`{"key":null,"value":"AAE=","value_encoding":"base64","headers":[{"key":"n","value":null}]}`)
	f.Add(`{"value":"x","key_encoding":"nope"}`)
	f.Add(`{"partition":-5}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, line string) {
		format := &Format{Envelope: true, Partitions: 4}
		rd := NewReader(strings.NewReader(line), "", format)
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				return
			}
			var le *LineError
			if errors.As(err, &le) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Partition >= 4 || rec.Partition < -1 {
				t.Fatalf("partition %d passed the check", rec.Partition)
			}
			env := envelope.Record{Partition: rec.Partition, Key: rec.Key, Value: rec.Value}
			if rec.Timestamp.IsZero() {
				rec.Timestamp = time.UnixMilli(0) // Append always writes one
			}
			env.Timestamp = rec.Timestamp.UnixMilli()
			for _, h := range rec.Headers {
				env.Headers = append(env.Headers, envelope.Header{Key: string(h.Key), Value: h.Value})
			}
			again, err := NewReader(bytes.NewReader(envelope.Append(nil, &env)), "", format).Next()
			if err != nil {
				t.Fatalf("written back as %s: %v", envelope.Append(nil, &env), err)
			}
			again.Line = rec.Line
			if diff := cmp.Diff(rec, again); diff != "" {
				t.Fatalf("round trip (-first +again):\n%s", diff)
			}
		}
	})
}

// BenchmarkReadLines reads 100-byte lines, the benchmark issue's input.
func BenchmarkReadLines(b *testing.B) {
	line := strings.Repeat("x", 99) + "\n"
	data := []byte(strings.Repeat(line, 100000))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rd := NewReader(bytes.NewReader(data), "", &Format{MaxBytes: 1 << 20})
		n := 0
		for {
			_, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100000 {
			b.Fatalf("%d records", n)
		}
	}
	b.ReportMetric(float64(b.N)*100000/b.Elapsed().Seconds(), "lines/s")
}
