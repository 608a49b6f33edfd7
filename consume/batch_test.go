package consume

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/snappy/xerial"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// testRecord is one record of a testBatch.
type testRecord struct {
	offDelta, tsDelta int64
	key, value        []byte
	headers           []sarama.RecordHeader
}

// testBatch is a record batch (magic 2) as a test writes it.
type testBatch struct {
	base           int64
	firstTS, maxTS int64
	attrs          uint16
	producer       int64
	// lastDelta, when not zero, is the batch's last offset delta (else
	// that of its last record): compaction leaves gaps.
	lastDelta int32
	// codec compresses the records: "gzip", "snappy" (xerial-framed),
	// "snappy-raw", "lz4", "zstd" or "" (none).
	codec   string
	records []testRecord
	// count, when not zero, is the record count written in place of
	// len(records).
	count int32
}

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	return append(binary.AppendVarint(b, int64(len(v))), v...)
}

func (tb testBatch) encode(t testing.TB) []byte {
	t.Helper()
	var recs []byte
	for _, r := range tb.records {
		var body []byte
		body = append(body, 0)
		body = binary.AppendVarint(body, r.tsDelta)
		body = binary.AppendVarint(body, r.offDelta)
		body = appendBytes(body, r.key)
		body = appendBytes(body, r.value)
		body = binary.AppendVarint(body, int64(len(r.headers)))
		for _, h := range r.headers {
			body = appendBytes(body, h.Key)
			body = appendBytes(body, h.Value)
		}
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	attrs := tb.attrs
	switch tb.codec {
	case "":
	case "gzip":
		attrs |= 1
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		zw.Write(recs)
		zw.Close()
		recs = out.Bytes()
	case "snappy":
		attrs |= 2
		recs = xerial.Encode(nil, recs)
	case "snappy-raw":
		attrs |= 2
		recs = snappy.Encode(nil, recs)
	case "lz4":
		attrs |= 3
		var out bytes.Buffer
		zw := lz4.NewWriter(&out)
		zw.Write(recs)
		zw.Close()
		recs = out.Bytes()
	case "zstd":
		attrs |= 4
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = enc.EncodeAll(recs, nil)
		enc.Close()
	default:
		t.Fatalf("no codec %q", tb.codec)
	}
	last := tb.lastDelta
	if last == 0 && len(tb.records) > 0 {
		last = int32(tb.records[len(tb.records)-1].offDelta)
	}
	count := tb.count
	if count == 0 {
		count = int32(len(tb.records))
	}
	b := binary.BigEndian.AppendUint64(nil, uint64(tb.base))
	b = binary.BigEndian.AppendUint32(b, 0) // length, below
	b = binary.BigEndian.AppendUint32(b, 0) // leader epoch
	b = append(b, 2)
	b = binary.BigEndian.AppendUint32(b, 0) // crc, below
	b = binary.BigEndian.AppendUint16(b, attrs)
	b = binary.BigEndian.AppendUint32(b, uint32(last))
	b = binary.BigEndian.AppendUint64(b, uint64(tb.firstTS))
	b = binary.BigEndian.AppendUint64(b, uint64(tb.maxTS))
	b = binary.BigEndian.AppendUint64(b, uint64(tb.producer))
	b = binary.BigEndian.AppendUint16(b, 0) // producer epoch
	b = binary.BigEndian.AppendUint32(b, 0) // base sequence
	b = binary.BigEndian.AppendUint32(b, uint32(count))
	b = append(b, recs...)
	fixBatch(b)
	return b
}

// fixBatch sets a batch's length and checksum from its bytes.
func fixBatch(b []byte) {
	binary.BigEndian.PutUint32(b[batchLengthAt:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[batchCRCAt:], crc32.Checksum(b[batchAttrsAt:], crc32.MakeTable(crc32.Castagnoli)))
}

// gotMessage is a message as a test compares it.
type gotMessage struct {
	Offset    int64
	Timestamp int64
	HasTS     bool
	Key       []byte
	Value     []byte
	Headers   []sarama.RecordHeader
}

func gotMessages(msgs []message) []gotMessage {
	var out []gotMessage
	for _, m := range msgs {
		g := gotMessage{Offset: m.offset, Timestamp: m.timestamp, HasTS: m.hasTS, Key: m.key, Value: m.value}
		for _, h := range m.headers {
			g.Headers = append(g.Headers, *h)
		}
		out = append(out, g)
	}
	return out
}

var testTP = TopicPartition{"t", 3}

func walkAll(t *testing.T, data []byte, start int64, aborted []abortedTxn, iso sarama.IsolationLevel) ([]gotMessage, int64, error) {
	t.Helper()
	buf := &fetchBuf{}
	next, err := walkBatches(testTP, data, start, aborted, iso, buf)
	return gotMessages(buf.msgs), next, err
}

func TestWalkBatchesRecords(t *testing.T) {
	recs := []testRecord{
		{offDelta: 0, tsDelta: 0, key: []byte("k0"), value: []byte("v0")},
		{offDelta: 1, tsDelta: 5, key: nil, value: []byte("v1"), headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte("x")}, {Key: []byte("n"), Value: nil}}},
		{offDelta: 2, tsDelta: 7, key: []byte{}, value: nil},
	}
	want := []gotMessage{
		{Offset: 100, Timestamp: 1000, HasTS: true, Key: []byte("k0"), Value: []byte("v0")},
		{Offset: 101, Timestamp: 1005, HasTS: true, Value: []byte("v1"), Headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte("x")}, {Key: []byte("n")}}},
		{Offset: 102, Timestamp: 1007, HasTS: true, Key: []byte{}},
	}
	for _, codec := range []string{"", "gzip", "snappy", "snappy-raw", "lz4", "zstd"} {
		t.Run("codec="+codec, func(t *testing.T) {
			data := testBatch{base: 100, firstTS: 1000, maxTS: 1007, codec: codec, records: recs}.encode(t)
			// A second batch after it, so that decompressed bytes of
			// the first must stay where they are.
			data = append(data, testBatch{base: 103, firstTS: 2000, maxTS: 2000, codec: codec, records: []testRecord{{value: []byte("v3")}}}.encode(t)...)
			got, next, err := walkAll(t, data, 100, nil, sarama.ReadCommitted)
			if err != nil {
				t.Fatal(err)
			}
			want := append(want[:3:3], gotMessage{Offset: 103, Timestamp: 2000, HasTS: true, Value: []byte("v3")})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if next != 104 {
				t.Errorf("next = %d, want 104", next)
			}
		})
	}
}

func TestWalkBatchesTimestamps(t *testing.T) {
	recs := []testRecord{{offDelta: 0, tsDelta: 3, value: []byte("a")}, {offDelta: 1, tsDelta: 9, value: []byte("b")}}
	data := testBatch{firstTS: 1000, maxTS: 5000, attrs: attrLogAppendTime, records: recs}.encode(t)
	got, _, err := walkAll(t, data, 0, nil, sarama.ReadCommitted)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range got {
		if m.Timestamp != 5000 || !m.HasTS {
			t.Errorf("offset %d: timestamp %d (%v), want the log append time 5000", m.Offset, m.Timestamp, m.HasTS)
		}
	}
	// No timestamp (-1): none shown.
	data = testBatch{firstTS: -1, maxTS: -1, records: recs[:1]}.encode(t)
	got, _, err = walkAll(t, data, 0, nil, sarama.ReadCommitted)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].HasTS || got[0].Timestamp != -1 {
		t.Errorf("got %+v, want one message without a timestamp (-1)", got)
	}
}

func TestWalkBatchesStartInside(t *testing.T) {
	var recs []testRecord
	for i := int64(0); i < 5; i++ {
		recs = append(recs, testRecord{offDelta: i, value: []byte(fmt.Sprint(i))})
	}
	data := testBatch{base: 10, codec: "zstd", records: recs}.encode(t)
	got, next, err := walkAll(t, data, 12, nil, sarama.ReadCommitted)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Offset != 12 || got[2].Offset != 14 || next != 15 {
		t.Fatalf("got %+v next %d, want offsets 12-14, next 15", got, next)
	}
	// A batch wholly before the start: skipped, and the position is the
	// start.
	got, next, err = walkAll(t, data, 20, nil, sarama.ReadCommitted)
	if err != nil || len(got) != 0 || next != 20 {
		t.Fatalf("got %+v next %d err %v, want nothing, next 20", got, next, err)
	}
	// A compacted gap at the end of a batch: the position is past it.
	data = testBatch{base: 10, lastDelta: 9, records: recs[:2]}.encode(t)
	got, next, err = walkAll(t, data, 10, nil, sarama.ReadCommitted)
	if err != nil || len(got) != 2 || next != 20 {
		t.Fatalf("got %+v next %d err %v, want 2 messages, next 20", got, next, err)
	}
}

func TestWalkBatchesPartialTrailingBatch(t *testing.T) {
	one := testBatch{base: 0, records: []testRecord{{value: []byte("a")}}}.encode(t)
	two := testBatch{base: 1, records: []testRecord{{value: bytes.Repeat([]byte("b"), 100)}}}.encode(t)
	for _, cut := range []int{1, 12, batchHeaderLength, len(two) - 1} {
		data := append(bytes.Clone(one), two[:cut]...)
		got, next, err := walkAll(t, data, 0, nil, sarama.ReadCommitted)
		if err != nil || len(got) != 1 || next != 1 {
			t.Errorf("cut at %d: got %+v next %d err %v, want the first message, next 1", cut, got, next, err)
		}
	}
}

func TestWalkBatchesCorrupt(t *testing.T) {
	one := testBatch{base: 0, records: []testRecord{{value: []byte("a")}}}.encode(t)
	two := testBatch{base: 1, records: []testRecord{{value: []byte("bb")}}}.encode(t)
	for _, tc := range []struct {
		name   string
		mangle func(b []byte) []byte
		reason string
	}{
		{"checksum", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, "checksum"},
		{"magic", func(b []byte) []byte { b[batchMagicAt] = 3; return b }, "magic 3"},
		{"count", func(b []byte) []byte { binary.BigEndian.PutUint32(b[batchCountAt:], 2); fixBatch(b); return b }, "records in"},
		{"record cut short", func(b []byte) []byte { b = b[:len(b)-1]; fixBatch(b); return b }, "cut short"},
		{"trailing bytes", func(b []byte) []byte { b = append(b, 0, 0, 0, 0, 0, 0, 0, 0); fixBatch(b); return b }, "bytes after"},
		{"compression", func(b []byte) []byte { b[batchAttrsAt+1] |= 1; fixBatch(b); return b }, "decompressing"},
		{"unknown compression", func(b []byte) []byte { b[batchAttrsAt+1] |= 7; fixBatch(b); return b }, "unknown compression 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := append(bytes.Clone(one), tc.mangle(bytes.Clone(two))...)
			got, next, err := walkAll(t, data, 0, nil, sarama.ReadCommitted)
			var ce *CorruptBatchError
			if !errors.As(err, &ce) || ce.Topic != "t" || ce.Partition != 3 || ce.Offset != 1 {
				t.Fatalf("err = %v, want a corrupt batch at t/3 offset 1", err)
			}
			if !bytes.Contains([]byte(ce.Reason), []byte(tc.reason)) {
				t.Errorf("reason %q, want it to say %q", ce.Reason, tc.reason)
			}
			if len(got) != 1 || next != 1 {
				t.Errorf("got %+v next %d, want the batch before it, next 1", got, next)
			}
		})
	}
}

func TestWalkBatchesTransactions(t *testing.T) {
	const aborter, committer = 7, 8
	marker := func(base int64, pid int64, kind uint16) []byte {
		key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), kind)
		return testBatch{base: base, producer: pid, attrs: attrTransactional | attrControl,
			records: []testRecord{{key: key, value: []byte{0, 0, 0, 0, 0, 0}}}}.encode(t)
	}
	txn := func(base int64, pid int64, codec string, n int) []byte {
		var recs []testRecord
		for i := 0; i < n; i++ {
			recs = append(recs, testRecord{offDelta: int64(i), value: []byte(fmt.Sprint(base + int64(i)))})
		}
		return testBatch{base: base, producer: pid, attrs: attrTransactional, codec: codec, records: recs}.encode(t)
	}
	var data []byte
	data = append(data, txn(0, aborter, "gzip", 3)...) // 0-2, aborted
	data = append(data, txn(3, committer, "", 2)...)   // 3-4, committed
	data = append(data, marker(5, aborter, 0)...)      // 5, abort
	data = append(data, marker(6, committer, 1)...)    // 6, commit
	data = append(data, txn(7, aborter, "lz4", 2)...)  // 7-8, committed later
	data = append(data, marker(9, aborter, 1)...)      // 9, commit
	data = append(data, testBatch{base: 10, records: []testRecord{{value: []byte("10")}}}.encode(t)...)
	aborted := []abortedTxn{{producerID: aborter, firstOffset: 0}}
	offsets := func(msgs []gotMessage) []int64 {
		var out []int64
		for _, m := range msgs {
			out = append(out, m.Offset)
			if string(m.Value) != fmt.Sprint(m.Offset) {
				t.Errorf("offset %d holds %q", m.Offset, m.Value)
			}
		}
		return out
	}
	got, next, err := walkAll(t, data, 0, aborted, sarama.ReadCommitted)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{3, 4, 7, 8, 10}, offsets(got)); diff != "" || next != 11 {
		t.Errorf("read_committed: next %d, offsets (-want +got):\n%s", next, diff)
	}
	got, next, err = walkAll(t, data, 0, aborted, sarama.ReadUncommitted)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{0, 1, 2, 3, 4, 7, 8, 10}, offsets(got)); diff != "" || next != 11 {
		t.Errorf("read_uncommitted: next %d, offsets (-want +got):\n%s", next, diff)
	}
	// Ending on a marker: the position is past it.
	got, next, err = walkAll(t, data[:len(data)-len(testBatch{base: 10, records: []testRecord{{value: []byte("10")}}}.encode(t))], 5, aborted, sarama.ReadCommitted)
	if err != nil || next != 10 {
		t.Errorf("next %d err %v, want 10, past the last marker", next, err)
	}
	if diff := cmp.Diff([]int64{7, 8}, offsets(got)); diff != "" {
		t.Errorf("from 5: offsets (-want +got):\n%s", diff)
	}
}

func TestHasLegacy(t *testing.T) {
	v2 := testBatch{records: []testRecord{{value: []byte("a")}}}.encode(t)
	legacy := legacyMessage(t, 1, 5, nil, []byte("old"))
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"v2", v2, false},
		{"legacy", legacy, true},
		{"v2 then legacy", append(bytes.Clone(v2), legacy...), true},
		{"empty", nil, false},
		{"cut short", v2[:20], false},
	} {
		if got := hasLegacy(tc.data); got != tc.want {
			t.Errorf("%s: hasLegacy = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// legacyMessage is one uncompressed message of magic 0 or 1 (a message set
// of the pre-0.11 format) at offset off.
func legacyMessage(t testing.TB, magic int8, off int64, key, value []byte) []byte {
	t.Helper()
	body := []byte{byte(magic), 0}
	if magic == 1 {
		body = binary.BigEndian.AppendUint64(body, 1700000000000)
	}
	legacyBytes := func(b, v []byte) []byte {
		if v == nil {
			return binary.BigEndian.AppendUint32(b, 0xffffffff)
		}
		return append(binary.BigEndian.AppendUint32(b, uint32(len(v))), v...)
	}
	body = legacyBytes(body, key)
	body = legacyBytes(body, value)
	msg := binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(body))
	msg = append(msg, body...)
	out := binary.BigEndian.AppendUint64(nil, uint64(off))
	out = binary.BigEndian.AppendUint32(out, uint32(len(msg)))
	return append(out, msg...)
}

// FuzzWalkBatches: no bytes make the parser panic or return records out of
// order. Half the inputs get their checksum fixed, so that the fuzzer gets
// past it into the records.
func FuzzWalkBatches(f *testing.F) {
	seeds := [][]byte{
		testBatch{base: 5, firstTS: 10, records: []testRecord{{key: []byte("k"), value: []byte("v"), headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte("v")}}}, {offDelta: 1, value: []byte("w")}}}.encode(f),
		testBatch{codec: "gzip", records: []testRecord{{value: []byte("g")}}}.encode(f),
		testBatch{codec: "snappy", records: []testRecord{{value: []byte("s")}}}.encode(f),
		testBatch{codec: "snappy-raw", records: []testRecord{{value: []byte("s")}}}.encode(f),
		testBatch{codec: "lz4", records: []testRecord{{value: []byte("l")}}}.encode(f),
		testBatch{codec: "zstd", records: []testRecord{{value: []byte("z")}}}.encode(f),
		testBatch{attrs: attrControl | attrTransactional, producer: 1, records: []testRecord{{key: []byte{0, 0, 0, 0}}}}.encode(f),
	}
	for _, s := range seeds {
		f.Add(s, false, int64(0))
		f.Add(s, true, int64(0))
	}
	defer func(was int) { maxInflated = was }(maxInflated)
	maxInflated = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte, fix bool, start int64) {
		if fix && len(data) >= batchHeaderLength {
			data = bytes.Clone(data)
			binary.BigEndian.PutUint32(data[batchCRCAt:], crc32.Checksum(data[batchAttrsAt:], castagnoli))
		}
		buf := &fetchBuf{}
		for _, iso := range []sarama.IsolationLevel{sarama.ReadCommitted, sarama.ReadUncommitted} {
			buf.reset()
			next, _ := walkBatches(testTP, data, start, []abortedTxn{{producerID: 1, firstOffset: 0}}, iso, buf)
			if next < start {
				t.Fatalf("next %d before start %d", next, start)
			}
			last := start - 1
			for _, m := range buf.msgs {
				if m.offset <= last || m.offset >= next {
					t.Fatalf("offset %d after %d, next %d", m.offset, last, next)
				}
				last = m.offset
			}
			_ = hasLegacy(data)
		}
	})
}
