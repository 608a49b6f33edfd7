package faults_test

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

// SummaryEnv names a file each test appends its figures line to, so that
// `make test-faults` can print them all at the end.
const SummaryEnv = "STREAMCTL_FAULTS_SUMMARY"

// figures are what a test prints about its load, as one line:
// "faults: NAME: sent=N acked=N present=N duplicated=N exit=C seconds=S".
// -1 (NaN for seconds) is "not measured" and prints as "-".
type figures struct {
	sent, acked, present, duplicated int
	exit                             int
	seconds                          float64
	note                             string
}

var summaryMu sync.Mutex

// newFigures returns t's figures, printed when t ends, failed or not.
func newFigures(t *testing.T) *figures {
	f := unmeasured()
	t.Cleanup(func() { f.report(t, t.Name()) })
	return f
}

func unmeasured() *figures {
	return &figures{sent: -1, acked: -1, present: -1, duplicated: -1, exit: -1, seconds: math.NaN()}
}

// report prints the figures line of name with t's verdict so far, in the
// test's log and in the summary file.
func (f *figures) report(t *testing.T, name string) {
	n := func(v int) string {
		if v < 0 {
			return "-"
		}
		return fmt.Sprint(v)
	}
	secs := "-"
	if !math.IsNaN(f.seconds) {
		secs = fmt.Sprintf("%.1f", f.seconds)
	}
	verdict := "ok"
	if t.Failed() {
		verdict = "FAIL"
	}
	line := fmt.Sprintf("faults: %s: sent=%s acked=%s present=%s duplicated=%s exit=%s seconds=%s %s",
		name, n(f.sent), n(f.acked), n(f.present), n(f.duplicated), n(f.exit), secs, verdict)
	if f.note != "" {
		line += " (" + f.note + ")"
	}
	t.Log(line)
	if path := os.Getenv(SummaryEnv); path != "" {
		summaryMu.Lock()
		defer summaryMu.Unlock()
		if w, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(w, line)
			w.Close()
		}
	}
}

func (f *figures) addNote(format string, args ...any) {
	if f.note != "" {
		f.note += "; "
	}
	f.note += fmt.Sprintf(format, args...)
}

// tally is what a set of records holds against what was sent.
type tally struct {
	times     map[string]int // value -> how often it is present
	present   int            // distinct sent values present
	duplicate int            // records beyond the first of their value
	foreign   []string       // values that were never sent
	missing   []string       // sent values absent
}

func count(sent []string, recs []record) tally {
	want := make(map[string]bool, len(sent))
	for _, s := range sent {
		want[s] = true
	}
	tl := tally{times: make(map[string]int, len(recs))}
	for _, r := range recs {
		tl.times[r.v]++
		if tl.times[r.v] > 1 {
			tl.duplicate++
		}
		if !want[r.v] && tl.times[r.v] == 1 {
			tl.foreign = append(tl.foreign, r.v)
		}
	}
	for _, s := range sent {
		if tl.times[s] > 0 {
			tl.present++
		} else {
			tl.missing = append(tl.missing, s)
		}
	}
	return tl
}

// some shows the first few of vs, and how many there are.
func some(vs []string) string {
	if len(vs) <= 5 {
		return fmt.Sprintf("%d: %s", len(vs), strings.Join(vs, ", "))
	}
	return fmt.Sprintf("%d, the first: %s, ...", len(vs), strings.Join(vs[:5], ", "))
}

// byPartition groups records by partition, each group in offset order.
func byPartition(recs []record) map[int32][]record {
	out := map[int32][]record{}
	for _, r := range recs {
		out[r.p] = append(out[r.p], r)
	}
	for _, rs := range out {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].o < rs[j].o })
	}
	return out
}

// at indexes records by partition and offset.
func at(recs []record) map[[2]int64]string {
	out := make(map[[2]int64]string, len(recs))
	for _, r := range recs {
		out[[2]int64{int64(r.p), r.o}] = r.v
	}
	return out
}

// exactly fails t unless printed holds every record of truth once and
// nothing else, each at the partition and offset truth has it.
func exactly(t *testing.T, who string, printed, truth []record) (duplicates int) {
	t.Helper()
	where := at(truth)
	seen := map[[2]int64]int{}
	var wrong, dups []string
	for _, r := range printed {
		k := [2]int64{int64(r.p), r.o}
		seen[k]++
		if seen[k] > 1 {
			duplicates++
			dups = append(dups, fmt.Sprintf("%d/%d", r.p, r.o))
		}
		if v, ok := where[k]; !ok || v != r.v {
			wrong = append(wrong, fmt.Sprintf("%d/%d %q (kcat: %q)", r.p, r.o, r.v, v))
		}
	}
	var missing []string
	for _, r := range truth {
		if seen[[2]int64{int64(r.p), r.o}] == 0 {
			missing = append(missing, fmt.Sprintf("%d/%d %s", r.p, r.o, r.v))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s missed messages kcat reads: %s", who, some(missing))
	}
	if len(dups) > 0 {
		t.Errorf("%s printed messages twice: %s", who, some(dups))
	}
	if len(wrong) > 0 {
		t.Errorf("%s printed what kcat does not read there: %s", who, some(wrong))
	}
	return duplicates
}
