package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// TestExactlyOnceKilledThenRestarted: streamctl with --to --exactly-once
// is SIGKILLed mid-run (while CMD runs for offset 20, after some commits);
// a restart with the same --instance-id aborts what the killed one left
// open and goes on. An independent read_committed reader of the --to
// topic then sees each input's two lines exactly once: no duplicate, no
// loss.
func TestExactlyOnceKilledThenRestarted(t *testing.T) {
	addr, topic, group := seedExec(t, 30)
	out := topic + "-out"
	dir := t.TempDir()
	cmd := `v=$(cat); echo "$v-a"; echo "$v-b"; ` + blockAt(dir, 20)
	args := []string{"consume", topic, "-b", addr, "-g", group, "--to", out, "--create-partitions", "2",
		"--exactly-once", "--instance-id", "w1"}
	p := startStreamctl(t, append(args, "--exec", cmd)...)
	waitUntil(t, "CMD runs for offset 20", func() bool { return exists(filepath.Join(dir, "blocked")) })
	waitUntil(t, "some offsets are committed", func() bool { return committedOffset(t, addr, group, topic) >= 5 })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	q := startStreamctl(t, append(args, "-e", "--exec", `v=$(cat); echo "$v-a"; echo "$v-b"`)...)
	q.wait(t)
	if q.err != nil {
		t.Fatalf("restart: %v\nstderr:\n%s", q.err, q.stderr.String())
	}
	var want, got []string
	for i := range 30 {
		want = append(want, fmt.Sprintf("%d-a", i), fmt.Sprintf("%d-b", i))
	}
	for _, r := range kafkatest.ReadCommitted(t, addr, out) {
		got = append(got, string(r.Value))
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("read_committed view of %s (-want +got):\n%s\nfirst run's stderr:\n%s", out, diff, p.stderr.String())
	}
	// A reader of another client library agrees, when it is installed.
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, kcat, "-C", "-q", "-e", "-b", addr, "-t", out, "-f", "%s\n",
		"-X", "isolation.level=read_committed").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	got = nil
	for _, v := range strings.Fields(string(b)) {
		if v != "streamctl-kafkatest-end" { // ReadCommitted's end marks
			got = append(got, v)
		}
	}
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("kcat's read_committed view of %s (-want +got):\n%s", out, diff)
	}
}
