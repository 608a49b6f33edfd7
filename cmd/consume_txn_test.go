package cmd

import (
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// produceTxn writes values in one committed (or aborted) transaction, so the
// log ends with a control record no consumer ever receives.
func produceTxn(t *testing.T, addr, topic string, commit bool, vals ...string) {
	t.Helper()
	conf := kafkatest.Config()
	conf.Producer.Idempotent = true
	conf.Producer.Transaction.ID = topic + "-txn"
	conf.Net.MaxOpenRequests = 1
	conf.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{addr}, conf)
	if err != nil {
		t.Fatalf("transactional producer: %v", err)
	}
	defer p.Close()
	if err := p.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	for _, v := range vals {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if commit {
		err = p.CommitTxn()
	} else {
		err = p.AbortTxn()
	}
	if err != nil {
		t.Fatal(err)
	}
	waitForStable(t, addr, topic)
}

// waitForStable waits until partition 0's last stable offset reaches its
// end: Kafka writes a transaction's markers after EndTxn returns, and until
// then read_committed readers (and -e) stop before the transaction.
func waitForStable(t *testing.T, addr, topic string) {
	t.Helper()
	c := kafkatest.Client(t, addr)
	leader, err := c.Leader(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	offset := func(iso sarama.IsolationLevel) int64 {
		req := &sarama.OffsetRequest{Version: 2, IsolationLevel: iso}
		req.AddBlock(topic, 0, sarama.OffsetNewest, 1)
		resp, err := leader.GetAvailableOffsets(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetBlock(topic, 0).Offset
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if offset(sarama.ReadCommitted) >= offset(sarama.ReadUncommitted) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: the transaction markers were not written in 30s", topic)
		}
	}
}

// TestConsumeExitPastTransactionMarker is the hang kcl PR #64 fixed: the
// last offset below the end is a commit marker, not a record.
func TestConsumeExitPastTransactionMarker(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1)
	produceTxn(t, addr, topic, true, "t1", "t2")
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "--timeout", "30s")
	if r.Stdout != "t1\nt2\n" {
		t.Errorf("stdout = %q, want the two committed messages", r.Stdout)
	}
	r = mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "-g", topic+"-g", "--timeout", "30s")
	if r.Stdout != "t1\nt2\n" {
		t.Errorf("group: stdout = %q, want the two committed messages", r.Stdout)
	}
}

func TestConsumeExitAfterAbortedTransactionOnly(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1)
	produceTxn(t, addr, topic, false, "gone")
	// Starting at the marker (-o -1) leaves nothing but the marker below the end.
	mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "-o", "-1", "--timeout", "30s")
}

// TestConsumeHidesAbortedTransactions: by default (read_committed, as kcat)
// an aborted transaction's records are never printed, alone or in a
// group; --isolation read_uncommitted shows them.
func TestConsumeHidesAbortedTransactions(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("before")...)
	produceTxn(t, addr, topic, false, "aborted-1", "aborted-2")
	kafkatest.Produce(t, addr, topic, kafkatest.Message{Value: []byte("after")})
	for _, args := range [][]string{{}, {"-g", topic + "-g"}} {
		r := mustRun(t, 0, "", append([]string{"consume", topic, "-b", addr, "-e", "--timeout", "30s"}, args...)...)
		if r.Stdout != "before\nafter\n" {
			t.Errorf("consume %v: stdout %q, want the committed records only", args, r.Stdout)
		}
	}
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "--isolation", "read_uncommitted", "--timeout", "30s")
	if r.Stdout != "before\naborted-1\naborted-2\nafter\n" {
		t.Errorf("read_uncommitted: stdout %q, want every record", r.Stdout)
	}
	mustRun(t, ExitUsage, "", "consume", topic, "-b", addr, "--isolation", "sometimes")
}

// TestConsumeGroupCommitsPastTransactionMarker: a group that read a
// transactional topic to its end commits the end, past the commit marker
// no consumer receives, as the Java consumer does, so that its lag is 0
// (offsets --wait-lag 0 is reached). Before, it committed the last
// record's offset + 1: a lag of 1 for ever, with and without --exec.
func TestConsumeGroupCommitsPastTransactionMarker(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"print", nil},
		{"exec", []string{"--exec", "cat; echo"}},
		{"aborted", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := kafkatest.Broker(t)
			topic := seed(t, addr, 1)
			produceTxn(t, addr, topic, true, "t1", "t2")
			if c.name == "aborted" {
				produceTxn(t, addr, topic, false, "gone")
			}
			group := topic + "-g"
			r := mustRun(t, 0, "", append([]string{"consume", topic, "-b", addr, "-e", "-g", group, "--timeout", "30s"}, c.args...)...)
			if r.Stdout != "t1\nt2\n" {
				t.Errorf("stdout = %q, want the two committed messages", r.Stdout)
			}
			want := int64(3) // t1, t2, the commit marker
			if c.name == "aborted" {
				want = 5 // and the aborted record with its marker
			}
			if got := groupOffset(t, addr, group, topic); got != want {
				t.Errorf("committed offset %d, want %d (the end)", got, want)
			}
			mustRun(t, 0, "", "offsets", topic, "-b", addr, "-g", group, "--wait-lag", "0", "--timeout", "5s")
		})
	}
}
