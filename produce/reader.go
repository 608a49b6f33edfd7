// Package produce reads records from a stream (lines, delimited chunks or
// the JSON envelope that `streamctl consume -J` writes) and hands them to a
// Kafka producer, accounting for every message: how many were sent, which
// were acknowledged, and which failed and on what input line.
package produce

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/envelope"
	"github.com/streamctl/streamctl/internal/escape"
)

// Encoder turns the text form of a key or value into its bytes on the wire;
// the codec package's chains satisfy it.
type Encoder interface {
	Encode(text []byte) ([]byte, error)
}

// IDEncoder is an Encoder that can also write with the schema registry
// schema an envelope names (its key_schema_id or value_schema_id); the codec
// package's chains satisfy it.
type IDEncoder interface {
	EncodeID(text []byte, id int) ([]byte, error)
}

// encode runs enc on text, with the envelope's schema id where it gave one.
func encode(enc Encoder, text []byte, id int) ([]byte, error) {
	if ie, ok := enc.(IDEncoder); ok && id > 0 {
		return ie.EncodeID(text, id)
	}
	return enc.Encode(text)
}

// Format says how the input is cut into records and what a record holds.
type Format struct {
	// Delimiter ends each record; empty means "\n".
	Delimiter []byte
	// KeyDelimiter, when set, splits a record into key and value at its
	// first occurrence; a record without it has a null key.
	KeyDelimiter []byte
	// Key is the key of every record (nil: null) unless KeyDelimiter or the
	// envelope gives one.
	Key []byte
	// Headers go on every record, after any the envelope carries.
	Headers []sarama.RecordHeader
	// Tombstone sends an empty value (and an empty key split off by
	// KeyDelimiter) as null.
	Tombstone bool
	// Envelope reads each record as a JSON envelope (see internal/envelope).
	Envelope bool
	// IgnorePartition drops the envelope's partition (-p or --partitioner
	// was given).
	IgnorePartition bool
	// KeyEncoder and ValueEncoder turn text into wire bytes; nil is identity.
	KeyEncoder, ValueEncoder Encoder
	// ValueMeta runs on a value's text before ValueEncoder (Faust's
	// "__faust" metadata for --faust-record).
	ValueMeta func(text []byte) ([]byte, error)
	// MaxBytes is the largest record the topic takes (its
	// max.message.bytes); 0 means no check.
	MaxBytes int
	// Compressed says batches go compressed: max.message.bytes then
	// limits the compressed batch, which only the broker can judge, so
	// records are refused here only beyond compressedFactor times MaxBytes.
	Compressed bool
	// Partitions is the topic's partition count, to reject an envelope's
	// partition that does not exist; 0 means no check.
	Partitions int32
}

// Record is one message read from the input. A nil Key or Value is null.
type Record struct {
	// Line is the record's 1-based position in its input: the line number
	// with the default delimiter.
	Line      int
	Key       []byte
	Value     []byte
	Headers   []sarama.RecordHeader
	Partition int32 // -1: left to the partitioner
	Timestamp time.Time
}

// LineError is a record that cannot be sent as it is: bad JSON, a malformed
// envelope, a message too large for the topic.
type LineError struct {
	Input string // file name, empty for stdin
	Line  int
	Err   error
}

func (e *LineError) Error() string {
	if e.Input == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d of %s: %v", e.Line, e.Input, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// Reader reads records from one input. A *LineError from Next is about that
// record alone: the caller may call Next again to go on with the next one.
type Reader struct {
	name  string
	f     *Format
	split *splitter
	line  int
	arena []byte
}

// recordOverhead is what a record batch adds around one small record (the
// v2 batch header and the record's own varints), which counts against
// max.message.bytes on the broker.
const recordOverhead = 61 + 21

// NewReader reads records in format f from r. name is the input's name in
// error messages (empty for stdin).
func NewReader(r io.Reader, name string, f *Format) *Reader {
	limit := 0
	if f.MaxBytes > 0 {
		// The text form may be longer than the wire form (JSON escapes,
		// base64 in the envelope); anything beyond this cannot fit.
		limit = 8*f.MaxBytes + 64<<10
	}
	return &Reader{name: name, f: f, split: newSplitter(r, f.Delimiter, limit)}
}

// Next returns the next record. At the end of the input it returns io.EOF.
func (r *Reader) Next() (Record, error) {
	for {
		raw, err := r.split.next()
		if err != nil {
			var tl *tooLongError
			if errors.As(err, &tl) {
				r.line++
				if r.f.MaxBytes > 0 {
					err = r.f.tooLarge(tl.size)
				}
				return Record{Line: r.line}, r.lineError(err)
			}
			return Record{}, err
		}
		r.line++
		if r.f.Envelope && len(bytes.TrimSpace(raw)) == 0 {
			continue // blank lines between envelopes carry nothing
		}
		rec, err := r.parse(raw)
		rec.Line = r.line
		if err != nil {
			return rec, r.lineError(err)
		}
		return rec, nil
	}
}

func (r *Reader) lineError(err error) error {
	return &LineError{Input: r.name, Line: r.line, Err: err}
}

// Parse reads one record from raw, as a Reader reads each of its input's
// records (a value, a key and value, or a -J envelope); the record's bytes
// are its own.
func (f *Format) Parse(raw []byte) (Record, error) {
	r := Reader{f: f}
	return r.parse(raw)
}

func (r *Reader) parse(raw []byte) (Record, error) {
	f := r.f
	rec := Record{Partition: -1}
	var key, value []byte
	var keyID, valueID int
	if f.Envelope {
		env, err := envelope.Parse(raw)
		if err != nil {
			return rec, err
		}
		key, value = env.Key, env.Value
		keyID, valueID = env.KeySchemaID, env.ValueSchemaID
		if env.Partition >= 0 && !f.IgnorePartition {
			if f.Partitions > 0 && env.Partition >= f.Partitions {
				return rec, &PartitionError{Partition: env.Partition, Partitions: f.Partitions}
			}
			rec.Partition = env.Partition
		}
		if env.HasTimestamp {
			rec.Timestamp = time.UnixMilli(env.Timestamp)
		}
		if len(env.Headers) > 0 {
			hs := make([]sarama.RecordHeader, 0, len(env.Headers)+len(f.Headers))
			for _, h := range env.Headers {
				hs = append(hs, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
			}
			rec.Headers = append(hs, f.Headers...)
		} else {
			rec.Headers = f.Headers
		}
	} else {
		value = raw
		key = f.Key
		if f.KeyDelimiter != nil {
			key = nil
			if i := bytes.Index(raw, f.KeyDelimiter); i >= 0 {
				key, value = raw[:i], raw[i+len(f.KeyDelimiter):]
				if len(key) == 0 && f.Tombstone {
					key = nil
				}
			}
		}
		rec.Headers = f.Headers
	}
	if len(value) == 0 && f.Tombstone {
		value = nil
	}
	var err error
	if key != nil && f.KeyEncoder != nil {
		if key, err = encode(f.KeyEncoder, key, keyID); err != nil {
			return rec, fmt.Errorf("key: %w", err)
		}
	}
	if value != nil && f.ValueMeta != nil {
		if value, err = f.ValueMeta(value); err != nil {
			return rec, fmt.Errorf("value: %w", err)
		}
	}
	if value != nil && f.ValueEncoder != nil {
		if value, err = encode(f.ValueEncoder, value, valueID); err != nil {
			return rec, fmt.Errorf("value: %w", err)
		}
	}
	if f.MaxBytes > 0 {
		size := recordOverhead + len(key) + len(value)
		for _, h := range rec.Headers {
			size += len(h.Key) + len(h.Value) + 10
		}
		if size > f.maxRecord() {
			return rec, f.tooLarge(size)
		}
	}
	rec.Key, rec.Value = r.keep(key), r.keep(value)
	return rec, nil
}

// compressedFactor is how much larger than max.message.bytes a record may
// be when batches are compressed: past it, no codec would fit it.
const compressedFactor = 8

// maxRecord is the largest record the reader lets through.
func (f *Format) maxRecord() int {
	if f.Compressed {
		return compressedFactor * f.MaxBytes
	}
	return f.MaxBytes
}

func (f *Format) tooLarge(size int) error {
	if f.Compressed {
		return fmt.Errorf("message of %d bytes exceeds %d times the topic's max.message.bytes (%d), too large even compressed",
			size, compressedFactor, f.MaxBytes)
	}
	return fmt.Errorf("message of %d bytes exceeds the topic's max.message.bytes (%d)", size, f.MaxBytes)
}

// PartitionError is an envelope's partition that the topic does not have.
type PartitionError struct {
	Partition  int32
	Partitions int32 // the topic's
}

func (e *PartitionError) Error() string {
	return fmt.Sprintf("partition %d does not exist (the topic has %s)", e.Partition, PartitionRange(e.Partitions))
}

// keep returns b as a record may hold it: as it is when it lies in the
// splitter's block, which is never written over; else (the output of an
// encoder, which may reuse its buffer) copied into a shared slab, one
// allocation for many small records.
func (r *Reader) keep(b []byte) []byte {
	if b == nil {
		return nil
	}
	if len(b) == 0 {
		return []byte{} // empty, not null
	}
	if r.split != nil && r.split.holds(b) {
		return b[:len(b):len(b)]
	}
	const slab = 1 << 20
	if len(b) > slab/4 {
		return append(make([]byte, 0, len(b)), b...)
	}
	if cap(r.arena)-len(r.arena) < len(b) {
		r.arena = make([]byte, 0, slab)
	}
	n := len(r.arena)
	r.arena = append(r.arena, b...)
	return r.arena[n:len(r.arena):len(r.arena)]
}

// PartitionRange describes a topic's n partitions for messages:
// "only partition 0" or "partitions 0-5".
func PartitionRange(n int32) string {
	if n == 1 {
		return "only partition 0"
	}
	return fmt.Sprintf("partitions 0-%d", n-1)
}

// ParseDelimiter reads a delimiter as given on the command line, with the
// escapes \n, \r, \t, \0, \\ and \xHH.
func ParseDelimiter(s string) ([]byte, error) {
	out, err := escape.Decode(s)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("empty delimiter")
	}
	return out, nil
}
