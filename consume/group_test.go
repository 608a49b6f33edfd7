package consume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/format"
	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupConfig is the sarama configuration cmd uses for a group member,
// with the retry back-offs of a test.
func groupConfig() *sarama.Config {
	conf := kafkatest.Config()
	conf.Consumer.Return.Errors = true
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	conf.Consumer.Offsets.AutoCommit.Enable = true
	conf.Consumer.Offsets.AutoCommit.Interval = time.Second
	conf.Consumer.Group.Rebalance.Timeout = 30 * time.Second
	conf.ChannelBufferSize = 1024
	return conf
}

func groupClient(t *testing.T, addr string, conf *sarama.Config) sarama.Client {
	t.Helper()
	c, err := sarama.NewClient([]string{addr}, conf)
	if err != nil {
		t.Fatalf("connecting to %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// gatedWriter is a slow reader of the output: each write takes time in
// proportion to its size (about 1 MB/s), so that the loop's queue is never
// empty while it writes. It counts the lines it took per partition, from
// a "%p %o %s\n" format.
type gatedWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	delay time.Duration // per KiB
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Duration(len(p)/1024) * w.delay)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *gatedWriter) lines() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Count(w.buf.Bytes(), []byte("\n"))
}

// perPartition counts the lines written of each partition, failing t on
// a repeated or missing offset.
func (w *gatedWriter) perPartition(t *testing.T) map[int32]int64 {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[int32]int64{}
	for _, line := range strings.Split(strings.TrimSpace(w.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var p int32
		var o int64
		if _, err := fmt.Sscanf(line, "%d %d", &p, &o); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if o != out[p] {
			t.Fatalf("partition %d: offset %d printed after %d records", p, o, out[p])
		}
		out[p]++
	}
	return out
}

// committedOffsets asks the group's coordinator for its committed offsets
// of topic's partitions 0..n-1 (-1: none; nothing at all before the group
// exists).
func committedOffsets(t *testing.T, addr, group, topic string, n int32) map[int32]int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdminFromClient(kafkatest.Client(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	var parts []int32
	for p := int32(0); p < n; p++ {
		parts = append(parts, p)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	out := map[int32]int64{}
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		return out // not yet created
	}
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < n; p++ {
		b := resp.GetBlock(topic, p)
		if b == nil || !errors.Is(b.Err, sarama.ErrNoError) {
			t.Fatalf("committed offset of %s/%d: %v", topic, p, b)
		}
		out[p] = b.Offset
	}
	return out
}

func seedCluster(t *testing.T, brokers int, partitions int32, perPartition int) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(partitions, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	val := bytes.Repeat([]byte("v"), 100)
	var seed []kafkatest.Message
	for p := int32(0); p < partitions; p++ {
		for i := 0; i < perPartition; i++ {
			seed = append(seed, kafkatest.Message{Partition: p, Value: val})
		}
	}
	kafkatest.Produce(t, addr, "t", seed...)
	return c, addr
}

// TestGroupStopCommitsWhatWasWritten: however a group member stops, with a
// slow reader holding its output up, the group's committed offsets are
// exactly what reached the output: nothing printed is read again by the
// next member, nothing unprinted is skipped. (A stop by cancel once
// ended the session before the last flush was marked.)
func TestGroupStopCommitsWhatWasWritten(t *testing.T) {
	const parts, per = 3, 3000
	for _, tc := range []struct {
		name   string
		o      Options
		cancel bool // stop by ctx once some output was written
	}{
		{name: "cancel", cancel: true},
		{name: "num", o: Options{Num: 4000}},
		{name: "exit", o: Options{Exit: true}},
		{name: "idle", o: Options{Num: parts*per + 1, IdleTimeout: 2 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := seedCluster(t, 1, parts, per)
			tmpl, err := format.ParseTemplate(`%p %o %s\n`)
			if err != nil {
				t.Fatal(err)
			}
			o := tc.o
			o.Topics, o.Group, o.Format = []string{"t"}, "g", tmpl
			w := &gatedWriter{delay: time.Millisecond}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			done := make(chan error, 1)
			go func() {
				_, err := Run(runCtx, groupClient(t, addr, groupConfig()), o, w)
				done <- err
			}()
			if tc.cancel {
				for w.lines() < 1000 {
					if ctx.Err() != nil {
						t.Fatal("nothing written")
					}
					time.Sleep(5 * time.Millisecond)
				}
				stop()
			}
			select {
			case err := <-done:
				var te *TimeoutError
				if err != nil && !errors.As(err, &te) {
					t.Fatalf("Run: %v", err)
				}
			case <-ctx.Done():
				t.Fatal("Run did not stop")
			}
			written := w.perPartition(t)
			committed := committedOffsets(t, addr, "g", "t", parts)
			total := 0
			for p := int32(0); p < parts; p++ {
				total += int(written[p])
				if committed[p] != written[p] {
					t.Errorf("partition %d: committed %d, wrote %d", p, committed[p], written[p])
				}
			}
			if tc.o.Num > 0 && tc.o.Num <= parts*per && total != tc.o.Num {
				t.Errorf("wrote %d, want -n %d", total, tc.o.Num)
			}
		})
	}
}

// TestGroupCommitsWhileOutputIsBackedUp: a slow reader keeps the loop's
// queue full all the time; what was written is still committed as it goes,
// not only once the queue runs dry (which with a slow reader is never, so
// a crash or a restart printed everything again).
func TestGroupCommitsWhileOutputIsBackedUp(t *testing.T) {
	const parts, per = 3, 6000
	_, addr := seedCluster(t, 1, parts, per)
	tmpl, err := format.ParseTemplate(`%p %o %s\n`)
	if err != nil {
		t.Fatal(err)
	}
	w := &gatedWriter{delay: 2 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		_, err := Run(runCtx, groupClient(t, addr, groupConfig()), Options{Topics: []string{"t"}, Group: "g", Format: tmpl}, w)
		done <- err
	}()
	for {
		sum := int64(0)
		for _, off := range committedOffsets(t, addr, "g", "t", parts) {
			sum += max(off, 0)
		}
		if sum > 0 {
			t.Logf("committed %d with %d of %d written", sum, w.lines(), parts*per)
			break
		}
		if w.lines() == parts*per {
			t.Fatal("nothing was committed while the output was backed up")
		}
		if ctx.Err() != nil {
			t.Fatal("nothing committed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	written, committed := w.perPartition(t), committedOffsets(t, addr, "g", "t", parts)
	for p := int32(0); p < parts; p++ {
		if committed[p] != written[p] {
			t.Errorf("partition %d: committed %d, wrote %d", p, committed[p], written[p])
		}
	}
}

// coordinatorOutage makes the cluster refuse every group request for
// twice d, as when the coordinator's broker dies and another takes the
// group over: for d each request loses its connection, then for d
// FindCoordinator answers COORDINATOR_NOT_AVAILABLE and the others
// NOT_COORDINATOR.
func coordinatorOutage(c *kfake.Cluster, d time.Duration) {
	cut := time.Now().Add(d)
	until := cut.Add(d)
	for _, key := range []kmsg.Key{kmsg.FindCoordinator, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat,
		kmsg.OffsetCommit, kmsg.OffsetFetch, kmsg.LeaveGroup} {
		c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
			if time.Now().After(until) {
				c.DropControl()
				return nil, nil, false
			}
			c.KeepControl()
			if time.Now().Before(cut) {
				return nil, errors.New("coordinator gone"), true
			}
			notCoord, notAvail := kerr.NotCoordinator.Code, kerr.CoordinatorNotAvailable.Code
			resp := req.ResponseKind()
			switch resp := resp.(type) {
			case *kmsg.FindCoordinatorResponse:
				resp.ErrorCode = notAvail
				for _, k := range req.(*kmsg.FindCoordinatorRequest).CoordinatorKeys {
					resp.Coordinators = append(resp.Coordinators, kmsg.FindCoordinatorResponseCoordinator{Key: k, ErrorCode: notAvail, NodeID: -1})
				}
			case *kmsg.JoinGroupResponse:
				resp.ErrorCode = notCoord
			case *kmsg.SyncGroupResponse:
				resp.ErrorCode = notCoord
			case *kmsg.HeartbeatResponse:
				resp.ErrorCode = notCoord
			case *kmsg.LeaveGroupResponse:
				resp.ErrorCode = notCoord
			case *kmsg.OffsetFetchResponse:
				resp.ErrorCode = notCoord
				for _, g := range req.(*kmsg.OffsetFetchRequest).Groups {
					resp.Groups = append(resp.Groups, kmsg.OffsetFetchResponseGroup{Group: g.Group, ErrorCode: notCoord})
				}
			case *kmsg.OffsetCommitResponse:
				for _, rt := range req.(*kmsg.OffsetCommitRequest).Topics {
					st := kmsg.OffsetCommitResponseTopic{Topic: rt.Topic}
					for _, rp := range rt.Partitions {
						st.Partitions = append(st.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: rp.Partition, ErrorCode: notCoord})
					}
					resp.Topics = append(resp.Topics, st)
				}
			}
			return resp, nil, true
		})
	}
}

// TestGroupSurvivesCoordinatorOutage: for a few seconds the group's
// coordinator is gone (requests refused or cut off) while records keep
// arriving; the member finds the coordinator again and goes on, printing
// everything and committing it, instead of failing (exit 1) once sarama's
// own few retries ran out.
func TestGroupSurvivesCoordinatorOutage(t *testing.T) {
	const parts, per = 3, 100
	c, addr := seedCluster(t, 3, parts, per)
	tmpl, err := format.ParseTemplate(`%p %o %s\n`)
	if err != nil {
		t.Fatal(err)
	}
	conf := groupConfig()
	// sarama's own retries give up fast; the member's must not.
	conf.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
	conf.Metadata.Retry.Backoff = 50 * time.Millisecond
	conf.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	w := &gatedWriter{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		_, err := Run(runCtx, groupClient(t, addr, conf), Options{Topics: []string{"t"}, Group: "g", Format: tmpl, GiveUp: 30 * time.Second, Warn: func(s string) { t.Logf("%s warn: %s", time.Now().Format("05.000"), s) }}, w)
		done <- err
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case err := <-done:
				t.Fatalf("Run ended before %s: %v", what, err)
			case <-ctx.Done():
				t.Fatalf("no %s", what)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	waitFor("first records", func() bool { return w.lines() == parts*per })
	t.Logf("%s outage", time.Now().Format("05.000"))
	coordinatorOutage(c, 2*time.Second)
	var more []kafkatest.Message
	for p := int32(0); p < parts; p++ {
		for i := 0; i < per; i++ {
			more = append(more, kafkatest.Message{Partition: p, Value: []byte("after")})
		}
	}
	kafkatest.Produce(t, addr, "t", more...)
	waitFor("records after the outage", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		seen := map[string]bool{}
		for _, line := range strings.Split(w.buf.String(), "\n") {
			if f := strings.Fields(line); len(f) == 3 {
				seen[f[0]+" "+f[1]] = true
			}
		}
		for p := 0; p < parts; p++ {
			for o := 0; o < 2*per; o++ {
				if !seen[fmt.Sprintf("%d %d", p, o)] {
					return false
				}
			}
		}
		return true
	})
	waitFor("commits after the outage", func() bool {
		for _, off := range committedOffsets(t, addr, "g", "t", parts) {
			if off != 2*per {
				return false
			}
		}
		return true
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestGroupGivesUpWhenTheBrokersAreGone: a group member whose whole
// cluster went away retries for the give-up bound, as the direct fetcher
// does, then fails.
func TestGroupGivesUpWhenTheBrokersAreGone(t *testing.T) {
	c, addr := seedCluster(t, 1, 1, 10)
	conf := groupConfig()
	conf.Net.DialTimeout = 200 * time.Millisecond
	conf.Metadata.Retry.Max = 0
	conf.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	w := &gatedWriter{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, groupClient(t, addr, conf), Options{Topics: []string{"t"}, Group: "g", GiveUp: 2 * time.Second}, w)
		done <- err
	}()
	for w.lines() < 10 {
		if ctx.Err() != nil {
			t.Fatal("nothing consumed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no session could start for 2s") {
			t.Fatalf("Run = %v, want it to give up on the group after 2s", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not give up")
	}
}

// TestGroupGiveUpCountsFromTheLastAnswer: a session ends some time after
// its brokers stopped answering (its heartbeats fail later than its
// fetches), and the member's give-up bound counts from the last answer,
// not from the first join that failed after the session. Before, the
// member of the fault tier's whole-cluster outage exited 62-68 s after the
// kill with a one-minute bound; here the fetches stop being answered 3 s
// (five failed retries) before the cluster goes, with a 4 s bound: the
// member used to give up 7 s after the last answer.
func TestGroupGiveUpCountsFromTheLastAnswer(t *testing.T) {
	c, addr := seedCluster(t, 1, 1, 10)
	var down atomic.Bool
	var failed atomic.Int32
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !down.Load() {
			return nil, nil, false
		}
		failed.Add(1)
		return nil, errors.New("fetches are not answered"), true
	})
	conf := groupConfig()
	conf.Net.DialTimeout = 200 * time.Millisecond
	conf.Metadata.Retry.Max = 0
	conf.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	conf.Consumer.Group.Rebalance.Retry.Max = 0
	const giveUp = 4 * time.Second
	w := &gatedWriter{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, groupClient(t, addr, conf), Options{Topics: []string{"t"}, Group: "g", GiveUp: giveUp}, w)
		done <- err
	}()
	for w.lines() < 10 {
		if ctx.Err() != nil {
			t.Fatal("nothing consumed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	lastAnswer := time.Now()
	down.Store(true)
	for failed.Load() < 5 { // 100+200+400+800+1600 ms of backoff: 3.1 s
		if ctx.Err() != nil {
			t.Fatal("the fetcher did not retry")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Close()
	select {
	case err := <-done:
		// The group's bound and its session fetcher's count from the
		// same last answer; either may end the run first.
		if err == nil || !strings.Contains(err.Error(), "no session could start for 4s") && !strings.Contains(err.Error(), "no broker has answered for 4s") {
			t.Fatalf("Run = %v, want it to give up after 4s", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not give up")
	}
	// The bound the README promises, with 2 s to spare for a loaded machine.
	if took := time.Since(lastAnswer); took > giveUp+2*time.Second {
		t.Errorf("the member gave up %.1fs after the last answer, past the %s bound", took.Seconds(), giveUp)
	}
}

// TestGroupRecordsComeFromTheFetcher: a group member reads its claims with
// the project's fetcher (Fetch v4) and sarama's partition consumers of the
// claims, paused, send no Fetch of their own (sarama's are v12 at this
// configuration's version). Before, every record came through sarama's
// partition consumers and channels, at twice the CPU of a drain outside a
// group.
func TestGroupRecordsComeFromTheFetcher(t *testing.T) {
	const parts, per = 4, 2000
	c, addr := seedCluster(t, 1, parts, per)
	var mu sync.Mutex
	versions := map[int16]int{}
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		versions[req.GetVersion()]++
		mu.Unlock()
		return nil, nil, false
	})
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Two sessions in a row, so that a partition claimed again is seen too.
	for _, want := range []int{parts * per / 2, parts * per / 2} {
		out.Reset()
		st, err := Run(ctx, groupClient(t, addr, groupConfig()), Options{Topics: []string{"t"}, Group: "g", Num: want}, &out)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if st.Written != want {
			t.Fatalf("wrote %d, want %d", st.Written, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if versions[4] == 0 {
		t.Errorf("no Fetch v4 (the project's fetcher) came: %v", versions)
	}
	for v, n := range versions {
		if v != 4 {
			t.Errorf("%d Fetch requests of version %d (sarama's partition consumers), want none", n, v)
		}
	}
}

// TestGroupExitFetchesNothingPastTheEnd: under -e a member stops fetching
// a partition once it reached the end taken at the start of the session:
// a fetch at the end is a long poll for records it will not print (when
// fetches shared the commits' connection, the last commit waited for it,
// half a second of a one-second drain); before, the fetcher went on
// fetching at the end.
func TestGroupExitFetchesNothingPastTheEnd(t *testing.T) {
	const parts, per = 4, 500
	c, addr := seedCluster(t, 1, parts, per)
	var mu sync.Mutex
	var atEnd []string
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		for _, tp := range req.(*kmsg.FetchRequest).Topics {
			for _, p := range tp.Partitions {
				if p.FetchOffset >= per {
					atEnd = append(atEnd, fmt.Sprintf("%d@%d", p.Partition, p.FetchOffset))
				}
			}
		}
		return nil, nil, false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	st, err := Run(ctx, groupClient(t, addr, groupConfig()), Options{Topics: []string{"t"}, Group: "g", Exit: true}, &out)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st.Written != parts*per {
		t.Fatalf("wrote %d, want %d", st.Written, parts*per)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(atEnd) > 0 {
		t.Errorf("fetched at the end: %v, want no fetch there", atEnd)
	}
}

// TestGroupBalancerAndInstanceID: the member joins with the assignor of
// Options.Balancer and as the static member Options.InstanceID, as the
// group's coordinator describes it, and stopping leaves the static member
// in the group.
func TestGroupBalancerAndInstanceID(t *testing.T) {
	_, addr := seedCluster(t, 1, 2, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := Run(runCtx, groupClient(t, addr, groupConfig()), Options{Topics: []string{"t"}, Group: "g", Balancer: "roundrobin", InstanceID: "member-a"}, io.Discard)
		done <- err
	}()
	admin, err := sarama.NewClusterAdminFromClient(kafkatest.Client(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		// A static member that stops does not leave: coming back within
		// the session timeout, it takes its partitions without a rebalance.
		groups, err := admin.DescribeConsumerGroups([]string{"g"})
		if err != nil || len(groups) != 1 || len(groups[0].Members) != 1 {
			t.Errorf("after the stop the group is %v (%v), want its static member still in it", groups, err)
		}
	}()
	for {
		groups, err := admin.DescribeConsumerGroups([]string{"g"})
		if err == nil && len(groups) == 1 && groups[0].State == "Stable" && len(groups[0].Members) == 1 {
			g := groups[0]
			if g.Protocol != "roundrobin" {
				t.Errorf("assignor %q, want roundrobin", g.Protocol)
			}
			for _, m := range g.Members {
				if m.GroupInstanceId == nil || *m.GroupInstanceId != "member-a" {
					t.Errorf("member's instance id %v, want member-a", m.GroupInstanceId)
				}
			}
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("the group did not become stable with one member: %v %v", groups, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGroupClaimsKeepNoSaramaConsumer: once a session's fetcher has the
// claims, sarama's partition consumers of them are closed. Paused, they
// still kept a broker consumer napping 100 ms at a time, and every
// session's end (each -e, -n or rebalance) waited for the nap to end.
func TestGroupClaimsKeepNoSaramaConsumer(t *testing.T) {
	_, addr := seedCluster(t, 1, 3, 10)
	entered, held := make(chan struct{}), make(chan struct{})
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(held) }) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		w := &heldWriter{held: held, entered: entered}
		_, err := Run(ctx, groupClient(t, addr, groupConfig()), Options{Topics: []string{"t"}, Group: "g", Num: 30}, w)
		done <- err
	}()
	select {
	case <-entered: // the session is on, and holds its output until released
	case <-ctx.Done():
		t.Fatal("nothing was written")
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var saramas []string
		for _, g := range goroutineStacks() {
			if strings.Contains(g, "sarama.(*brokerConsumer)") || strings.Contains(g, "sarama.(*partitionConsumer)") {
				saramas = append(saramas, g)
			}
		}
		if len(saramas) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of sarama's partition consumers still run in the session:\n%s", len(saramas), strings.Join(saramas, "\n\n"))
		}
	}
	release.Do(func() { close(held) })
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not end")
	}
}
