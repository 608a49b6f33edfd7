package produce

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
	snappy "github.com/klauspost/compress/snappy/xerial"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// testRecord is a record as written and as read back.
type testRecord struct {
	Key, Value []byte
	Headers    []sarama.RecordHeader
	Ms         int64
}

var codecs = []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP,
	sarama.CompressionSnappy, sarama.CompressionLZ4, sarama.CompressionZSTD}

// encodeBatch writes recs as the Batcher does: records after room for the
// header, then compressed, then the header.
func encodeBatch(t testing.TB, recs []testRecord, f batchFields) []byte {
	t.Helper()
	buf := make([]byte, rbHeaderLen)
	for i, r := range recs {
		if i == 0 {
			f.firstMs, f.maxMs = r.Ms, r.Ms
		}
		f.maxMs = max(f.maxMs, r.Ms)
		body := recordBody(r.Ms-f.firstMs, i, r.Key, r.Value, r.Headers)
		n := len(buf)
		buf = appendRecord(buf, body, r.Ms-f.firstMs, i, r.Key, r.Value, r.Headers)
		if got, want := len(buf)-n, recordLen(body); got != want {
			t.Fatalf("record %d: %d bytes written, %d computed", i, got, want)
		}
	}
	f.count = len(recs)
	if f.codec != sarama.CompressionNone {
		out, err := compressRecords(make([]byte, rbHeaderLen), f.codec, buf[rbHeaderLen:])
		if err != nil {
			t.Fatal(err)
		}
		buf = out
	}
	writeBatchHeader(buf, f)
	return buf
}

// decodeBatch reads a batch with kmsg, checking its length and CRC, and
// returns its records.
func decodeBatch(t testing.TB, b []byte) (kmsg.RecordBatch, []testRecord) {
	t.Helper()
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		t.Fatalf("kmsg reads the batch: %v", err)
	}
	if got, want := int(rb.Length), len(b)-12; got != want {
		t.Errorf("length %d, want %d", got, want)
	}
	if got, want := uint32(rb.CRC), crc32.Checksum(b[rbAttrsAt:], crc32.MakeTable(crc32.Castagnoli)); got != want {
		t.Errorf("crc %x, want %x", got, want)
	}
	if rb.Magic != 2 {
		t.Errorf("magic %d, want 2", rb.Magic)
	}
	raw := rb.Records
	var err error
	switch sarama.CompressionCodec(rb.Attributes & 7) {
	case sarama.CompressionNone:
	case sarama.CompressionGZIP:
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(raw)); err == nil {
			raw, err = io.ReadAll(zr)
		}
	case sarama.CompressionSnappy:
		raw, err = snappy.Decode(raw)
	case sarama.CompressionLZ4:
		raw, err = io.ReadAll(lz4.NewReader(bytes.NewReader(raw)))
	case sarama.CompressionZSTD:
		var d *zstd.Decoder
		if d, err = zstd.NewReader(nil); err == nil {
			raw, err = d.DecodeAll(raw, nil)
			d.Close()
		}
	}
	if err != nil {
		t.Fatalf("decompressing: %v", err)
	}
	var recs []testRecord
	for i := 0; len(raw) > 0; i++ {
		l, n := binary.Varint(raw)
		if n <= 0 || int(l)+n > len(raw) {
			t.Fatalf("record %d: bad length", i)
		}
		var r kmsg.Record
		if err := r.ReadFrom(raw[:n+int(l)]); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		raw = raw[n+int(l):]
		if int(r.OffsetDelta) != i {
			t.Errorf("record %d: offset delta %d", i, r.OffsetDelta)
		}
		tr := testRecord{Key: r.Key, Value: r.Value, Ms: rb.FirstTimestamp + r.TimestampDelta64}
		for _, h := range r.Headers {
			tr.Headers = append(tr.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		recs = append(recs, tr)
	}
	if int(rb.NumRecords) != len(recs) || int(rb.LastOffsetDelta) != len(recs)-1 {
		t.Errorf("count %d, last offset delta %d, with %d records", rb.NumRecords, rb.LastOffsetDelta, len(recs))
	}
	return rb, recs
}

// randomRecords are n records with keys, values and header values that
// are null, empty or random, and timestamps that may go back.
func randomRecords(r *rand.Rand, n int) []testRecord {
	bytesOf := func() []byte {
		switch r.IntN(4) {
		case 0:
			return nil
		case 1:
			return []byte{}
		}
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = byte(r.IntN(4)) // compressible
		}
		return b
	}
	base := r.Int64N(1 << 42)
	recs := make([]testRecord, n)
	for i := range recs {
		recs[i] = testRecord{Key: bytesOf(), Value: bytesOf(), Ms: base + r.Int64N(1<<20) - 1<<19}
		for range r.IntN(3) {
			recs[i].Headers = append(recs[i].Headers, sarama.RecordHeader{Key: []byte(fmt.Sprint("h", r.IntN(100))), Value: bytesOf()})
		}
	}
	return recs
}

// TestRecordBatchRoundTrip: what the Batcher encodes, kmsg decodes back to
// the same records and header fields, with every codec.
func TestRecordBatchRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		codec := codecs[i%len(codecs)]
		recs := randomRecords(r, 1+r.IntN(50))
		f := batchFields{pid: producerID{id: r.Int64N(1 << 40), epoch: int16(r.IntN(100))}, seq: r.Int32(),
			transactional: r.IntN(2) == 0, codec: codec}
		rb, got := decodeBatch(t, encodeBatch(t, recs, f))
		if diff := cmp.Diff(recs, got); diff != "" {
			t.Fatalf("case %d (codec %v): records differ (-want +got):\n%s", i, codec, diff)
		}
		wantAttrs := int16(codec)
		if f.transactional {
			wantAttrs |= 0x10
		}
		if rb.Attributes != wantAttrs || rb.ProducerID != f.pid.id || rb.ProducerEpoch != f.pid.epoch ||
			rb.FirstSequence != f.seq || rb.PartitionLeaderEpoch != -1 || rb.FirstOffset != 0 {
			t.Fatalf("case %d: header %+v, want attributes %d and %+v", i, rb, wantAttrs, f)
		}
		if wantMax := maxMs(recs); rb.FirstTimestamp != recs[0].Ms || rb.MaxTimestamp != wantMax {
			t.Fatalf("case %d: timestamps %d, %d, want %d, %d", i, rb.FirstTimestamp, rb.MaxTimestamp, recs[0].Ms, wantMax)
		}
	}
}

func maxMs(recs []testRecord) int64 {
	m := recs[0].Ms
	for _, r := range recs {
		m = max(m, r.Ms)
	}
	return m
}

// FuzzRecordBatch: any records encode to a batch that decodes back to them.
func FuzzRecordBatch(f *testing.F) {
	f.Add([]byte("k"), []byte("v"), []byte("h"), int64(0), int64(5), uint8(0), uint8(2))
	f.Add([]byte{}, []byte(nil), []byte{}, int64(-1), int64(1<<40), uint8(3), uint8(1))
	f.Fuzz(func(t *testing.T, key, value, hval []byte, ms, step int64, codec, n uint8) {
		var recs []testRecord
		for i := range int(n%20) + 1 {
			rec := testRecord{Key: key, Value: value, Ms: ms + int64(i)*(step%(1<<30))}
			if i%2 == 1 {
				rec.Key = nil
				rec.Headers = []sarama.RecordHeader{{Key: key, Value: hval}}
			}
			if len(rec.Headers) > 0 && rec.Headers[0].Key == nil {
				rec.Headers[0].Key = []byte{} // a header key reads back as a string
			}
			recs = append(recs, rec)
		}
		for i := range recs {
			for j := range recs[i].Headers {
				recs[i].Headers[j].Key = append([]byte{}, recs[i].Headers[j].Key...)
			}
		}
		c := codecs[int(codec)%len(codecs)]
		_, got := decodeBatch(t, encodeBatch(t, recs, batchFields{pid: noProducerID, seq: -1, codec: c}))
		if diff := cmp.Diff(recs, got); diff != "" {
			t.Fatalf("records differ (-want +got):\n%s", diff)
		}
	})
}

// TestRecordBatchKfake: kfake, which checks CRCs, takes the batches in a
// produce request, and a franz-go consumer reads the records back, with
// every codec.
func TestRecordBatchKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// Produce v10 names topics; v13 would want their IDs.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.MaxVersions(kversion.V3_7_0()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := rand.New(rand.NewPCG(3, 4))
	var want []testRecord
	for _, codec := range codecs {
		recs := randomRecords(r, 20)
		for i := range recs {
			recs[i].Ms = time.Now().UnixMilli() + int64(i)
		}
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 7, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = encodeBatch(t, recs, batchFields{pid: noProducerID, seq: -1, codec: codec})
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("codec %v: error code %d", codec, code)
		}
		want = append(want, recs...)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(consumer.Close)
	var got []testRecord
	for len(got) < len(want) && ctx.Err() == nil {
		fs := consumer.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs)
		}
		fs.EachRecord(func(r *kgo.Record) {
			tr := testRecord{Key: r.Key, Value: r.Value, Ms: r.Timestamp.UnixMilli()}
			for _, h := range r.Headers {
				tr.Headers = append(tr.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
			}
			got = append(got, tr)
		})
	}
	// franz-go reads empty and null alike.
	norm := cmp.Transformer("bytes", func(b []byte) string { return string(b) })
	if diff := cmp.Diff(want, got, norm); diff != "" {
		t.Errorf("records differ (-want +got):\n%s", diff)
	}
}

// TestProduceBody: the pieces of a produce request's body are what kmsg
// encodes, at every version the Batcher speaks, in a transaction or not.
func TestProduceBody(t *testing.T) {
	txn := "txn-1"
	for v := int16(3); v <= 10; v++ {
		for _, id := range []*string{nil, &txn} {
			req := kmsg.NewPtrProduceRequest()
			req.Version, req.TransactionID, req.Acks, req.TimeoutMillis = v, id, -1, 30000
			for _, topic := range []string{"t", "other"} {
				rt := kmsg.ProduceRequestTopic{Topic: topic}
				for p := range int32(3) {
					rt.Partitions = append(rt.Partitions, kmsg.ProduceRequestTopicPartition{Partition: p,
						Records: bytes.Repeat([]byte{byte(p)}, 100+int(p))})
				}
				req.Topics = append(req.Topics, rt)
			}
			bufs, _ := produceBody(req, nil)
			if got, want := bytes.Join(bufs, nil), req.AppendTo(nil); !bytes.Equal(got, want) {
				t.Errorf("v%d, transactional id %v: body\n%x\nwant\n%x", v, id != nil, got, want)
			}
		}
	}
}
