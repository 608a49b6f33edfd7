package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sync"

	"github.com/streamctl/streamctl/consume"
)

// lineExec keeps Concurrency long-running commands; a lane's items all go
// to the same one, so its acknowledgements come back in the lane's order.
// Lines are written ahead of the acknowledgements (pipelined): a command
// sees the next record while it answers for one before.
type lineExec struct {
	r      *Runner
	agents []*lineAgent
	// split is enqueue's, per agent (the consume loop's).
	split [][]*item
}

type lineAgent struct {
	r     *Runner
	cmd   *exec.Cmd
	stdin io.WriteCloser
	w     *bufio.Writer

	mu sync.Mutex
	// queue is not written yet; waiting is written and not acknowledged,
	// in the order written.
	queue, waiting []*item
	wake           chan struct{}
	quit           chan struct{}
	// dead says the command ended: nothing more is written.
	dead bool
	done chan struct{} // closed when the reader ended
	// waited says the reader waited for the command (it ended with
	// records unanswered), which then ended with exit.
	waited bool
	exit   error

	// its, oks and tickets are the reader's, kept from chunk to chunk.
	its, oks []*item
	tickets  []consume.Ticket
}

// maxAck bounds an acknowledgement line, as bufio.Scanner would.
const maxAck = 1 << 20

func newLineExec(r *Runner) (*lineExec, error) {
	e := &lineExec{r: r, split: make([][]*item, r.o.Concurrency)}
	for range r.o.Concurrency {
		a, err := startAgent(r, len(e.agents))
		if err != nil {
			_ = e.close()
			return nil, err
		}
		e.agents = append(e.agents, a)
	}
	return e, nil
}

func startAgent(r *Runner, n int) (*lineAgent, error) {
	cmd := exec.Command("sh", "-c", r.o.Command)
	cmd.Env = r.o.Env
	setKillWithParent(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	a := &lineAgent{r: r, cmd: cmd, stdin: stdin, w: bufio.NewWriterSize(stdin, 64<<10),
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	cmd.Stderr = &agentStderr{a: a, prefix: fmt.Sprintf("agent %d: ", n)}
	if err := start(cmd); err != nil {
		return nil, fmt.Errorf("starting the command: %w", err)
	}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		a.write()
	}()
	go func() {
		defer r.wg.Done()
		a.read(stdout)
	}()
	return a, nil
}

func (e *lineExec) enqueue(its []*item) {
	if len(e.agents) == 1 {
		e.agents[0].push(its, false)
		return
	}
	for _, it := range its {
		n := it.lane % uint64(len(e.agents))
		e.split[n] = append(e.split[n], it)
	}
	for i, a := range e.agents {
		if len(e.split[i]) > 0 {
			a.push(e.split[i], false)
		}
		clear(e.split[i])
		e.split[i] = e.split[i][:0]
	}
}

// push queues its to be written (front: ahead of the queue, a retry).
func (a *lineAgent) push(its []*item, front bool) {
	a.mu.Lock()
	if a.dead {
		a.mu.Unlock()
		for _, it := range its {
			a.r.settle(it, resultDropped, nil)
		}
		return
	}
	if front {
		a.queue = append(slices.Clone(its), a.queue...)
	} else {
		a.queue = append(a.queue, its...)
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// write feeds the command its lines, flushing whenever it has no more in
// hand, until quit; then it closes the command's stdin.
func (a *lineAgent) write() {
	defer a.stdin.Close()
	var batch []*item
	var lines [][]byte
	var pinned []*slab
	for {
		a.mu.Lock()
		batch = append(batch[:0], a.queue...)
		clear(a.queue)
		a.queue = a.queue[:0]
		a.mu.Unlock()
		batch = a.r.startable(batch)
		// The lines are taken first: once waiting, an item may be
		// acknowledged (a command may answer ahead) and reused.
		lines = lines[:0]
		for _, it := range batch {
			lines = append(lines, it.line)
		}
		pinned = a.r.pin(batch, pinned[:0])
		a.mu.Lock()
		dead := a.dead
		if !dead {
			a.waiting = append(a.waiting, batch...)
		}
		a.mu.Unlock()
		if dead {
			a.r.unpin(pinned)
			for _, it := range batch {
				a.r.settle(it, resultDropped, nil)
			}
			return
		}
		clear(batch)
		if len(lines) == 0 {
			if err := a.w.Flush(); err != nil {
				a.broken(err)
				return
			}
			select {
			case <-a.wake:
				continue
			case <-a.quit:
				_ = a.w.Flush()
				return
			}
		}
		for _, l := range lines {
			if _, err := a.w.Write(l); err != nil {
				a.r.unpin(pinned)
				a.broken(err)
				return
			}
		}
		a.r.unpin(pinned)
		clear(lines)
		clear(pinned)
	}
}

// broken ends writing: the command stopped reading. The reader reports
// the records left waiting once the command's stdout ends.
func (a *lineAgent) broken(error) {
	a.mu.Lock()
	a.dead = true
	a.mu.Unlock()
	_ = a.stdin.Close()
}

// read takes one acknowledgement line per record written: "ok", or the
// failure's text. It reads what comes and settles a chunk's lines at
// once.
func (a *lineAgent) read(stdout io.Reader) {
	defer close(a.done)
	buf := make([]byte, 64<<10)
	start, end := 0, 0
	var err error
	for err == nil {
		if start == end {
			start, end = 0, 0
		}
		if end == len(buf) {
			switch {
			case start > 0:
				end = copy(buf, buf[start:end])
				start = 0
			case len(buf) >= maxAck:
				err = bufio.ErrTooLong
				continue
			default:
				buf = append(buf, make([]byte, len(buf))...)
			}
		}
		var n int
		n, err = stdout.Read(buf[end:])
		end += n
		if err != nil {
			// The last line counts without its newline, as with
			// bufio.Scanner.
			a.acks(buf[start:end])
			start = end
			break
		}
		if i := bytes.LastIndexByte(buf[start:end], '\n'); i >= 0 {
			a.acks(buf[start : start+i+1])
			start += i + 1
		}
	}
	if err == io.EOF {
		err = nil
	}
	a.mu.Lock()
	a.dead = true
	left := a.waiting
	a.waiting = nil
	queued := a.queue
	a.queue = nil
	a.mu.Unlock()
	if len(left) > 0 && err == nil {
		// Its stdout ended with answers owed: how the command ended (an
		// exit status, a signal) says why. The reads are over, so it
		// may be waited for here; close does not wait again. Its stdin
		// is closed first, so that one still reading it ends too.
		_ = a.stdin.Close()
		a.exit, a.waited = wait(a.cmd), true
		err = a.exit
	}
	for i, it := range left {
		if i == 0 && !a.r.abandoned(it) {
			a.r.settle(it, resultFailed, &AgentExitError{Waiting: it.src(), Err: err})
			continue
		}
		a.r.settle(it, resultDropped, nil)
	}
	for _, it := range queued {
		a.r.settle(it, resultDropped, nil)
	}
}

// acks settles the records the lines of b acknowledge, in order: a run
// of "ok" together, a failure on its own.
func (a *lineAgent) acks(b []byte) {
	if len(b) == 0 {
		return
	}
	n := bytes.Count(b, []byte{'\n'})
	if b[len(b)-1] != '\n' {
		n++
	}
	a.mu.Lock()
	k := min(n, len(a.waiting))
	its := append(a.its[:0], a.waiting[:k]...)
	clear(a.waiting[:k])
	a.waiting = a.waiting[k:]
	a.mu.Unlock()
	oks := a.oks[:0]
	for i := 0; len(b) > 0; {
		line := b
		if j := bytes.IndexByte(b, '\n'); j >= 0 {
			line, b = b[:j], b[j+1:]
		} else {
			b = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if i == len(its) {
			a.r.stderrLine("streamctl: ", []byte(fmt.Sprintf("the command wrote a line with no record waiting for it: %q", line)))
			continue
		}
		it := its[i]
		i++
		if string(line) == "ok" {
			oks = append(oks, it)
			continue
		}
		if len(oks) > 0 {
			a.tickets = a.r.settleOK(oks, a.tickets)
			clear(oks)
			oks = oks[:0]
		}
		a.failed(it, string(line))
	}
	if len(oks) > 0 {
		a.tickets = a.r.settleOK(oks, a.tickets)
	}
	clear(oks)
	clear(its)
	a.its, a.oks = its[:0], oks[:0]
}

// failed retries it after the backoff (written again, ahead of the queue)
// or gives up on it.
func (a *lineAgent) failed(it *item, text string) {
	r := a.r
	it.attempts++
	ce := &CommandError{Source: it.src(), Message: text, Attempts: it.attempts}
	if it.attempts > r.o.Retries {
		r.fail(it, ce)
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if !r.wait(it, r.backoff(it.attempts)) {
			r.settle(it, resultDropped, nil)
			return
		}
		a.push([]*item{it}, true)
	}()
}

func (e *lineExec) drop(tps map[consume.TopicPartition]bool) []*item {
	var out []*item
	for _, a := range e.agents {
		a.mu.Lock()
		keep := a.queue[:0]
		for _, it := range a.queue {
			if tps == nil || tps[it.ticket.TopicPartition] {
				out = append(out, it)
			} else {
				keep = append(keep, it)
			}
		}
		a.queue = keep
		a.mu.Unlock()
	}
	return out
}

// close ends the commands: EOF on their stdin, then wait for them.
func (e *lineExec) close() error {
	for _, a := range e.agents {
		close(a.quit)
	}
	var first error
	for _, a := range e.agents {
		<-a.done
		err := a.exit
		if !a.waited {
			err = wait(a.cmd)
		}
		if err != nil && first == nil {
			first = fmt.Errorf("the command: %w", err)
		}
	}
	return first
}

// agentStderr prefixes each line of a long-running command's stderr with
// "agent N: " (N counts the --concurrency commands from 0): a command
// reads ahead of its acknowledgements, so no one record can be named.
type agentStderr struct {
	a      *lineAgent
	prefix string
	buf    []byte
}

func (s *agentStderr) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			break
		}
		s.a.r.stderrLine(s.prefix, s.buf[:i])
		s.buf = s.buf[i+1:]
	}
	return len(p), nil
}
