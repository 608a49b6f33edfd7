package consume

import (
	"errors"
	"github.com/google/go-cmp/cmp"
	"testing"
	"time"
)

func TestParseOffset(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want Offset
	}{
		{"start", Offset{Kind: Start}},
		{"beginning", Offset{Kind: Start}},
		{"end", Offset{Kind: End}},
		{"latest", Offset{Kind: End}},
		{"42", Offset{Kind: Absolute, N: 42}},
		{"+3", Offset{Kind: FromStart, N: 3}},
		{"-10", Offset{Kind: FromEnd, N: 10}},
		{"@2024-05-01T11:00:00Z", Offset{Kind: AtTime, Time: now.Add(-time.Hour)}},
		{"@2024-04-30", Offset{Kind: AtTime, Time: time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC)}},
		{"@1714564800000", Offset{Kind: AtTime, Time: time.UnixMilli(1714564800000)}},
		{"@-1h", Offset{Kind: AtTime, Time: now.Add(-time.Hour)}},
		{"@-90s", Offset{Kind: AtTime, Time: now.Add(-90 * time.Second)}},
		{"@now", Offset{Kind: AtTime, Time: now}},
	} {
		got, err := ParseOffset(tc.in, now)
		if err != nil {
			t.Errorf("ParseOffset(%q): %v", tc.in, err)
			continue
		}
		if got.Kind != tc.want.Kind || got.N != tc.want.N || !got.Time.Equal(tc.want.Time) {
			t.Errorf("ParseOffset(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseOffsetErrors(t *testing.T) {
	for _, in := range []string{"sideways", "+", "-x", "1.5", "@", "@yesterday", "--3"} {
		if _, err := ParseOffset(in, time.Now()); err == nil {
			t.Errorf("ParseOffset(%q): want an error", in)
		}
	}
}

func TestResolve(t *testing.T) {
	const oldest, newest = 100, 200
	at := func(ms int64) (int64, error) {
		switch ms {
		case 1:
			return 150, nil
		case 2:
			return -1, nil // no record at or after the time
		}
		return 0, errors.New("boom")
	}
	for _, tc := range []struct {
		o    Offset
		want int64
	}{
		{Offset{Kind: Start}, 100},
		{Offset{Kind: End}, 200},
		{Offset{Kind: Absolute, N: 120}, 120},
		{Offset{Kind: Absolute, N: 5}, 100},
		{Offset{Kind: Absolute, N: 500}, 200},
		{Offset{Kind: FromStart, N: 10}, 110},
		{Offset{Kind: FromStart, N: 1000}, 200},
		{Offset{Kind: FromEnd, N: 10}, 190},
		{Offset{Kind: FromEnd, N: 1000}, 100},
		{Offset{Kind: AtTime, Time: time.UnixMilli(1)}, 150},
		{Offset{Kind: AtTime, Time: time.UnixMilli(2)}, 200},
	} {
		got, err := tc.o.resolve(oldest, newest, at)
		if err != nil || got != tc.want {
			t.Errorf("%+v.resolve = %d, %v; want %d", tc.o, got, err, tc.want)
		}
	}
	if _, err := (Offset{Kind: AtTime, Time: time.UnixMilli(3)}).resolve(oldest, newest, at); err == nil {
		t.Error("resolve with a failing lookup: want the error")
	}
}

func TestParseRanges(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	end := func(o Offset) *Offset { return &o }
	for _, tc := range []struct {
		in   string
		want Ranges
	}{
		{"100", Ranges{Default: Range{Start: Offset{Kind: Absolute, N: 100}}}},
		{"100:200", Ranges{Default: Range{Start: Offset{Kind: Absolute, N: 100}, End: end(Offset{Kind: Absolute, N: 200})}}},
		{":end", Ranges{Default: Range{Start: Offset{Kind: Start}, End: end(Offset{Kind: End})}}},
		{"-5:+2", Ranges{Default: Range{Start: Offset{Kind: FromEnd, N: 5}, End: end(Offset{Kind: FromStart, N: 2})}}},
		{"@2024-05-01T10:00:00Z:@2024-05-01T11:00:00Z", Ranges{Default: Range{
			Start: Offset{Kind: AtTime, Time: now.Add(-2 * time.Hour)}, End: end(Offset{Kind: AtTime, Time: now.Add(-time.Hour)})}}},
		{"@-1h:-1", Ranges{Default: Range{Start: Offset{Kind: AtTime, Time: now.Add(-time.Hour)}, End: end(Offset{Kind: FromEnd, N: 1})}}},
		{"0=100,1=@-1h,2=end", Ranges{Partitions: map[int32]Range{
			0: {Start: Offset{Kind: Absolute, N: 100}},
			1: {Start: Offset{Kind: AtTime, Time: now.Add(-time.Hour)}},
			2: {Start: Offset{Kind: End}},
		}}},
		{"end,0=5:10", Ranges{Default: Range{Start: Offset{Kind: End}}, Partitions: map[int32]Range{
			0: {Start: Offset{Kind: Absolute, N: 5}, End: end(Offset{Kind: Absolute, N: 10})},
		}}},
	} {
		got, err := ParseRanges(tc.in, now)
		if err != nil {
			t.Errorf("ParseRanges(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseRanges(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
	for _, bad := range []string{"1:", "1:x", "a=1", "0=1,0=2", "0=x", "1:2:3"} {
		if _, err := ParseRanges(bad, now); err == nil {
			t.Errorf("ParseRanges(%q): no error", bad)
		}
	}
}
