package agent

import (
	"bytes"
	"errors"
	"os/exec"

	"github.com/streamctl/streamctl/consume"
)

// messageExec runs the command once per record: each lane's items one
// after another, up to Concurrency of them at once.
type messageExec struct {
	r     *Runner
	slots chan struct{}
	lanes map[uint64]*lane // under r.mu
}

type lane struct {
	queue []*item
}

func newMessageExec(r *Runner) *messageExec {
	return &messageExec{r: r, slots: make(chan struct{}, r.o.Concurrency), lanes: map[uint64]*lane{}}
}

func (e *messageExec) enqueue(its []*item) {
	for _, it := range its {
		e.enqueueOne(it)
	}
}

func (e *messageExec) enqueueOne(it *item) {
	r := e.r
	r.mu.Lock()
	l := e.lanes[it.lane]
	if l != nil {
		l.queue = append(l.queue, it)
		r.mu.Unlock()
		return
	}
	l = &lane{queue: []*item{it}}
	e.lanes[it.lane] = l
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		e.work(it.lane, l)
	}()
}

// work runs a lane's items until its queue is empty.
func (e *messageExec) work(key uint64, l *lane) {
	r := e.r
	for {
		r.mu.Lock()
		if len(l.queue) == 0 {
			delete(e.lanes, key)
			r.mu.Unlock()
			return
		}
		it := l.queue[0]
		l.queue = l.queue[1:]
		r.mu.Unlock()
		e.slots <- struct{}{}
		e.run(it)
		<-e.slots
	}
}

// run tries it, with retries, and settles it.
func (e *messageExec) run(it *item) {
	r := e.r
	for attempt := 1; ; attempt++ {
		if r.abandoned(it) {
			r.settle(it, resultDropped, nil)
			return
		}
		stdout, ce := e.once(it)
		if ce == nil {
			it.msg.stdout = stdout
			r.settle(it, resultOK, nil)
			return
		}
		ce.Attempts = attempt
		if attempt > r.o.Retries {
			r.fail(it, ce)
			return
		}
		if !r.wait(it, r.backoff(attempt)) {
			r.settle(it, resultDropped, nil)
			return
		}
	}
}

// once runs the command for it, its stderr going out line by line.
func (e *messageExec) once(it *item) ([]byte, *CommandError) {
	r := e.r
	cmd := exec.Command("sh", "-c", r.o.Command)
	cmd.Env = it.env(r.o.Env)
	cmd.Stdin = bytes.NewReader(it.msg.value)
	var out bytes.Buffer
	cmd.Stdout = &out
	se := &stderrLines{r: r, prefix: it.src().String() + ": "}
	cmd.Stderr = se
	setKillWithParent(cmd)
	err := run(cmd)
	se.flush()
	if err == nil {
		return out.Bytes(), nil
	}
	ce := &CommandError{Source: it.src(), ExitCode: -1, Message: se.first}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ce.ExitCode = ee.ExitCode()
	} else if ce.Message == "" {
		ce.Message = err.Error()
	}
	return nil, ce
}

func (e *messageExec) drop(tps map[consume.TopicPartition]bool) []*item {
	r := e.r
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*item
	for _, l := range e.lanes {
		keep := l.queue[:0]
		for _, it := range l.queue {
			if tps == nil || tps[it.ticket.TopicPartition] {
				out = append(out, it)
			} else {
				keep = append(keep, it)
			}
		}
		l.queue = keep
	}
	return out
}

func (e *messageExec) close() error { return nil }

// stderrLines writes a command's stderr to streamctl's, a prefixed line
// at a time, and keeps the first line for a failure's message.
type stderrLines struct {
	r      *Runner
	prefix string
	buf    []byte
	first  string
	seen   bool
}

func (s *stderrLines) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			break
		}
		s.line(s.buf[:i])
		s.buf = s.buf[i+1:]
	}
	return len(p), nil
}

func (s *stderrLines) line(l []byte) {
	if !s.seen {
		s.first, s.seen = string(l), true
	}
	s.r.stderrLine(s.prefix, l)
}

func (s *stderrLines) flush() {
	if len(s.buf) > 0 {
		s.line(s.buf)
		s.buf = nil
	}
}
