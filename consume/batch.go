package consume

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
	"sync/atomic"

	"github.com/IBM/sarama"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy/xerial"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// CorruptBatchError says a record batch of a fetch response does not read:
// its checksum does not match its bytes, it is cut short inside, or it does
// not decompress. Fetching it again brings the same bytes: the run stops.
type CorruptBatchError struct {
	Topic     string
	Partition int32
	// Offset is the batch's first offset.
	Offset int64
	Reason string
}

func (e *CorruptBatchError) Error() string {
	return fmt.Sprintf("topic %q partition %d offset %d: corrupt record batch: %s", e.Topic, e.Partition, e.Offset, e.Reason)
}

// The record batch (magic 2) header: where each field starts.
const (
	batchLengthAt     = 8  // int32: the bytes after it
	batchMagicAt      = 16 // int8; a legacy message has its magic here too
	batchCRCAt        = 17 // uint32: CRC-32C of what follows it
	batchAttrsAt      = 21 // int16
	batchLastDeltaAt  = 23 // int32
	batchFirstTSAt    = 27 // int64
	batchMaxTSAt      = 35 // int64
	batchProducerAt   = 43 // int64
	batchCountAt      = 57 // int32
	batchHeaderLength = 61
)

// Batch attributes.
const (
	attrCompression   = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

// maxInflated bounds what one compressed batch may decompress to, against
// a compression bomb; Kafka's own limits are far below it.
var maxInflated = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// abortedTxn is a transaction the broker says was aborted: its producer's
// records from FirstOffset on, up to its abort marker, are not shown under
// read_committed.
type abortedTxn struct {
	producerID, firstOffset int64
}

// hasLegacy says data, a partition's record set, holds a message set of
// the pre-0.11 formats (magic 0 or 1), which walkBatches does not read.
func hasLegacy(data []byte) bool {
	for len(data) > batchMagicAt {
		if data[batchMagicAt] < 2 {
			return true
		}
		n := int64(int32(binary.BigEndian.Uint32(data[batchLengthAt:]))) + 12
		if n < batchHeaderLength || n > int64(len(data)) {
			return false // the rest is cut short, or corrupt: walkBatches says
		}
		data = data[n:]
	}
	return false
}

// fetchBuf holds what one fetch response's messages point into: the
// response's bytes as read, what its compressed batches decompressed to,
// and the messages and headers themselves. It is the one owner of the
// rule for reusing them:
//
// A fetchBuf is reused (the next fetch reads into it) only once every
// delivery cut from it is done with: the fetcher holds a reference while
// it parses and hands over, each delivery handed to the loop holds one, and
// the loop lets go of a delivery once it has written it (the formatted
// output is a copy) or dropped it. Nothing of a message outlives that:
// the filter judges it during the call, the group marks offsets only, and
// a failed delivery is never let go (its error may quote its bytes). With
// a Processor, which keeps raw bytes until a record is done (an exec
// agent's dead letters), each record's ticket holds one more, let go by
// Ticket.Done. A delivery the loop never lets go of, which a stop leaves
// in the queue, and a record a Processor abandons or did not take are the
// garbage collector's (and the pool makes no more in their place: a run
// that lost all its buffers so goes on with buffers made per answer).
type fetchBuf struct {
	resp     []byte // the response as read
	inflated []byte // decompressed batches, one after another
	msgs     []message
	hdrs     []sarama.RecordHeader
	hptrs    []*sarama.RecordHeader
	// refs counts the holders; the last to let go returns it to pool.
	refs atomic.Int32
	pool *bufPool // nil: never reused
}

// keptBufs is how many fetch buffers a run keeps for reuse: one per fetch
// the queue (runner.msgs) and the loop hold at a time, about.
const keptBufs = 8

// pooledBufs bounds the reusable buffers a run has at once, free or held.
// Each has room for a whole fetch; a Processor's records hold theirs until
// done, and on a topic that trickles, each of many records could hold a
// buffer of its own. Past the bound a fetch gets a buffer of just its
// answer's size, left to the garbage collector.
const pooledBufs = 2 * keptBufs

// bufPool is the fetch buffers free for reuse, the last freed on top: it
// is the one still in the CPU's caches, and the one a release too early
// would have reused (a test under -race sees that).
type bufPool struct {
	mu   sync.Mutex
	free []*fetchBuf
	// made counts the pool's buffers alive, free or held.
	made int
}

// bufTrace, set by tests, sees each buffer fetchBuf hands out: reused from
// the pool, or else made for it (fresh) or made just for this answer.
var bufTrace func(reused, fresh bool)

// fetchBuf returns a buffer for the next fetch response, held once (by the
// fetcher): a free one when the run reuses them.
func (r *runner) fetchBuf() *fetchBuf {
	p := r.bufs
	if p == nil {
		b := &fetchBuf{}
		b.refs.Store(1)
		return b
	}
	var b *fetchBuf
	fresh := false
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		b = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	} else if fresh = p.made < pooledBufs; fresh {
		p.made++
	}
	p.mu.Unlock()
	if bufTrace != nil {
		bufTrace(b != nil, fresh)
	}
	switch {
	case b != nil:
		b.reset()
	case fresh:
		// Room for a whole fetch at once: kept, it is grown (and
		// cleared) once, not per fetch.
		b = &fetchBuf{pool: p, resp: make([]byte, 0, int(fetchMax)+64<<10)}
	default:
		b = &fetchBuf{}
	}
	b.refs.Store(1)
	return b
}

// reset readies b for another response, keeping its memory.
func (b *fetchBuf) reset() {
	b.inflated = b.inflated[:0]
	b.msgs = b.msgs[:0]
	clear(b.hdrs) // what they point at is the last response's
	b.hdrs = b.hdrs[:0]
	b.hptrs = b.hptrs[:0]
}

// hold takes a reference.
func (b *fetchBuf) hold() {
	if b != nil {
		b.refs.Add(1)
	}
}

// release lets go of a reference; the last one returns b for reuse.
func (b *fetchBuf) release() { b.releaseN(1) }

// releaseN lets go of n references at once.
func (b *fetchBuf) releaseN(n int32) {
	if b == nil || b.refs.Add(-n) != 0 || b.pool == nil {
		return
	}
	p := b.pool
	p.mu.Lock()
	if len(p.free) < keptBufs {
		p.free = append(p.free, b)
	} else { // enough are kept: this one is the garbage collector's
		p.made--
	}
	p.mu.Unlock()
}

// releaseAll lets go of the holds of tickets ts, once per run of tickets
// of one buffer.
func releaseAll(ts []Ticket) {
	for i := 0; i < len(ts); {
		b, j := ts[i].buf, i+1
		for j < len(ts) && ts[j].buf == b {
			j++
		}
		b.releaseN(int32(j - i))
		i = j
	}
}

// inflate decompresses a batch's records with codec into b.inflated's
// spare room, growing it (without moving what earlier batches hold) when
// needed, and returns them.
func (b *fetchBuf) inflate(codec byte, src []byte) ([]byte, error) {
	switch codec {
	case 1:
		zr := gzipReaders.Get().(*gzip.Reader)
		defer gzipReaders.Put(zr)
		if err := zr.Reset(bytes.NewReader(src)); err != nil {
			return nil, err
		}
		return b.readAll(zr)
	case 2:
		spare := b.inflated[len(b.inflated):]
		out, err := xerial.DecodeInto(spare, src)
		if err != nil {
			return nil, err
		}
		if len(out) > maxInflated {
			return nil, errInflated
		}
		if len(out) > 0 && cap(spare) >= len(out) && &spare[:1][0] == &out[0] {
			b.inflated = b.inflated[:len(b.inflated)+len(out)]
		}
		return out[:len(out):len(out)], nil
	case 3:
		lr := lz4Readers.Get().(*lz4.Reader)
		defer lz4Readers.Put(lr)
		lr.Reset(bytes.NewReader(src))
		return b.readAll(lr)
	case 4:
		start := len(b.inflated)
		out, err := zstdDecoder().DecodeAll(src, b.inflated)
		if err != nil {
			return nil, err
		}
		b.inflated = out
		return out[start:len(out):len(out)], nil
	}
	return nil, fmt.Errorf("unknown compression %d", codec)
}

var errInflated = fmt.Errorf("decompresses to more than %d bytes", maxInflated)

// readAll reads r to its end into b.inflated's spare room. When that runs
// out, a larger array takes this batch's bytes, and earlier batches' stay
// where they are (messages point at them).
func (b *fetchBuf) readAll(r io.Reader) ([]byte, error) {
	buf, start := b.inflated, len(b.inflated)
	for {
		if len(buf) == cap(buf) {
			n := len(buf) - start
			if n > maxInflated {
				return nil, errInflated
			}
			grown := make([]byte, n, max(2*cap(buf), n+64<<10))
			copy(grown, buf[start:])
			buf, start = grown, 0
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	b.inflated = buf
	return buf[start:len(buf):len(buf)], nil
}

var (
	gzipReaders = sync.Pool{New: func() any { return new(gzip.Reader) }}
	lz4Readers  = sync.Pool{New: func() any { return lz4.NewReader(nil) }}
	zstdDec     struct {
		sync.Mutex
		d     *zstd.Decoder
		limit int
	}
)

// zstdDecoder is the decoder for DecodeAll, which is safe for concurrent
// use; it is made anew when maxInflated changed (a test lowers it).
func zstdDecoder() *zstd.Decoder {
	zstdDec.Lock()
	defer zstdDec.Unlock()
	if zstdDec.d == nil || zstdDec.limit != maxInflated {
		// DecodeAll alone: no stream, no goroutine of its own.
		zstdDec.d, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(uint64(maxInflated)))
		zstdDec.limit = maxInflated
	}
	return zstdDec.d
}

// batchWalk is the state of reading one partition's record batches.
type batchWalk struct {
	tp        TopicPartition
	isolation sarama.IsolationLevel
	buf       *fetchBuf
	// aborted are the transactions aborted, by first offset, not yet
	// reached; abortedPIDs the producers whose transaction is open and
	// aborted at the batch being read.
	aborted     []abortedTxn
	abortedPIDs map[int64]bool
	// next is the position after what was read.
	next int64
}

// walkBatches appends to buf.msgs each data record at or after offset start
// of data (a partition's record batches, magic 2), in offset order, and
// returns the position after them: past control batches, and under
// read_committed past aborted records, which it skips. aborted must be
// sorted by first offset. A partial batch at the end (a fetch's size limit
// cut it) is left for the next fetch. On a corrupt batch it returns the
// position after the records before it, which it appended, and the error.
func walkBatches(tp TopicPartition, data []byte, start int64, aborted []abortedTxn, isolation sarama.IsolationLevel, buf *fetchBuf) (int64, error) {
	w := batchWalk{tp: tp, isolation: isolation, buf: buf, aborted: aborted, next: start}
	if len(aborted) > 0 {
		w.abortedPIDs = map[int64]bool{}
	}
	for len(data) >= batchHeaderLength {
		n := int64(int32(binary.BigEndian.Uint32(data[batchLengthAt:]))) + 12
		base := int64(binary.BigEndian.Uint64(data))
		if n < batchHeaderLength {
			return w.next, w.corrupt(base, fmt.Sprintf("length %d", n-12))
		}
		if n > int64(len(data)) {
			break // cut short by the fetch's size limit
		}
		if err := w.batch(base, data[:n]); err != nil {
			return w.next, err
		}
		data = data[n:]
	}
	return w.next, nil
}

func (w *batchWalk) corrupt(base int64, why string) error {
	return &CorruptBatchError{Topic: w.tp.Topic, Partition: w.tp.Partition, Offset: base, Reason: why}
}

// batch reads one whole batch b whose first offset is base.
func (w *batchWalk) batch(base int64, b []byte) error {
	if magic := b[batchMagicAt]; magic != 2 {
		return w.corrupt(base, fmt.Sprintf("magic %d", magic))
	}
	if want, got := binary.BigEndian.Uint32(b[batchCRCAt:]), crc32.Checksum(b[batchAttrsAt:], castagnoli); want != got {
		return w.corrupt(base, fmt.Sprintf("checksum %08x, want %08x", got, want))
	}
	attrs := binary.BigEndian.Uint16(b[batchAttrsAt:])
	last := base + int64(int32(binary.BigEndian.Uint32(b[batchLastDeltaAt:])))
	producer := int64(binary.BigEndian.Uint64(b[batchProducerAt:]))
	for len(w.aborted) > 0 && w.aborted[0].firstOffset <= last {
		w.abortedPIDs[w.aborted[0].producerID] = true
		w.aborted = w.aborted[1:]
	}
	control := attrs&attrControl != 0
	switch {
	case !control && w.isolation == sarama.ReadCommitted && attrs&attrTransactional != 0 && w.abortedPIDs[producer]:
		// Records of an aborted transaction: never shown.
	case !control && last < w.next:
		// Before the fetch offset altogether (a compacted or compressed
		// batch the fetch started inside of).
	default:
		n, next := len(w.buf.msgs), w.next
		if err := w.records(base, b, attrs, producer); err != nil {
			// Nothing of a corrupt batch is shown.
			w.buf.msgs, w.next = w.buf.msgs[:n], next
			return err
		}
	}
	if last+1 > w.next {
		w.next = last + 1
	}
	return nil
}

// records reads the records of batch b (its header checked).
func (w *batchWalk) records(base int64, b []byte, attrs uint16, producer int64) error {
	count := int32(binary.BigEndian.Uint32(b[batchCountAt:]))
	if count < 0 {
		return w.corrupt(base, fmt.Sprintf("%d records", count))
	}
	recs := b[batchHeaderLength:]
	if codec := byte(attrs & attrCompression); codec != 0 {
		var err error
		if recs, err = w.buf.inflate(codec, recs); err != nil {
			return w.corrupt(base, fmt.Sprintf("decompressing: %v", err))
		}
	}
	// Each record takes at least 7 bytes: a bound on count that keeps a
	// corrupt count from reserving memory.
	if int64(count)*7 > int64(len(recs)) {
		return w.corrupt(base, fmt.Sprintf("%d records in %d bytes", count, len(recs)))
	}
	control := attrs&attrControl != 0
	ts := int64(binary.BigEndian.Uint64(b[batchFirstTSAt:]))
	logAppend := attrs&attrLogAppendTime != 0
	if logAppend {
		ts = int64(binary.BigEndian.Uint64(b[batchMaxTSAt:]))
	}
	buf := w.buf
	if !control {
		buf.msgs = growMsgs(buf.msgs, int(count))
	}
	for i := int32(0); i < count; i++ {
		r := recordReader{src: recs, ok: true}
		length := r.varint()
		if !r.ok || length < 0 || length > int64(len(recs)-r.pos) {
			return w.corrupt(base, fmt.Sprintf("record %d is cut short", i))
		}
		end := r.pos + int(length)
		r = recordReader{src: recs[r.pos:end], ok: true}
		recs = recs[end:]
		r.skip(1) // attributes
		tsDelta := r.varint()
		offDelta := r.varint()
		key := r.bytes()
		value := r.bytes()
		nh := r.varint()
		if !r.ok || nh < 0 || nh > int64(len(r.src)) {
			return w.corrupt(base, fmt.Sprintf("record %d is cut short", i))
		}
		off := base + offDelta
		if control {
			// The key says which marker it is: version (int16), then
			// type (int16, 0 = abort).
			if len(key) >= 4 && binary.BigEndian.Uint16(key[2:4]) == 0 {
				delete(w.abortedPIDs, producer)
			}
			continue
		}
		var headers []*sarama.RecordHeader
		if nh > 0 {
			first := len(buf.hptrs)
			for j := int64(0); j < nh; j++ {
				hk := r.bytes()
				hv := r.bytes()
				if !r.ok {
					return w.corrupt(base, fmt.Sprintf("record %d's headers are cut short", i))
				}
				buf.hdrs = append(buf.hdrs, sarama.RecordHeader{Key: hk, Value: hv})
				buf.hptrs = append(buf.hptrs, &buf.hdrs[len(buf.hdrs)-1])
			}
			headers = buf.hptrs[first:len(buf.hptrs):len(buf.hptrs)]
		}
		if r.pos != len(r.src) {
			return w.corrupt(base, fmt.Sprintf("record %d has %d bytes more than its fields", i, len(r.src)-r.pos))
		}
		if off < w.next {
			continue // a batch that starts before the fetch offset
		}
		m := message{offset: off, key: key, value: value, headers: headers, timestamp: -1}
		if ts >= 0 { // else none was given (-1), as kcat shows it
			m.timestamp, m.hasTS = ts, true
			if !logAppend {
				m.timestamp += tsDelta
			}
		}
		buf.msgs = append(buf.msgs, m)
		w.next = off + 1
	}
	if len(recs) != 0 {
		return w.corrupt(base, fmt.Sprintf("%d bytes after its %d records", len(recs), count))
	}
	return nil
}

// growMsgs makes room for n more messages in one step.
func growMsgs(msgs []message, n int) []message {
	if cap(msgs)-len(msgs) >= n {
		return msgs
	}
	grown := make([]message, len(msgs), max(2*cap(msgs), len(msgs)+n))
	copy(grown, msgs)
	return grown
}

// recordReader reads a record's fields; a field past the end clears ok.
type recordReader struct {
	src []byte
	pos int
	ok  bool
}

func (r *recordReader) skip(n int) {
	if r.pos+n > len(r.src) {
		r.ok = false
		r.pos = len(r.src)
		return
	}
	r.pos += n
}

// varint reads a zig-zag varint.
func (r *recordReader) varint() int64 {
	if r.pos < len(r.src) && r.src[r.pos] < 0x80 {
		c := r.src[r.pos]
		r.pos++
		return int64(c>>1) ^ -int64(c&1)
	}
	v, n := binary.Varint(r.src[r.pos:])
	if n <= 0 {
		r.ok = false
		r.pos = len(r.src)
		return 0
	}
	r.pos += n
	return v
}

// bytes reads a varint length and that many bytes; -1 is nil.
func (r *recordReader) bytes() []byte {
	n := r.varint()
	if n < 0 || !r.ok {
		if n < -1 {
			r.ok = false
			r.pos = len(r.src)
		}
		return nil
	}
	if n > int64(len(r.src)-r.pos) {
		r.ok = false
		r.pos = len(r.src)
		return nil
	}
	b := r.src[r.pos : r.pos+int(n) : r.pos+int(n)]
	r.pos += int(n)
	return b
}
