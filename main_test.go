package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// asMain makes the test binary run main() instead of the tests, so that a
// test can start streamctl as a process of its own without building it.
const asMain = "STREAMCTL_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestSecondSignalStopsAtOnce: a background job of a script starts with
// SIGINT ignored. The first SIGINT asks for a clean stop, here waiting for
// a message the broker never acknowledges; the second stops at once with
// exit 130, long before the delivery timeout.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads signal state from /proc")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// No produce request is ever answered; the first one says streamctl is
	// running, its signal handler installed.
	producing := make(chan struct{})
	var once sync.Once
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		once.Do(func() { close(producing) })
		return nil, nil, true
	})

	cmd := exec.Command("sh", "-c", `trap "" INT; exec "$0" "$@"`, os.Args[0],
		"produce", "-b", c.ListenAddrs()[0], "t", "--delivery-timeout", "60s")
	cmd.Env = append(os.Environ(), asMain+"=1")
	stdin, err := cmd.StdinPipe() // never closed before the end: the input goes on
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	if _, err := io.WriteString(stdin, "one\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-producing:
	case <-exited:
		t.Fatalf("streamctl exited before producing: %v\nstderr:\n%s", waitErr, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("streamctl sent no produce request in 30s")
	}
	pid := cmd.Process.Pid
	if ignored(t, pid, syscall.SIGINT) {
		t.Fatal("streamctl ignores SIGINT while it runs")
	}

	interrupt(t, pid)
	// The Go runtime merges a signal into one of its kind that the program
	// has not taken yet, and nothing outside says when it was taken: the
	// second SIGINT is sent again until streamctl ends. Once streamctl
	// restores "ignored", no number of them would stop it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		interrupt(t, pid)
		select {
		case <-exited:
			var ee *exec.ExitError
			if !errors.As(waitErr, &ee) || ee.ExitCode() != 130 {
				t.Errorf("after the second SIGINT: %v, want exit status 130\nstderr:\n%s", waitErr, stderr.String())
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("streamctl still runs 10s after the second SIGINT (SIGINT ignored: %v)", ignored(t, pid, syscall.SIGINT))
		}
	}
}

// interrupt sends pid a SIGINT and waits until the process has taken it,
// so that a second one is not merged into the first while pending.
func interrupt(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGINT); errors.Is(err, syscall.ESRCH) {
		return // exited, and reaped
	} else if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, err := procStatus(pid)
		if err != nil {
			return // exited
		}
		if !has(t, st["SigPnd"], syscall.SIGINT) && !has(t, st["ShdPnd"], syscall.SIGINT) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("SIGINT still pending after 10s")
		}
		time.Sleep(time.Millisecond) // polling the process state, with a deadline
	}
}

// ignored says whether pid ignores sig.
func ignored(t *testing.T, pid int, sig syscall.Signal) bool {
	t.Helper()
	st, err := procStatus(pid)
	if err != nil {
		return false
	}
	return has(t, st["SigIgn"], sig)
}

// procStatus reads the fields of /proc/PID/status.
func procStatus(pid int) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	st := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			st[k] = strings.TrimSpace(v)
		}
	}
	if st["State"] == "" || strings.HasPrefix(st["State"], "Z") {
		return nil, errors.New("exited")
	}
	return st, nil
}

// has says whether the hexadecimal signal mask holds sig.
func has(t *testing.T, mask string, sig syscall.Signal) bool {
	t.Helper()
	m, err := strconv.ParseUint(mask, 16, 64)
	if err != nil {
		t.Fatalf("signal mask %q: %v", mask, err)
	}
	return m&(1<<(uint(sig)-1)) != 0
}
