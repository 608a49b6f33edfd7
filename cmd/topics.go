package cmd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/consume"
	"github.com/urfave/cli/v2"
)

// topicFlags are the flags that say what to do with a missing topic.
func topicFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "create-partitions", Value: -1, EnvVars: envVars("create-partitions"),
			Usage: "partitions of a topic streamctl creates", DefaultText: "the broker's num.partitions"},
		&cli.IntFlag{Name: "create-replication-factor", Value: -1, EnvVars: envVars("create-replication-factor"),
			Usage: "replication factor of a topic streamctl creates", DefaultText: "the broker's default.replication.factor"},
		&cli.BoolFlag{Name: "no-create", EnvVars: envVars("no-create"),
			Usage: "fail (exit 1) when a topic does not exist instead of creating it"},
	}
}

// checkTopicName applies Kafka's rules for topic names, so that a typo or a
// stray shell character is a usage error here rather than a broker error
// (or, on lenient brokers, a topic nobody meant).
func checkTopicName(t string) error {
	switch {
	case t == "":
		return usagef("the topic name is empty")
	case t == "." || t == "..":
		return usagef("topic name %q is not allowed", t)
	case len(t) > 249:
		return usagef("topic name %.20q... is %d characters long; Kafka allows 249", t, len(t))
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return usagef("topic name %q has %q; Kafka allows letters, digits, '.', '_' and '-'", t, r)
		}
	}
	return nil
}

// missingTopics asks one broker which of topics do not exist. Unlike the
// client's metadata refresh it does not retry a missing topic with backoff,
// and it never asks the broker to create anything.
func missingTopics(client sarama.Client, conf *sarama.Config, topics []string) ([]string, error) {
	b := client.LeastLoadedBroker()
	if b == nil {
		return nil, errors.New("no broker available for a metadata request")
	}
	req := sarama.NewMetadataRequest(conf.Version, topics)
	req.AllowAutoTopicCreation = false
	resp, err := b.GetMetadata(req)
	if err != nil {
		return nil, fmt.Errorf("reading metadata: %w", err)
	}
	var missing []string
	for _, tm := range resp.Topics {
		switch {
		case errors.Is(tm.Err, sarama.ErrUnknownTopicOrPartition):
			missing = append(missing, tm.Name)
		case errors.Is(tm.Err, sarama.ErrTopicAuthorizationFailed):
			return nil, withHint(fmt.Errorf("not authorized to describe topic %q", tm.Name), "ask for DESCRIBE and READ/WRITE ACLs on the topic")
		}
	}
	return missing, nil
}

// ensureTopics makes sure every topic exists, creating missing ones through
// the admin API (never by metadata auto-creation), then waits until every
// partition has a leader. A topic created meanwhile by someone else is fine.
func ensureTopics(ctx context.Context, c *cli.Context, client sarama.Client, topics []string, errOut func(string)) error {
	return ensureTopicsWait(ctx, c, client, topics, errOut, true)
}

// ensureTopicsWait is ensureTopics, waiting for the leaders of the topics
// that existed already only with waitExisting: produce sends to the
// partitions that have one.
func ensureTopicsWait(ctx context.Context, c *cli.Context, client sarama.Client, topics []string, errOut func(string), waitExisting bool) error {
	// The client's first metadata lists the cluster's topics: those found
	// there need no further request, which matters for time to first message.
	var unknown []string
	known, _ := client.Topics()
	for _, t := range topics {
		if !slices.Contains(known, t) {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) == 0 {
		if c.IsSet("create-partitions") {
			warnPartitionMismatch(client, topics, nil, c.Int("create-partitions"), errOut)
		}
		if !waitExisting || leadersReady(client, topics, false) == nil {
			return nil
		}
		return waitForLeaders(ctx, client, topics)
	}
	missing, err := missingTopics(client, client.Config(), unknown)
	if err != nil {
		return err
	}
	if c.IsSet("create-partitions") {
		warnPartitionMismatch(client, topics, missing, c.Int("create-partitions"), errOut)
	}
	if len(missing) > 0 && c.Bool("no-create") {
		return withHint(fmt.Errorf("topic %q does not exist", missing[0]), "drop --no-create to create it, or check the name")
	}
	if len(missing) > 0 {
		parts, rf := c.Int("create-partitions"), c.Int("create-replication-factor")
		if parts == 0 || parts < -1 {
			return usagef("--create-partitions must be at least 1")
		}
		if rf == 0 || rf < -1 {
			return usagef("--create-replication-factor must be at least 1")
		}
		// The admin shares the client: closing it would close ours.
		admin, err := sarama.NewClusterAdminFromClient(client)
		if err != nil {
			return fmt.Errorf("admin client: %w", err)
		}
		for _, t := range missing {
			detail := &sarama.TopicDetail{NumPartitions: int32(parts), ReplicationFactor: int16(rf)}
			err := admin.CreateTopic(t, detail, false)
			switch {
			case errors.Is(err, sarama.ErrTopicAlreadyExists):
			case err != nil:
				return fmt.Errorf("creating topic %q: %w", t, err)
			default:
				errOut(fmt.Sprintf("created topic %q", t))
			}
		}
	}
	if !waitExisting {
		if len(missing) == 0 {
			return nil
		}
		topics = missing
	}
	return waitForLeaders(ctx, client, topics)
}

// warnPartitionMismatch says when --create-partitions asks for a count an
// existing topic does not have: the flag only shapes topics streamctl
// creates, and silence would let a user think it took effect.
func warnPartitionMismatch(client sarama.Client, topics, missing []string, want int, errOut func(string)) {
	for _, t := range topics {
		if slices.Contains(missing, t) {
			continue
		}
		if parts, err := client.Partitions(t); err == nil && len(parts) != want && want > 0 {
			errOut(fmt.Sprintf("topic %q already exists with %s; --create-partitions %d applies only to topics streamctl creates", t, plural(int64(len(parts)), "partition"), want))
		}
	}
}

// waitForLeaders polls metadata until every partition of topics has a
// leader, for at most 30 seconds.
func waitForLeaders(ctx context.Context, client sarama.Client, topics []string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := leadersReady(client, topics, true)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for partition leaders: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		_ = client.RefreshMetadata(topics...)
	}
}

// leadersReady checks that every partition of topics has a leader and,
// with serving, that the leader already answers for it.
func leadersReady(client sarama.Client, topics []string, serving bool) error {
	for _, t := range topics {
		parts, err := client.Partitions(t)
		if err != nil {
			return fmt.Errorf("topic %q: %w", t, err)
		}
		if len(parts) == 0 {
			return fmt.Errorf("topic %q has no partitions yet", t)
		}
		tps := make([]consume.TopicPartition, 0, len(parts))
		for _, p := range parts {
			if _, err := client.Leader(t, p); err != nil {
				return fmt.Errorf("topic %q partition %d: %w", t, p, err)
			}
			tps = append(tps, consume.TopicPartition{Topic: t, Partition: p})
		}
		if !serving {
			continue
		}
		// A new topic's leader is named a moment before it serves the
		// partition (NOT_LEADER_OR_FOLLOWER meanwhile): ask for offsets.
		if _, err := consume.ListOffsets(client, tps, sarama.OffsetNewest); err != nil {
			client.RefreshMetadata(t)
			return fmt.Errorf("topic %q: %w", t, err)
		}
	}
	return nil
}
