package consume

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// OffsetKind says how a start offset is given.
type OffsetKind int

// The forms -o/--offset accepts.
const (
	Start     OffsetKind = iota // start: the oldest offset
	End                         // end: only what arrives from now on
	Absolute                    // N
	FromStart                   // +N: N after the oldest offset
	FromEnd                     // -N: N before the end
	AtTime                      // @TIME: the first offset at or after TIME
)

// Offset is a parsed start position, applied to each partition.
type Offset struct {
	Kind OffsetKind
	N    int64
	Time time.Time
}

// ParseOffset reads -o/--offset: start, end, N, +N, -N or @TIME, where TIME
// is RFC3339, YYYY-MM-DD, unix milliseconds, or a duration relative to now
// such as -1h or -90s. now is the reference for relative times.
func ParseOffset(s string, now time.Time) (Offset, error) {
	switch strings.ToLower(s) {
	case "", "start", "beginning", "oldest", "earliest":
		return Offset{Kind: Start}, nil
	case "end", "newest", "latest":
		return Offset{Kind: End}, nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		t, err := parseTime(rest, now)
		if err != nil {
			return Offset{}, fmt.Errorf("offset %q: %w", s, err)
		}
		return Offset{Kind: AtTime, Time: t}, nil
	}
	kind := Absolute
	num := s
	switch s[0] {
	case '+':
		kind, num = FromStart, s[1:]
	case '-':
		kind, num = FromEnd, s[1:]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return Offset{}, fmt.Errorf("offset %q: want start, end, N, +N, -N or @TIME", s)
	}
	return Offset{Kind: kind, N: n}, nil
}

func parseTime(s string, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if len(s) > 1 && (s[0] == '-' || s[0] == '+') {
		if d, err := time.ParseDuration(s); err == nil {
			return now.Add(d), nil
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC3339 (2024-05-01T12:00:00Z), YYYY-MM-DD, unix milliseconds, or a duration such as -1h", s)
}

// resolve turns o into an absolute offset in [oldest, newest] for one
// partition. atTime looks up the first offset at or after a timestamp
// (-1 when there is none).
func (o Offset) resolve(oldest, newest int64, atTime func(ms int64) (int64, error)) (int64, error) {
	clamp := func(n int64) int64 { return max(oldest, min(newest, n)) }
	switch o.Kind {
	case End:
		return newest, nil
	case Absolute:
		return clamp(o.N), nil
	case FromStart:
		return clamp(oldest + o.N), nil
	case FromEnd:
		return clamp(newest - o.N), nil
	case AtTime:
		off, err := atTime(o.Time.UnixMilli())
		if err != nil {
			return 0, err
		}
		if off < 0 {
			return newest, nil
		}
		return clamp(off), nil
	default:
		return oldest, nil
	}
}

// Range is where reading starts in a partition and, when End is set, the
// exclusive offset where it stops.
type Range struct {
	Start Offset
	End   *Offset
}

// Ranges is a parsed -o/--offset: a default range and, per partition
// number, ranges of their own.
type Ranges struct {
	Default    Range
	Partitions map[int32]Range
}

// HasEnd reports whether any range has an end.
func (rs Ranges) HasEnd() bool {
	if rs.Default.End != nil {
		return true
	}
	for _, r := range rs.Partitions {
		if r.End != nil {
			return true
		}
	}
	return false
}

// ParseRanges reads -o/--offset: a range START[:END], or a comma list of
// P=START[:END] for partitions P (an entry without "P=" sets the default
// for the partitions not named). START is as ParseOffset reads it, empty
// meaning start; END is N, +N (N after START), end, -N (N before the end)
// or @TIME, and is exclusive.
func ParseRanges(s string, now time.Time) (Ranges, error) {
	if !strings.Contains(s, "=") {
		r, err := parseRange(s, now)
		return Ranges{Default: r}, err
	}
	rs := Ranges{Partitions: map[int32]Range{}}
	for _, f := range strings.Split(s, ",") {
		ps, spec, ok := strings.Cut(f, "=")
		if !ok {
			r, err := parseRange(f, now)
			if err != nil {
				return Ranges{}, err
			}
			rs.Default = r
			continue
		}
		p, err := strconv.ParseInt(strings.TrimSpace(ps), 10, 32)
		if err != nil || p < 0 {
			return Ranges{}, fmt.Errorf("%q: %q is not a partition number (want P=START[:END], such as 0=100)", f, ps)
		}
		if _, dup := rs.Partitions[int32(p)]; dup {
			return Ranges{}, fmt.Errorf("partition %d is given twice", p)
		}
		r, err := parseRange(spec, now)
		if err != nil {
			return Ranges{}, fmt.Errorf("partition %d: %w", p, err)
		}
		rs.Partitions[int32(p)] = r
	}
	return rs, nil
}

// parseRange reads START[:END]. Times hold colons of their own, so the
// split is the first colon with a valid start before it and a valid end
// after it.
func parseRange(s string, now time.Time) (Range, error) {
	if o, err := ParseOffset(s, now); err == nil {
		return Range{Start: o}, nil
	}
	for i := 0; i < len(s); i++ {
		if s[i] != ':' {
			continue
		}
		start, err := ParseOffset(s[:i], now)
		if err != nil {
			continue
		}
		end, err := ParseOffset(s[i+1:], now)
		if err != nil || s[i+1:] == "" {
			continue
		}
		return Range{Start: start, End: &end}, nil
	}
	if strings.Contains(s, ":") {
		return Range{}, fmt.Errorf("range %q: want START:END with START start, end, N, +N, -N or @TIME and END N, +N, end, -N or @TIME", s)
	}
	_, err := ParseOffset(s, now)
	return Range{}, err
}

// resolveEnd turns an end into an exclusive offset for a partition that
// starts at start and holds offsets up to newest now, and, for a time still
// ahead of now, the time in milliseconds at which a message ends the
// partition instead (0: none).
//
// A range is a bounded read of what is there, as -e is: an offset end is
// never past newest, so a partition shorter than the range (-o 0:100 on
// one holding 3) is done at its end instead of waiting for offsets that
// may never come. A time end already past is bounded the same way; only
// a time still ahead waits, for the first message at or after it.
func resolveEnd(e Offset, start, oldest, newest int64, now time.Time, atTime func(ms int64) (int64, error)) (end, endTime int64, err error) {
	bound := func(off int64) int64 { return max(min(off, newest), start) }
	switch e.Kind {
	case FromStart:
		return bound(start + e.N), 0, nil
	case AtTime:
		off, err := atTime(e.Time.UnixMilli())
		if err != nil {
			return 0, 0, err
		}
		if off >= 0 {
			return bound(off), 0, nil
		}
		if !e.Time.After(now) {
			return bound(newest), 0, nil
		}
		return math.MaxInt64, e.Time.UnixMilli(), nil
	case Absolute:
		return bound(e.N), 0, nil
	}
	off, err := e.resolve(oldest, newest, atTime)
	return bound(off), 0, err
}
