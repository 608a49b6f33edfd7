package produce

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSplitterBlocks: records stay intact in their blocks while these are
// held, however much is read after them, and blocks released by every
// holder are read into again.
func TestSplitterBlocks(t *testing.T) {
	var in strings.Builder
	var want []string
	for i := 0; i < 5000; i++ {
		s := fmt.Sprintf("%d-%s", i, strings.Repeat("r", i%500))
		want = append(want, s)
		in.WriteString(s + "\n")
	}
	pool := newBlockPool()
	read := func() (got [][]byte, held []*block) {
		s := newSplitter(strings.NewReader(in.String()), nil, 0)
		s.pool = pool
		for {
			rec, err := s.next()
			if err == io.EOF {
				return got, held
			}
			if err != nil {
				t.Fatal(err)
			}
			// A holder per record, as a handover holds its block.
			got = append(got, rec)
			held = append(held, s.cur.hold())
		}
	}
	got, held := read()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if string(got[i]) != want[i] {
			t.Fatalf("record %d is %.40q..., want %.40q...", i, got[i], want[i])
		}
	}
	blocks := map[*block]bool{}
	for _, b := range held {
		blocks[b] = true
	}
	if len(blocks) < 3 {
		t.Fatalf("the input filled %d blocks, want several", len(blocks))
	}
	for _, b := range held {
		b.release()
	}
	if len(pool) == 0 {
		t.Fatal("no block came back to the pool once released")
	}
	_, again := read()
	reused := 0
	for _, b := range again {
		if blocks[b] {
			reused++
		}
	}
	if reused == 0 {
		t.Error("a second input read into none of the blocks released by the first")
	}
}

// TestRegularFile: only a regular file's reads are known not to wait for
// more input, so only its handovers say no pause.
func TestRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(path, []byte("a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	for _, c := range []struct {
		name string
		r    io.Reader
		want bool
	}{{"regular file", f, true}, {"pipe", pr, false}, {"in memory", strings.NewReader("a\n"), false}} {
		if got := regularFile(c.r); got != c.want {
			t.Errorf("regularFile(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}
