package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
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
}

func newLineExec(r *Runner) (*lineExec, error) {
	e := &lineExec{r: r}
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

func (e *lineExec) enqueue(it *item) {
	a := e.agents[it.lane%uint64(len(e.agents))]
	a.push(it, false)
}

func (a *lineAgent) push(it *item, front bool) {
	a.mu.Lock()
	if a.dead {
		a.mu.Unlock()
		a.r.settle(it, resultDropped, nil)
		return
	}
	if front {
		a.queue = append([]*item{it}, a.queue...)
	} else {
		a.queue = append(a.queue, it)
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
	for {
		a.mu.Lock()
		batch = append(batch[:0], a.queue...)
		a.queue = a.queue[:0]
		a.mu.Unlock()
		batch = a.r.startable(batch)
		a.mu.Lock()
		dead := a.dead
		if !dead {
			a.waiting = append(a.waiting, batch...)
		}
		a.mu.Unlock()
		if dead {
			for _, it := range batch {
				a.r.settle(it, resultDropped, nil)
			}
			return
		}
		if len(batch) == 0 {
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
		for _, it := range batch {
			if _, err := a.w.Write(it.line); err != nil {
				a.broken(err)
				return
			}
		}
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
// failure's text.
func (a *lineAgent) read(stdout io.Reader) {
	defer close(a.done)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		ack := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		a.mu.Lock()
		if len(a.waiting) == 0 {
			a.mu.Unlock()
			a.r.stderrLine("streamctl: ", []byte(fmt.Sprintf("the command wrote a line with no record waiting for it: %q", ack)))
			continue
		}
		it := a.waiting[0]
		a.waiting = a.waiting[1:]
		a.mu.Unlock()
		if string(ack) == "ok" {
			a.r.settle(it, resultOK, nil)
			continue
		}
		a.failed(it, string(ack))
	}
	err := sc.Err()
	a.mu.Lock()
	a.dead = true
	left := a.waiting
	a.waiting = nil
	queued := a.queue
	a.queue = nil
	a.mu.Unlock()
	for i, it := range left {
		if i == 0 && !a.r.abandoned(it) {
			a.r.settle(it, resultFailed, &AgentExitError{Waiting: it.src, Err: err})
			continue
		}
		a.r.settle(it, resultDropped, nil)
	}
	for _, it := range queued {
		a.r.settle(it, resultDropped, nil)
	}
}

// failed retries it after the backoff (written again, ahead of the queue)
// or gives up on it.
func (a *lineAgent) failed(it *item, text string) {
	r := a.r
	it.attempts++
	ce := &CommandError{Source: it.src, Message: text, Attempts: it.attempts}
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
		a.push(it, true)
	}()
}

func (e *lineExec) drop(tps map[consume.TopicPartition]bool) []*item {
	var out []*item
	for _, a := range e.agents {
		a.mu.Lock()
		keep := a.queue[:0]
		for _, it := range a.queue {
			if tps == nil || tps[it.src.TopicPartition] {
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
		if err := wait(a.cmd); err != nil && first == nil {
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
