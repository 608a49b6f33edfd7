package produce

import (
	"bytes"
	"fmt"
	"io"
)

// splitter cuts a stream into records at a delimiter of one or more bytes.
// Unlike bufio.Scanner it has no fixed token limit: the buffer grows up to
// limit, and a longer record is skipped (its length reported) rather than
// held in memory.
type splitter struct {
	r     io.Reader
	delim []byte
	limit int

	buf        []byte
	start, end int // unread bytes are buf[start:end]
	scanned    int // bytes after start known not to hold the start of a delimiter
	err        error

	// beforeRead runs before each Read of r, which may block: the producer
	// hands over what it has batched so that an interactive line goes out
	// at once.
	beforeRead func()
}

const initialBuffer = 256 << 10

func newSplitter(r io.Reader, delim []byte, limit int) *splitter {
	if len(delim) == 0 {
		delim = []byte{'\n'}
	}
	return &splitter{r: r, delim: delim, limit: limit}
}

// tooLongError reports a record longer than the splitter's limit.
type tooLongError struct{ size, limit int }

func (e *tooLongError) Error() string {
	return fmt.Sprintf("record of at least %d bytes is longer than the input limit (%d bytes)", e.size, e.limit)
}

// next returns the next record without its delimiter; the slice is valid
// until the next call. At the end it returns io.EOF (or the read error).
// A record over the limit is consumed and reported as *tooLongError.
func (s *splitter) next() ([]byte, error) {
	skipped := 0 // bytes of an over-long record dropped so far
	for {
		if i := bytes.Index(s.buf[s.start+s.scanned:s.end], s.delim); i >= 0 {
			i += s.start + s.scanned
			rec := s.buf[s.start:i]
			s.start, s.scanned = i+len(s.delim), 0
			if skipped > 0 {
				return nil, &tooLongError{size: skipped + len(rec), limit: s.limit}
			}
			return rec, nil
		}
		if n := s.end - s.start - (len(s.delim) - 1); n > s.scanned {
			s.scanned = n
		}
		if s.err != nil {
			if s.end > s.start || skipped > 0 {
				rec := s.buf[s.start:s.end]
				s.start, s.scanned = s.end, 0
				if skipped > 0 {
					return nil, &tooLongError{size: skipped + len(rec), limit: s.limit}
				}
				return rec, nil
			}
			return nil, s.err
		}
		if s.limit > 0 && s.end-s.start > s.limit {
			// Drop what cannot be a delimiter's beginning and keep reading
			// to the end of this record.
			drop := s.scanned
			skipped += drop
			s.start += drop
			s.scanned = 0
		}
		s.fill()
	}
}

// fill reads more input, compacting or growing the buffer first.
func (s *splitter) fill() {
	if s.start > 0 && (s.start == s.end || s.end == len(s.buf)) {
		n := copy(s.buf, s.buf[s.start:s.end])
		s.start, s.end = 0, n
	}
	if s.end == len(s.buf) {
		size := 2 * len(s.buf)
		if size < initialBuffer {
			size = initialBuffer
		}
		nb := make([]byte, size)
		copy(nb, s.buf[s.start:s.end])
		s.buf, s.start, s.end = nb, 0, s.end-s.start
	}
	if s.beforeRead != nil {
		s.beforeRead()
	}
	n, err := s.r.Read(s.buf[s.end:])
	s.end += n
	if err != nil {
		s.err = err
	} else if n == 0 {
		// A reader returning 0, nil is allowed but rare; try again.
		return
	}
}
