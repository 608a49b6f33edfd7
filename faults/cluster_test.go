// Package faults_test is the fault tier: the built streamctl against a
// three-broker Apache Kafka (scripts/kafka/cluster-start.sh) whose brokers
// the tests kill, stop and restart while streamctl produces and consumes.
// kcat, reading each topic from the start, is the independent witness of
// what the topics hold; the tests compare it, message by message, with what
// streamctl said it acknowledged or printed.
//
// `make test-faults` starts the cluster, sources its env file (which sets
// STREAMCTL_FAULTS_BROKERS and the rest) and runs this package; a missing
// kcat or bin/streamctl then fails the run. Without that env (make test)
// the tests skip; make test-faults fails if the cluster does not start.
package faults_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// BrokersEnv names the env var cluster-start.sh sets to the bootstrap list.
const BrokersEnv = "STREAMCTL_FAULTS_BROKERS"

var (
	streamctl string // ../bin/streamctl, absolute
	kcat      string
	brokers   string  // bootstrap list, host:port,...
	brokerIDs []int32 // 1, 2, 3
	scripts   string  // scripts/kafka
	state     string  // the cluster's state dir
	setupErr  error   // why the tier cannot run; nil when it can
)

func TestMain(m *testing.M) {
	// Asked for (the cluster's env is there) but unable to run is a
	// failure, never a skip: make test-faults, in CI or not, must not
	// pass without having run. Not asked for (make test), the tests skip.
	if setupErr = setup(); setupErr != nil && os.Getenv(BrokersEnv) != "" {
		fmt.Fprintf(os.Stderr, "fault tier: %v\n", setupErr)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func setup() error {
	brokers = os.Getenv(BrokersEnv)
	if brokers == "" {
		return fmt.Errorf("%s is not set: run make test-faults", BrokersEnv)
	}
	for _, f := range strings.Fields(os.Getenv("STREAMCTL_FAULTS_BROKER_IDS")) {
		var id int32
		if _, err := fmt.Sscan(f, &id); err != nil {
			return fmt.Errorf("STREAMCTL_FAULTS_BROKER_IDS: %v", err)
		}
		brokerIDs = append(brokerIDs, id)
	}
	if len(brokerIDs) != 3 {
		return fmt.Errorf("STREAMCTL_FAULTS_BROKER_IDS=%q: want three broker ids", os.Getenv("STREAMCTL_FAULTS_BROKER_IDS"))
	}
	state = os.Getenv("STREAMCTL_FAULTS_STATE")
	scripts = os.Getenv("STREAMCTL_FAULTS_SCRIPTS")
	if state == "" || scripts == "" {
		return errors.New("STREAMCTL_FAULTS_STATE and STREAMCTL_FAULTS_SCRIPTS must be set (source the cluster's env file)")
	}
	var err error
	if streamctl, err = filepath.Abs(filepath.Join("..", "bin", "streamctl")); err != nil {
		return err
	}
	if _, err := os.Stat(streamctl); err != nil {
		return fmt.Errorf("%v (run make build)", err)
	}
	if kcat, err = exec.LookPath("kcat"); err != nil {
		return fmt.Errorf("kcat, the independent reader, is missing: %v (apt-get install kcat)", err)
	}
	return nil
}

// needCluster skips t outside the tier.
func needCluster(t *testing.T) {
	t.Helper()
	if setupErr != nil {
		t.Skip(setupErr)
	}
}

// config is the sarama configuration of the tests' own metadata and admin
// requests: quick to give up on a dead broker, since they are polled.
func config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_8_0_0
	c.ClientID = "streamctl-faults"
	c.Metadata.AllowAutoTopicCreation = false
	c.Metadata.Retry.Max = 1
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Net.DialTimeout = 2 * time.Second
	c.Net.ReadTimeout = 5 * time.Second
	c.Net.WriteTimeout = 5 * time.Second
	c.Admin.Timeout = 20 * time.Second
	return c
}

// client opens a sarama client to the cluster, closed at cleanup.
func client(t *testing.T) sarama.Client {
	t.Helper()
	var c sarama.Client
	poll(t, "a connection to the cluster", 60*time.Second, func() (bool, string) {
		var err error
		c, err = sarama.NewClient(strings.Split(brokers, ","), config())
		return err == nil, fmt.Sprint(err)
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// poll calls cond until it reports true, failing t after limit with the
// last reason cond gave. It is every wait of this package.
func poll(t *testing.T, what string, limit time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s: %s", limit, what, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// brokerScript runs scripts/kafka/cluster-broker.sh ACTION ID.
func brokerScript(action string, id int32) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(scripts, "cluster-broker.sh"), action, fmt.Sprint(id))
	cmd.Env = append(os.Environ(), "STREAMCTL_CLUSTER_STATE="+state)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// killBroker sends broker id SIGKILL and returns once it is gone.
func killBroker(t *testing.T, id int32) time.Time {
	t.Helper()
	if out, err := brokerScript("kill", id); err != nil {
		t.Fatalf("killing broker %d: %v\n%s", id, err, out)
	}
	t.Logf("broker %d killed (SIGKILL)", id)
	return time.Now()
}

// killAll sends every broker SIGKILL at once, by the pids in the
// cluster's state dir, and returns once all are gone.
func killAll(t *testing.T) time.Time {
	t.Helper()
	var pids []int
	for _, id := range brokerIDs {
		out, err := brokerScript("pid", id)
		if err != nil {
			t.Fatalf("broker %d is not running: %v\n%s", id, err, out)
		}
		pid, err := strconv.Atoi(out)
		if err != nil {
			t.Fatalf("broker %d: pid %q: %v", id, out, err)
		}
		pids = append(pids, pid)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("killing pid %d: %v", pid, err)
		}
	}
	down := time.Now()
	poll(t, "every broker gone", 30*time.Second, func() (bool, string) {
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				return false, fmt.Sprintf("pid %d still there", pid)
			}
		}
		return true, ""
	})
	t.Logf("brokers %v killed (SIGKILL, pids %v)", brokerIDs, pids)
	return down
}

// stopBroker sends broker id SIGTERM (a controlled shutdown) and returns
// once it is gone.
func stopBroker(t *testing.T, id int32) {
	t.Helper()
	if out, err := brokerScript("stop", id); err != nil {
		t.Fatalf("stopping broker %d: %v\n%s", id, err, out)
	}
	t.Logf("broker %d stopped (SIGTERM)", id)
}

// startBroker starts broker id on its data dir and returns once it is
// registered with the controller.
func startBroker(t *testing.T, id int32) {
	t.Helper()
	if out, err := brokerScript("start", id); err != nil {
		t.Fatalf("starting broker %d: %v\n%s", id, err, out)
	}
	t.Logf("broker %d started", id)
}

// startAll starts every broker that is not running, in parallel.
func startAll(t *testing.T) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(brokerIDs))
	for i, id := range brokerIDs {
		if _, err := brokerScript("pid", id); err == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := brokerScript("start", id); err != nil {
				errs[i] = fmt.Errorf("starting broker %d: %v\n%s", id, err, out)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// healthy waits until all three brokers are in the metadata and every
// partition of topics (and of the group offsets topic) has a leader and
// its full replica set in sync.
func healthy(t *testing.T, topics ...string) {
	t.Helper()
	c := client(t)
	topics = append([]string{"__consumer_offsets"}, topics...)
	poll(t, "all brokers up and every replica in sync", 180*time.Second, func() (bool, string) {
		if err := c.RefreshMetadata(); err != nil {
			return false, err.Error()
		}
		if n := len(c.Brokers()); n != len(brokerIDs) {
			return false, fmt.Sprintf("%d brokers in the metadata", n)
		}
		for _, topic := range topics {
			parts, err := c.Partitions(topic)
			if err != nil {
				if topic == "__consumer_offsets" && errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
					continue // no group has run yet
				}
				return false, fmt.Sprintf("topic %s: %v", topic, err)
			}
			for _, p := range parts {
				reps, err := c.Replicas(topic, p)
				if err != nil {
					return false, fmt.Sprintf("%s/%d: %v", topic, p, err)
				}
				isr, err := c.InSyncReplicas(topic, p)
				if err != nil {
					return false, fmt.Sprintf("%s/%d: %v", topic, p, err)
				}
				if len(isr) != len(reps) {
					return false, fmt.Sprintf("%s/%d: in sync %v of replicas %v", topic, p, isr, reps)
				}
				if _, err := c.Leader(topic, p); err != nil {
					return false, fmt.Sprintf("%s/%d: no leader: %v", topic, p, err)
				}
			}
		}
		return true, ""
	})
}

// restore brings every broker back and waits until topics are whole, so
// that each test starts (and leaves) a healthy cluster.
func restore(t *testing.T, topics ...string) {
	t.Helper()
	startAll(t)
	healthy(t, topics...)
}

// cluster prepares t: the cluster whole now and again at cleanup, so the
// next test finds it so even when t fails half-way.
func cluster(t *testing.T) {
	t.Helper()
	needCluster(t)
	restore(t)
	t.Cleanup(func() {
		startAll(t)
		healthy(t)
	})
}

// createTopic creates topic with n partitions, replication factor 3
// (min.insync.replicas=2 from the brokers), and waits until it is whole.
func createTopic(t *testing.T, topic string, n int32) {
	t.Helper()
	createTopicDetail(t, topic, &sarama.TopicDetail{NumPartitions: n, ReplicationFactor: 3})
}

func createTopicDetail(t *testing.T, topic string, d *sarama.TopicDetail) {
	t.Helper()
	admin, err := sarama.NewClusterAdminFromClient(client(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.CreateTopic(topic, d, false); err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
	healthy(t, topic)
	c := client(t)
	poll(t, "leaders of "+topic+" serving", 60*time.Second, func() (bool, string) {
		_ = c.RefreshMetadata(topic)
		parts, err := c.Partitions(topic)
		if err != nil {
			return false, err.Error()
		}
		for _, p := range parts {
			// A leader is named a moment before it serves: an offset
			// request proves it does.
			if _, err := c.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
				return false, fmt.Sprintf("partition %d: %v", p, err)
			}
		}
		return true, ""
	})
}

// leaders maps each partition of topic to the id of its leader.
func leaders(t *testing.T, topic string) map[int32]int32 {
	t.Helper()
	c := client(t)
	if err := c.RefreshMetadata(topic); err != nil {
		t.Fatal(err)
	}
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int32{}
	for _, p := range parts {
		b, err := c.Leader(topic, p)
		if err != nil {
			t.Fatalf("%s/%d: %v", topic, p, err)
		}
		out[p] = b.ID()
	}
	return out
}

// busiestLeader is the broker leading most partitions of topic; a tie goes
// to the lowest id not in avoid.
func busiestLeader(t *testing.T, topic string, avoid ...int32) int32 {
	t.Helper()
	count := map[int32]int{}
	for _, id := range leaders(t, topic) {
		count[id]++
	}
	ids := append([]int32(nil), brokerIDs...)
	avoided := func(id int32) bool {
		for _, a := range avoid {
			if a == id {
				return true
			}
		}
		return false
	}
	sort.SliceStable(ids, func(i, j int) bool {
		if count[ids[i]] != count[ids[j]] {
			return count[ids[i]] > count[ids[j]]
		}
		return !avoided(ids[i]) && avoided(ids[j])
	})
	t.Logf("leaders of %s: %v; killing broker %d", topic, leaders(t, topic), ids[0])
	return ids[0]
}

// coordinator is the id of the broker coordinating group, asked through c.
func coordinator(t *testing.T, c sarama.Client, group string) int32 {
	t.Helper()
	var id int32
	poll(t, "the coordinator of group "+group, 30*time.Second, func() (bool, string) {
		if err := c.RefreshCoordinator(group); err != nil {
			return false, err.Error()
		}
		b, err := c.Coordinator(group)
		if err != nil {
			return false, err.Error()
		}
		id = b.ID()
		return true, ""
	})
	return id
}

// stableGroup waits until group is Stable with n members, each assigned
// at least one partition; it fails at once if one of members exits.
func stableGroup(t *testing.T, group string, n int, members ...*proc) {
	t.Helper()
	admin, err := sarama.NewClusterAdminFromClient(client(t))
	if err != nil {
		t.Fatal(err)
	}
	poll(t, fmt.Sprintf("group %s stable with %d members", group, n), 90*time.Second, func() (bool, string) {
		for _, m := range members {
			if !m.running() {
				t.Fatalf("%s exited (%d) before group %s was stable with %d members, after printing %d:\n%s",
					m.name, m.code, group, n, m.count(), tail(m.errText()))
			}
		}
		ds, err := admin.DescribeConsumerGroups([]string{group})
		if err != nil {
			return false, err.Error()
		}
		if len(ds) != 1 {
			return false, fmt.Sprintf("%d descriptions", len(ds))
		}
		d := ds[0]
		if d.State != "Stable" || len(d.Members) != n {
			return false, fmt.Sprintf("state %s, %d members", d.State, len(d.Members))
		}
		for id, m := range d.Members {
			a, err := m.GetMemberAssignment()
			if err != nil {
				return false, err.Error()
			}
			if a == nil || len(a.Topics) == 0 {
				return false, "member " + id + " has no partitions"
			}
		}
		return true, ""
	})
}
