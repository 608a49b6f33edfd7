package produce

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"sync"

	"github.com/IBM/sarama"
	"github.com/klauspost/compress/gzip"
	snappy "github.com/klauspost/compress/snappy/xerial"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The v2 record batch (Kafka's DefaultRecordBatch), written by the
// Batcher itself: records go into a batch's buffer as they are read, after
// room for the header, which is filled in when the batch is first sent and
// again when its producer ID changes. The offsets of the header's fields:
const (
	rbLengthAt      = 8  // int32: the bytes after it
	rbEpochAt       = 12 // int32: partition leader epoch
	rbMagicAt       = 16 // int8: 2
	rbCRCAt         = 17 // uint32: CRC-32C of what follows it
	rbAttrsAt       = 21 // int16
	rbLastDeltaAt   = 23 // int32: last offset delta
	rbFirstTsAt     = 27 // int64
	rbMaxTsAt       = 35 // int64
	rbPIDAt         = 43 // int64
	rbPEpochAt      = 51 // int16
	rbSeqAt         = 53 // int32: base sequence
	rbCountAt       = 57 // int32: records
	rbHeaderLen     = 61
	rbTransactional = 0x10 // attributes: the batch is part of a transaction
)

// xerialHeader starts snappy's xerial framing (magic, version 1,
// compatible with 1), as Kafka's clients write it.
var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchFields are the header's fields that are not the records'.
type batchFields struct {
	count          int
	firstMs, maxMs int64
	pid            producerID
	seq            int32
	transactional  bool
	codec          sarama.CompressionCodec
}

// writeBatchHeader fills the header at the start of b, whose records
// follow it (compressed with f.codec, if any).
func writeBatchHeader(b []byte, f batchFields) {
	be := binary.BigEndian
	be.PutUint64(b[0:], 0) // the broker assigns the offsets
	be.PutUint32(b[rbLengthAt:], uint32(len(b)-rbEpochAt))
	// The broker sets the leader epoch; producers send -1, as the Java
	// client does.
	be.PutUint32(b[rbEpochAt:], 0xffffffff)
	b[rbMagicAt] = 2
	attrs := uint16(f.codec) & 7
	if f.transactional {
		attrs |= rbTransactional
	}
	be.PutUint16(b[rbAttrsAt:], attrs)
	be.PutUint32(b[rbLastDeltaAt:], uint32(int32(f.count-1)))
	be.PutUint64(b[rbFirstTsAt:], uint64(f.firstMs))
	be.PutUint64(b[rbMaxTsAt:], uint64(f.maxMs))
	be.PutUint64(b[rbPIDAt:], uint64(f.pid.id))
	be.PutUint16(b[rbPEpochAt:], uint16(f.pid.epoch))
	be.PutUint32(b[rbSeqAt:], uint32(f.seq))
	be.PutUint32(b[rbCountAt:], uint32(int32(f.count)))
	be.PutUint32(b[rbCRCAt:], crc32.Checksum(b[rbAttrsAt:], castagnoli))
}

// varintLen is the length of v as a zigzag varint.
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// bytesLen is the length of p as a varint-prefixed byte field: a nil p is
// null (-1).
func bytesLen(p []byte) int {
	if p == nil {
		return 1
	}
	return varintLen(int64(len(p))) + len(p)
}

func appendBytes(b, p []byte) []byte {
	if p == nil {
		return binary.AppendVarint(b, -1)
	}
	return append(binary.AppendVarint(b, int64(len(p))), p...)
}

// recordBody is the length of a record after its own length field.
func recordBody(tsDelta int64, offDelta int, key, value []byte, hs []sarama.RecordHeader) int {
	n := 1 + varintLen(tsDelta) + varintLen(int64(offDelta)) + bytesLen(key) + bytesLen(value) + varintLen(int64(len(hs)))
	for i := range hs {
		// A header's key is a string: never null.
		n += varintLen(int64(len(hs[i].Key))) + len(hs[i].Key) + bytesLen(hs[i].Value)
	}
	return n
}

// recordLen is a record's length in a batch, its length field included.
func recordLen(body int) int { return varintLen(int64(body)) + body }

// appendRecord appends a record of body bytes (recordBody) to b.
func appendRecord(b []byte, body int, tsDelta int64, offDelta int, key, value []byte, hs []sarama.RecordHeader) []byte {
	b = binary.AppendVarint(b, int64(body))
	b = append(b, 0) // attributes: none are used
	b = binary.AppendVarint(b, tsDelta)
	b = binary.AppendVarint(b, int64(offDelta))
	b = appendBytes(b, key)
	b = appendBytes(b, value)
	b = binary.AppendVarint(b, int64(len(hs)))
	for i := range hs {
		b = binary.AppendVarint(b, int64(len(hs[i].Key)))
		b = append(b, hs[i].Key...)
		b = appendBytes(b, hs[i].Value)
	}
	return b
}

// compressor compresses records as sarama does at its default level, so
// that what consumers read (the Java client, kcat, Faust) is unchanged:
// gzip, snappy in xerial framing, lz4 frames of 64 KiB blocks, zstd
// without a frame for empty input. It is not safe for concurrent use.
type compressor struct {
	gz   *gzip.Writer
	lz   *lz4.Writer
	zstd *zstd.Encoder
}

// appendWriter appends what is written to its slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// compress appends records, compressed with codec, to dst.
func (c *compressor) compress(dst []byte, codec sarama.CompressionCodec, records []byte) ([]byte, error) {
	switch codec {
	case sarama.CompressionNone:
		return append(dst, records...), nil
	case sarama.CompressionSnappy:
		// Encode writes the xerial header itself only into an empty dst.
		return snappy.Encode(append(dst, xerialHeader...), records), nil
	case sarama.CompressionZSTD:
		if c.zstd == nil {
			enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true),
				zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
			if err != nil {
				return nil, err
			}
			c.zstd = enc
		}
		return c.zstd.EncodeAll(records, dst), nil
	}
	w := &appendWriter{b: dst}
	var zw interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch codec {
	case sarama.CompressionGZIP:
		if c.gz == nil {
			c.gz = gzip.NewWriter(nil)
		}
		c.gz.Reset(w)
		zw = c.gz
	case sarama.CompressionLZ4:
		if c.lz == nil {
			c.lz = lz4.NewWriter(nil)
			if err := c.lz.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
				return nil, err
			}
		}
		c.lz.Reset(w)
		zw = c.lz
	default:
		return nil, fmt.Errorf("unsupported compression codec %d", codec)
	}
	if _, err := zw.Write(records); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return w.b, nil
}

// compressors are shared by the Batchers of a process (a Sender runs one
// per topic): a compressor holds a few MiB of state.
var compressors = sync.Pool{New: func() any { return new(compressor) }}

// compressRecords appends records compressed with codec to dst, with a
// compressor of the pool.
func compressRecords(dst []byte, codec sarama.CompressionCodec, records []byte) ([]byte, error) {
	c := compressors.Get().(*compressor)
	defer compressors.Put(c)
	return c.compress(dst, codec, records)
}

// produceBody is req's body as kmsg encodes it (versions 3 to 12), in
// pieces that refer to its record batches rather than copy them: a
// request of 1 MiB is not copied into a buffer of its own on its way to
// the connection. The framing around the batches is appended to scratch,
// returned for reuse.
func produceBody(req *kmsg.ProduceRequest, scratch []byte) (net.Buffers, []byte) {
	flex := req.Version >= 9
	b := scratch[:0]
	appendLen := func(b []byte, n int) []byte {
		if flex {
			return binary.AppendUvarint(b, uint64(n)+1)
		}
		return binary.BigEndian.AppendUint32(b, uint32(n))
	}
	switch {
	case req.TransactionID == nil && flex:
		b = append(b, 0)
	case req.TransactionID == nil:
		b = binary.BigEndian.AppendUint16(b, 0xffff)
	case flex:
		b = append(binary.AppendUvarint(b, uint64(len(*req.TransactionID))+1), *req.TransactionID...)
	default:
		b = append(binary.BigEndian.AppendUint16(b, uint16(len(*req.TransactionID))), *req.TransactionID...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(req.Acks))
	b = binary.BigEndian.AppendUint32(b, uint32(req.TimeoutMillis))
	b = appendLen(b, len(req.Topics))
	var cuts []int // where in b each batch goes
	var batches [][]byte
	for i := range req.Topics {
		rt := &req.Topics[i]
		if flex {
			b = append(binary.AppendUvarint(b, uint64(len(rt.Topic))+1), rt.Topic...)
		} else {
			b = append(binary.BigEndian.AppendUint16(b, uint16(len(rt.Topic))), rt.Topic...)
		}
		b = appendLen(b, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			b = binary.BigEndian.AppendUint32(b, uint32(rp.Partition))
			b = appendLen(b, len(rp.Records))
			cuts = append(cuts, len(b))
			batches = append(batches, rp.Records)
			if flex {
				b = append(b, 0) // no tagged fields
			}
		}
		if flex {
			b = append(b, 0)
		}
	}
	if flex {
		b = append(b, 0)
	}
	bufs := make(net.Buffers, 0, 2*len(cuts)+1)
	from := 0
	for i, c := range cuts {
		bufs = append(bufs, b[from:c], batches[i])
		from = c
	}
	return append(bufs, b[from:]), b
}
