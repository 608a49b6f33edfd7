package produce

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"unsafe"
)

// splitter cuts a stream into records at a delimiter of one or more bytes.
// Unlike bufio.Scanner it has no fixed token limit: the buffer grows up to
// limit, and a longer record is skipped (its length reported) rather than
// held in memory.
//
// It reads into blocks that it never writes over: when one is full, the
// unread rest moves to a fresh block, so that a record it returned stays
// valid for as long as it is held, without a copy. With a pool, blocks
// come back to it once every holder has released them (see block).
type splitter struct {
	r     io.Reader
	delim []byte
	limit int

	cur        *block
	buf        []byte // cur.buf
	start, end int    // unread bytes are buf[start:end]
	scanned    int    // bytes after start known not to hold the start of a delimiter
	err        error
	pool       chan *block // nil: blocks are left to the garbage collector

	// beforeRead runs before each Read of r, which may block, and before
	// the splitter moves to a new block: the producer hands over what it
	// has batched so that an interactive line goes out at once, and so
	// that each handover points into one block.
	beforeRead func()
}

const initialBuffer = 256 << 10

// block is a buffer the splitter reads into. refs counts its holders: the
// splitter while it reads into it, and each handover of records pointing
// into it until the Batcher has copied them out; the last to release it
// puts it back in its pool, to be read into again.
type block struct {
	buf  []byte
	refs atomic.Int32
	pool chan *block
}

// hold adds a holder; a nil block has none to count.
func (b *block) hold() *block {
	if b != nil {
		b.refs.Add(1)
	}
	return b
}

// release drops a holder; the last one recycles the block.
func (b *block) release() {
	if b == nil || b.refs.Add(-1) != 0 || b.pool == nil {
		return
	}
	select {
	case b.pool <- b:
	default: // the pool is full: the garbage collector takes it
	}
}

// newBlockPool returns a pool for blocks of initialBuffer bytes. It holds
// few: only those on their way between the reader and the Batcher are ever
// out of it.
func newBlockPool() chan *block { return make(chan *block, 8) }

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

// next returns the next record without its delimiter; the slice stays
// valid (it points into a block the splitter no longer writes to once it
// moves on). At the end it returns io.EOF (or the read error). A record
// over the limit is consumed and reported as *tooLongError.
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

// fill reads more input, into a new block when this one is full.
func (s *splitter) fill() {
	if s.beforeRead != nil {
		s.beforeRead()
	}
	if s.end == len(s.buf) {
		rest := s.end - s.start
		size := initialBuffer
		for size < 2*rest {
			// A long record: the block grows so that the rest is not
			// copied again and again as it is read.
			size *= 2
		}
		nb := s.newBlock(size)
		copy(nb.buf, s.buf[s.start:s.end])
		s.cur.release()
		s.cur, s.buf, s.start, s.end = nb, nb.buf, 0, rest
	}
	n, err := s.r.Read(s.buf[s.end:])
	s.end += n
	if err != nil {
		s.err = err
		if s.end == s.start {
			// Nothing more comes from this block: its records' holders
			// keep it as long as they need.
			s.cur.release()
			s.cur, s.buf, s.start, s.end = nil, nil, 0, 0
		}
	}
	// A reader returning 0, nil is allowed but rare: the caller tries
	// again.
}

// newBlock returns a block of size bytes held by the splitter: from the
// pool when it has one of that size.
func (s *splitter) newBlock(size int) *block {
	if s.pool != nil && size == initialBuffer {
		select {
		case b := <-s.pool:
			b.refs.Store(1)
			return b
		default:
		}
	}
	b := &block{buf: make([]byte, size)}
	if size == initialBuffer {
		b.pool = s.pool
	}
	b.refs.Store(1)
	return b
}

// holds says whether p lies in the splitter's current block, where it
// stays unchanged.
func (s *splitter) holds(p []byte) bool {
	if len(p) == 0 || len(s.buf) == 0 {
		return false
	}
	at := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(s.buf)))
	return at >= lo && at+uintptr(len(p)) <= lo+uintptr(len(s.buf))
}
