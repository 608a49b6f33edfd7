package agent

import (
	"bytes"
	"encoding/base64"
	"strconv"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/consume"
	"github.com/streamctl/streamctl/internal/envelope"
)

// item is one record on its way through the agent.
type item struct {
	ticket consume.Ticket
	part   *part
	// value and key are decoded (the serializers applied), hasKey false
	// for a null key; headersJSON is the envelope's headers list.
	value, key  []byte
	ts          int64
	hasTS       bool
	headersJSON []byte
	// line is what Line mode writes (value or envelope), newline ended;
	// it shares its array with other items' lines.
	line []byte
	raw  DeadLetter
	// lane orders the item; seq is its place in its partition.
	lane  uint64
	seq   int64
	epoch int
	// attempts counts Line mode's tries.
	attempts int

	stdout []byte
	res    result
	err    error
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
	it.ts, it.hasTS = rec.Timestamp, rec.HasTimestamp
	if rec.Key != nil && (r.o.Order == ByKey || r.o.Mode == PerMessage) {
		it.key = append([]byte{}, rec.Key...)
	}
	if r.o.Mode == PerMessage {
		it.value = bytes.Clone(rec.Value)
		it.headersJSON = envelope.AppendHeaders(nil, rec.Headers)
	}
	if r.o.DeadLetters != nil {
		it.raw = DeadLetter{Key: m.RawKey, Value: m.RawValue}
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
	env := make([]string, 0, len(base)+7)
	env = append(env, base...)
	env = append(env,
		"STREAMCTL_TOPIC="+it.ticket.Topic,
		"STREAMCTL_PARTITION="+strconv.Itoa(int(it.ticket.Partition)),
		"STREAMCTL_OFFSET="+strconv.FormatInt(it.ticket.Offset, 10),
		"STREAMCTL_HEADERS="+string(it.headersJSON),
	)
	if it.hasTS {
		env = append(env, "STREAMCTL_TIMESTAMP="+strconv.FormatInt(it.ts, 10))
	}
	if it.key != nil {
		// An environment variable cannot hold a NUL byte: such a key is
		// in STREAMCTL_KEY_BASE64 only.
		if bytes.IndexByte(it.key, 0) < 0 {
			env = append(env, "STREAMCTL_KEY="+string(it.key))
		}
		env = append(env, "STREAMCTL_KEY_BASE64="+base64.StdEncoding.EncodeToString(it.key))
	}
	return env
}

// deadLetter is the input as it came, with why it failed in headers.
func (it *item) deadLetter(ce *CommandError) DeadLetter {
	d := it.raw
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
