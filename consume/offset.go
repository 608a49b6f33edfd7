package consume

import (
	"fmt"
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
