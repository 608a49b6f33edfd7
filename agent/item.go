package agent

import (
	"bytes"
	"encoding/base64"
	"strconv"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/consume"
	"github.com/streamctl/streamctl/internal/envelope"
)

// item is one record on its way through the agent. It is kept small:
// Line mode has thousands in flight, each scanned by every GC cycle.
type item struct {
	ticket consume.Ticket
	part   *part
	// line is what Line mode writes (value or envelope), newline ended,
	// in slab with other items' lines.
	line []byte
	slab *slab
	// lane orders the item; seq is its place in its partition.
	lane  uint64
	seq   int64
	epoch int
	// attempts counts Line mode's tries.
	attempts int
	res      result
	err      error
	// raw is the input as it came, for a dead letter (nil without
	// DeadLetters); msg is what a command run per message needs (nil in
	// Line mode).
	raw *DeadLetter
	msg *perMessage
}

// perMessage is the record as a command run for it sees it, and what the
// command wrote.
type perMessage struct {
	// value and key are decoded (the serializers applied), key nil for
	// a null key; headersJSON is the envelope's headers list.
	value, key  []byte
	ts          int64
	hasTS       bool
	headersJSON []byte
	stdout      []byte
}

// newItem copies what the agent needs of m: the record is reused once
// Process returns. Line mode needs only the line, made by the caller, and
// reuses finished items.
func (r *Runner) newItem(m consume.Message) *item {
	var it *item
	if n := len(r.spare); n > 0 {
		it = r.spare[n-1]
		r.spare[n-1] = nil
		r.spare = r.spare[:n-1]
	} else {
		it = &item{}
	}
	rec := m.Record
	it.ticket = m.Ticket
	if r.o.Mode == PerMessage {
		it.msg = &perMessage{value: bytes.Clone(rec.Value), ts: rec.Timestamp, hasTS: rec.HasTimestamp,
			headersJSON: envelope.AppendHeaders(nil, rec.Headers)}
		if rec.Key != nil {
			it.msg.key = append([]byte{}, rec.Key...)
		}
	}
	if r.o.DeadLetters != nil {
		it.raw = &DeadLetter{Key: m.RawKey, Value: m.RawValue}
		for _, h := range m.RawHeaders {
			it.raw.Headers = append(it.raw.Headers, sarama.RecordHeader{Key: h.Key, Value: h.Value})
		}
	}
	return it
}

// src names the record.
func (it *item) src() Source {
	t := it.ticket
	return Source{TopicPartition: t.TopicPartition, Offset: t.Offset, Session: t.Session}
}

// env is the record's facts for a per-message command.
func (it *item) env(base []string) []string {
	m := it.msg
	env := make([]string, 0, len(base)+7)
	env = append(env, base...)
	env = append(env,
		"STREAMCTL_TOPIC="+it.ticket.Topic,
		"STREAMCTL_PARTITION="+strconv.Itoa(int(it.ticket.Partition)),
		"STREAMCTL_OFFSET="+strconv.FormatInt(it.ticket.Offset, 10),
		"STREAMCTL_HEADERS="+string(m.headersJSON),
	)
	if m.hasTS {
		env = append(env, "STREAMCTL_TIMESTAMP="+strconv.FormatInt(m.ts, 10))
	}
	if m.key != nil {
		// An environment variable cannot hold a NUL byte: such a key is
		// in STREAMCTL_KEY_BASE64 only.
		if bytes.IndexByte(m.key, 0) < 0 {
			env = append(env, "STREAMCTL_KEY="+string(m.key))
		}
		env = append(env, "STREAMCTL_KEY_BASE64="+base64.StdEncoding.EncodeToString(m.key))
	}
	return env
}

// deadLetter is the input as it came, with why it failed in headers.
func (it *item) deadLetter(ce *CommandError) DeadLetter {
	var d DeadLetter
	if it.raw != nil {
		d = *it.raw
	}
	hs := make([]sarama.RecordHeader, 0, len(d.Headers)+5)
	hs = append(hs, d.Headers...)
	add := func(k, v string) { hs = append(hs, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)}) }
	add("streamctl.error.topic", it.ticket.Topic)
	add("streamctl.error.partition", strconv.Itoa(int(it.ticket.Partition)))
	add("streamctl.error.offset", strconv.FormatInt(it.ticket.Offset, 10))
	add("streamctl.error.exit-code", strconv.Itoa(ce.ExitCode))
	add("streamctl.error.message", ce.Message)
	d.Headers = hs
	return d
}
