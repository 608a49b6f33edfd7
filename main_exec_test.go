package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// execProc is streamctl running as a process of its own.
type execProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{}
	err    error
}

func startStreamctl(t *testing.T, args ...string) *execProc {
	t.Helper()
	p := &execProc{exited: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), asMain+"=1")
	p.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stderr.Write(b)
	})
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (p *execProc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *execProc) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("streamctl did not end in 60s\nstderr:\n%s", p.stderrText())
	}
}

// waitUntil polls cond until it holds, failing t after 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so after 30s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// committedOffset is the group's committed offset of partition 0 (-1: none).
func committedOffset(t *testing.T, addr, group, topic string) int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdminFromClient(kafkatest.Client(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
	if err != nil {
		return -1
	}
	if b := resp.GetBlock(topic, 0); b != nil {
		return b.Offset
	}
	return -1
}

// offsetsIn reads the offsets a test's command appended to path.
func offsetsIn(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

func seedExec(t *testing.T, n int) (addr, topic, group string) {
	t.Helper()
	addr = kafkatest.Broker(t)
	topic = kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 1)
	var msgs []kafkatest.Message
	for i := range n {
		msgs = append(msgs, kafkatest.Message{Value: []byte(strconv.Itoa(i))})
	}
	kafkatest.Produce(t, addr, topic, msgs...)
	return addr, topic, topic + "-g"
}

// blockAt is a command that records each offset it starts and finishes
// in dir, and at offset stop waits (for ever, or until dir/go exists).
func blockAt(dir string, stop int) string {
	return fmt.Sprintf(`echo $STREAMCTL_OFFSET >> %[1]s/started
if [ "$STREAMCTL_OFFSET" = %[2]d ]; then touch %[1]s/blocked; while [ ! -e %[1]s/go ]; do sleep 0.01; done; fi
echo $STREAMCTL_OFFSET >> %[1]s/done`, dir, stop)
}

// TestExecKilledThenRestarted: streamctl is SIGKILLed while CMD runs for
// offset 10, what came before committed; a restart repeats offset 10 (the
// one in flight) and nothing else, and skips nothing.
func TestExecKilledThenRestarted(t *testing.T) {
	addr, topic, group := seedExec(t, 20)
	dir := t.TempDir()
	p := startStreamctl(t, "consume", topic, "-b", addr, "-g", group, "--exec", blockAt(dir, 10))
	waitUntil(t, "CMD runs for offset 10", func() bool { return exists(filepath.Join(dir, "blocked")) })
	waitUntil(t, "offsets 0-9 are committed", func() bool { return committedOffset(t, addr, group, topic) == 10 })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	first := offsetsIn(t, filepath.Join(dir, "done"))
	if !slices.Equal(first, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("first run did %v, want 0-9", first)
	}
	again := filepath.Join(dir, "again")
	q := startStreamctl(t, "consume", topic, "-b", addr, "-g", group, "-e", "--exec", "echo $STREAMCTL_OFFSET >> "+again)
	q.wait(t)
	if q.err != nil {
		t.Fatalf("restart: %v\nstderr:\n%s", q.err, q.stderrText())
	}
	want := []int{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	if got := offsetsIn(t, again); !slices.Equal(got, want) {
		t.Fatalf("restart did %v, want %v: only the message in flight repeated, none skipped", got, want)
	}
}

// TestExecSignalLetsInFlightFinish: on SIGTERM the command under way
// finishes, the messages queued behind it are not started, what succeeded
// is committed and streamctl exits 0.
func TestExecSignalLetsInFlightFinish(t *testing.T) {
	addr, topic, group := seedExec(t, 20)
	dir := t.TempDir()
	p := startStreamctl(t, "consume", topic, "-b", addr, "-g", group, "--exec", blockAt(dir, 10))
	waitUntil(t, "CMD runs for offset 10", func() bool { return exists(filepath.Join(dir, "blocked")) })
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "streamctl says it is stopping", func() bool { return strings.Contains(p.stderrText(), "stopping: commands under way finish first") })
	// The stop waits for offset 10's command, which now may finish.
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	if p.err != nil {
		t.Fatalf("streamctl: %v, want exit 0\nstderr:\n%s", p.err, p.stderrText())
	}
	if got := offsetsIn(t, filepath.Join(dir, "started")); len(got) != 11 {
		t.Fatalf("started %v, want 0-10 only: queued messages are not started after the signal", got)
	}
	if got := offsetsIn(t, filepath.Join(dir, "done")); len(got) != 11 {
		t.Fatalf("done %v, want 0-10: the one in flight finishes", got)
	}
	if got := committedOffset(t, addr, group, topic); got != 11 {
		t.Fatalf("committed %d, want 11", got)
	}
}

// alive reports whether process pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestExecSecondSignalKillsCommands: a second signal ends streamctl at
// once (exit 143) and kills the commands under way with what they
// started, as the README promises. Before, only CMD's shell died (the
// kernel's parent-death signal reaches the direct child alone): a program
// the shell had started (here a sleep) went on running without streamctl.
func TestExecSecondSignalKillsCommands(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	for _, mode := range []string{"message", "line"} {
		t.Run(mode, func(t *testing.T) {
			addr, topic, group := seedExec(t, 3)
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "pid")
			script := fmt.Sprintf(`sleep 300 & echo $! > %s.tmp; mv %[1]s.tmp %[1]s; wait`, pidFile)
			p := startStreamctl(t, "consume", topic, "-b", addr, "-g", group, "--exec-mode", mode, "--exec", script)
			waitUntil(t, "CMD started its child", func() bool { return exists(pidFile) })
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			child, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "streamctl says it is stopping", func() bool { return strings.Contains(p.stderrText(), "stopping: commands under way finish first") })
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			p.wait(t)
			if code := p.cmd.ProcessState.ExitCode(); code != 143 {
				t.Fatalf("exit %d, want 143\nstderr:\n%s", code, p.stderrText())
			}
			for deadline := time.Now().Add(10 * time.Second); alive(child); {
				if time.Now().After(deadline) {
					t.Fatalf("CMD's child %d still runs 10s after streamctl ended", child)
				}
				time.Sleep(10 * time.Millisecond) // polling the child's state, with a deadline
			}
		})
	}
}
