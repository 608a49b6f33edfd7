package faults_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// proc is a program the test runs in the background: streamctl or kcat.
// Its stdout is read line by line, as fast as it comes or at a set rate
// (a slow reader); its stderr is kept whole.
type proc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser // nil unless asked for

	rate atomic.Int64 // stdout lines per second the reader takes; 0: no limit

	mu      sync.Mutex
	lines   []outLine
	partial string // an unterminated last stdout line
	killed  bool   // sent SIGKILL by the test: partial is its cut-off write
	stderr  bytes.Buffer

	done   chan struct{} // closed once it exited and its stdout is drained
	code   int
	exited time.Time
}

type outLine struct {
	text string
	at   time.Time // when the test read it
}

// start runs program with args in the background, killed by its pid at
// cleanup if it is still running then. With input, its stdin is a pipe.
func start(t *testing.T, name string, input bool, program string, args ...string) *proc {
	t.Helper()
	return startRate(t, name, input, 0, program, args...)
}

// startRate is start with a reader that takes at most rate stdout lines a
// second until told otherwise (p.rate.Store).
func startRate(t *testing.T, name string, input bool, rate int64, program string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(program, args...), done: make(chan struct{})}
	p.rate.Store(rate)
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if input {
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Logf("%s: pid %d: %s %s", name, p.cmd.Process.Pid, program, strings.Join(args, " "))
	go p.read(out)
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Errorf("%s (pid %d) still running 30s after SIGKILL", name, p.cmd.Process.Pid)
		}
	})
	return p
}

// streamctlProc starts the built streamctl with args, against the cluster.
func streamctlProc(t *testing.T, name string, input bool, args ...string) *proc {
	t.Helper()
	return start(t, name, input, streamctl, append(args, "-b", brokers)...)
}

// slowStreamctl is streamctlProc with a reader of rate stdout lines a second.
func slowStreamctl(t *testing.T, name string, rate int64, args ...string) *proc {
	t.Helper()
	return startRate(t, name, false, rate, streamctl, append(args, "-b", brokers)...)
}

func (p *proc) read(out io.Reader) {
	r := bufio.NewReaderSize(out, 64<<10)
	n := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil && line != "" {
			p.mu.Lock()
			p.partial = line
			p.mu.Unlock()
			break
		}
		if line != "" {
			p.mu.Lock()
			p.lines = append(p.lines, outLine{strings.TrimSuffix(line, "\n"), time.Now()})
			p.mu.Unlock()
			n++
			// 50 lines per 50/rate seconds: a reader slower than streamctl
			// fills the pipe and streamctl waits on its writes.
			if rate := p.rate.Load(); rate > 0 && n%50 == 0 {
				time.Sleep(50 * time.Second / time.Duration(rate))
			}
		}
		if err != nil {
			break
		}
	}
	err := p.cmd.Wait()
	p.mu.Lock()
	p.exited = time.Now()
	p.code = 0
	if err != nil {
		p.code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		}
	}
	p.mu.Unlock()
	close(p.done)
}

// count is how many stdout lines were read so far.
func (p *proc) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// unterminated is the last stdout line if it had no newline, unless the
// test SIGKILLed the process (which may cut a write short).
func (p *proc) unterminated() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killed {
		return ""
	}
	return p.partial
}

// output is every complete stdout line read so far.
func (p *proc) output() []outLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]outLine(nil), p.lines...)
}

// errText is what it wrote on stderr so far.
func (p *proc) errText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// waitLines waits until n stdout lines were read.
func (p *proc) waitLines(t *testing.T, n int, limit time.Duration) {
	t.Helper()
	poll(t, fmt.Sprintf("%d lines from %s", n, p.name), limit, func() (bool, string) {
		got := p.count()
		if got >= n {
			return true, ""
		}
		if !p.running() {
			return false, fmt.Sprintf("it exited (%d) after %d lines:\n%s", p.code, got, p.errText())
		}
		return false, fmt.Sprintf("%d lines so far", got)
	})
}

// wait waits for it to exit and returns its exit code.
func (p *proc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("%s did not exit within %s; stderr:\n%s", p.name, limit, p.errText())
	}
	return p.code
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) time.Time {
	t.Helper()
	if sig == syscall.SIGKILL {
		p.mu.Lock()
		p.killed = true
		p.mu.Unlock()
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: %v: %v", p.name, sig, err)
	}
	t.Logf("%s: sent %v", p.name, sig)
	return time.Now()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// feeder writes lines into a process's stdin at a bounded rate, then
// closes it. It stops early when told to, or when the process stops
// reading.
type feeder struct {
	n    atomic.Int64 // lines written
	stop chan struct{}
	once sync.Once
	done chan struct{}
}

// feed starts writing lines to w at rate lines per second (0: at once).
func feed(w io.WriteCloser, lines []string, rate int) *feeder {
	f := &feeder{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer w.Close()
		bw := bufio.NewWriterSize(w, 64<<10)
		begin := time.Now()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		i := 0
		for i < len(lines) {
			end := len(lines)
			if rate > 0 {
				// Whatever is due by now, at rate lines a second.
				end = min(len(lines), int(time.Since(begin).Seconds()*float64(rate))+1)
			}
			for ; i < end; i++ {
				if _, err := bw.WriteString(lines[i] + "\n"); err != nil {
					return
				}
			}
			if bw.Flush() != nil {
				return
			}
			f.n.Store(int64(i))
			if i == len(lines) {
				return
			}
			select {
			case <-f.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return f
}

// end stops feeding (if it still does) and waits until stdin is closed.
func (f *feeder) end() int {
	f.once.Do(func() { close(f.stop) })
	<-f.done
	return int(f.n.Load())
}

// wait waits until every line was written and stdin is closed.
func (f *feeder) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(limit):
		t.Fatalf("feeding stdin took longer than %s", limit)
	}
	return int(f.n.Load())
}

// numbered returns n distinct lines "PREFIX-0000000" ... for one load.
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%07d", prefix, i)
	}
	return out
}

// record is one message as kcat or streamctl printed it with the format
// "%p %o %s\n".
type record struct {
	p int32
	o int64
	v string
}

func parseRecords(t *testing.T, who string, lines []outLine) []record {
	t.Helper()
	out := make([]record, 0, len(lines))
	for i, l := range lines {
		f := strings.SplitN(l.text, " ", 3)
		if len(f) != 3 {
			t.Fatalf("%s line %d: %q is not \"partition offset value\"", who, i+1, l.text)
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s line %d: %q is not \"partition offset value\"", who, i+1, l.text)
		}
		out = append(out, record{int32(p), o, f[2]})
	}
	return out
}

// readTopic is what topic holds now, read by kcat from the start of every
// partition to its end.
func readTopic(t *testing.T, topic string) []record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, kcat, "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q",
		"-f", `%p %o %s\n`, "-X", "isolation.level=read_uncommitted")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat reading %s: %v\n%s", topic, err, errb.String())
	}
	var lines []outLine
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if l != "" {
			lines = append(lines, outLine{text: l})
		}
	}
	return parseRecords(t, "kcat", lines)
}

// kcatProducer starts kcat producing the lines it gets on stdin to topic,
// idempotent, acks=all, keyless (spread over the partitions).
func kcatProducer(t *testing.T, topic string) *proc {
	t.Helper()
	return start(t, "kcat -P", true, kcat, "-P", "-b", brokers, "-t", topic, "-q",
		"-X", "acks=all", "-X", "enable.idempotence=true", "-X", "linger.ms=5",
		"-X", "message.timeout.ms=120000")
}

// fill writes lines to topic with kcat and waits until kcat exits 0.
func fill(t *testing.T, topic string, lines []string) {
	t.Helper()
	k := kcatProducer(t, topic)
	feed(k.stdin, lines, 0).wait(t, 120*time.Second)
	if code := k.wait(t, 180*time.Second); code != 0 {
		t.Fatalf("kcat producing to %s: exit %d\n%s", topic, code, k.errText())
	}
}

// printedBy is every message p printed, failing t if its output ended in
// the middle of a line.
func printedBy(t *testing.T, p *proc) []record {
	t.Helper()
	if l := p.unterminated(); l != "" {
		t.Errorf("%s: its output ends in an unterminated line %q", p.name, l)
	}
	return parseRecords(t, p.name, p.output())
}
