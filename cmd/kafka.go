package cmd

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/urfave/cli/v2"
	"github.com/xdg-go/scram"
)

// globalFlags are the connection and output flags every command shares. They
// may stand anywhere on the command line (see normalizeArgs).
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "brokers", Aliases: []string{"b"}, Value: "localhost:9092", EnvVars: envVars("brokers"),
			Usage: "Kafka bootstrap brokers, `host:port,...`"},
		&cli.StringFlag{Name: "client-id", Value: "streamctl", EnvVars: envVars("client-id"),
			Usage: "client id the brokers see in their logs and quotas"},
		&cli.DurationFlag{Name: "connect-timeout", Value: 10 * time.Second, EnvVars: envVars("connect-timeout"),
			Usage: "give up connecting to the brokers after this long"},
		&cli.StringFlag{Name: "kafka-version", Value: "2.8.0", EnvVars: envVars("kafka-version"),
			Usage: "lowest Kafka protocol version to speak (brokers 2.8 and later, Kafka 4 included, work with the default)"},
		&cli.BoolFlag{Name: "tls", EnvVars: envVars("tls"),
			Usage: "connect with TLS (implied by any other --tls-* flag)"},
		&cli.StringFlag{Name: "tls-ca", EnvVars: envVars("tls-ca"), Usage: "PEM `FILE` of CAs to trust instead of the system's"},
		&cli.StringFlag{Name: "tls-cert", EnvVars: envVars("tls-cert"), Usage: "PEM client certificate `FILE` for mutual TLS"},
		&cli.StringFlag{Name: "tls-key", EnvVars: envVars("tls-key"), Usage: "PEM client key `FILE` for mutual TLS"},
		&cli.StringFlag{Name: "tls-server-name", EnvVars: envVars("tls-server-name"), Usage: "server name to verify instead of the broker's host"},
		&cli.BoolFlag{Name: "tls-insecure-skip-verify", EnvVars: envVars("tls-insecure-skip-verify"),
			Usage: "do not verify the brokers' certificates (dangerous; for tests only)"},
		&cli.StringFlag{Name: "sasl-mechanism", EnvVars: envVars("sasl-mechanism"), Usage: "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		&cli.StringFlag{Name: "sasl-user", EnvVars: envVars("sasl-user"), Usage: "SASL user name"},
		&cli.StringFlag{Name: "sasl-password", EnvVars: envVars("sasl-password"),
			Usage: "SASL password (best given as STREAMCTL_SASL_PASSWORD so it stays out of ps and shell history)"},
		&cli.StringFlag{Name: "color", Value: "auto", EnvVars: envVars("color"),
			Usage: "colour output: auto (on a terminal, unless NO_COLOR is set), always or never"},
	}
}

// kafkaConfig builds the sarama configuration from the global flags. Topic
// auto-creation through metadata requests is always off: streamctl creates
// topics on purpose, through the admin API.
func kafkaConfig(c *cli.Context, errOut func(string)) (*sarama.Config, error) {
	conf := sarama.NewConfig()
	conf.ClientID = c.String("client-id")
	v, err := sarama.ParseKafkaVersion(c.String("kafka-version"))
	if err != nil {
		return nil, usagef("--kafka-version: %v", err)
	}
	conf.Version = v
	conf.Metadata.AllowAutoTopicCreation = false
	d := c.Duration("connect-timeout")
	if d <= 0 {
		return nil, usagef("--connect-timeout must be positive")
	}
	conf.Net.DialTimeout = d
	conf.Net.ReadTimeout = 30 * time.Second
	conf.Net.WriteTimeout = 30 * time.Second
	conf.Metadata.Retry.Max = 2
	conf.Metadata.Retry.Backoff = 200 * time.Millisecond
	conf.Metadata.Timeout = d
	conf.Admin.Timeout = 30 * time.Second

	useTLS := c.Bool("tls") || c.String("tls-ca") != "" || c.String("tls-cert") != "" ||
		c.String("tls-key") != "" || c.String("tls-server-name") != "" || c.Bool("tls-insecure-skip-verify")
	if useTLS {
		tc, err := tlsConfig(c, errOut)
		if err != nil {
			return nil, err
		}
		conf.Net.TLS.Enable = true
		conf.Net.TLS.Config = tc
	}
	if err := saslConfig(c, conf); err != nil {
		return nil, err
	}
	return conf, nil
}

func tlsConfig(c *cli.Context, errOut func(string)) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.String("tls-server-name")}
	if ca := c.String("tls-ca"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca: no PEM certificate found in %s", ca)
		}
		tc.RootCAs = pool
	}
	cert, key := c.String("tls-cert"), c.String("tls-key")
	if (cert == "") != (key == "") {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("loading client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	if c.Bool("tls-insecure-skip-verify") {
		tc.InsecureSkipVerify = true
		errOut("WARNING: --tls-insecure-skip-verify: the brokers' certificates are NOT verified; anyone on the network path can read and change this traffic")
	}
	return tc, nil
}

func saslConfig(c *cli.Context, conf *sarama.Config) error {
	mech := strings.ToUpper(c.String("sasl-mechanism"))
	user, pass := c.String("sasl-user"), c.String("sasl-password")
	if mech == "" {
		if user != "" || pass != "" {
			return usagef("--sasl-user and --sasl-password need --sasl-mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return nil
	}
	if user == "" {
		return usagef("--sasl-mechanism %s needs --sasl-user", mech)
	}
	conf.Net.SASL.Enable = true
	conf.Net.SASL.Handshake = true
	conf.Net.SASL.User = user
	conf.Net.SASL.Password = pass
	switch mech {
	case "PLAIN":
		conf.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	case "SCRAM-SHA-256":
		conf.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
		conf.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: sha256.New} }
	case "SCRAM-SHA-512":
		conf.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		conf.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: sha512.New} }
	default:
		return usagef("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.String("sasl-mechanism"))
	}
	return nil
}

// scramClient adapts xdg-go/scram to sarama's SCRAMClient.
type scramClient struct {
	hash func() hash.Hash
	conv *scram.ClientConversation
}

func (s *scramClient) Begin(user, pass, authzID string) error {
	client, err := scram.HashGeneratorFcn(s.hash).NewClient(user, pass, authzID)
	if err != nil {
		return err
	}
	s.conv = client.NewConversation()
	return nil
}

func (s *scramClient) Step(challenge string) (string, error) { return s.conv.Step(challenge) }
func (s *scramClient) Done() bool                            { return s.conv.Done() }

// connect opens a client to the brokers, failing within the connect timeout
// with an error that says what went wrong and never the password.
func connect(ctx context.Context, c *cli.Context, conf *sarama.Config) (sarama.Client, error) {
	brokers := splitList(c.String("brokers"))
	if len(brokers) == 0 {
		return nil, usagef("--brokers is empty")
	}
	type result struct {
		client sarama.Client
		err    error
	}
	done := make(chan result, 1)
	go func() {
		cl, err := sarama.NewClient(brokers, conf)
		done <- result{cl, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, explainConnectError(r.err, brokers, conf)
		}
		return r.client, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.client != nil {
				r.client.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// explainConnectError turns sarama's "run out of brokers" into the cause.
func explainConnectError(err error, brokers []string, conf *sarama.Config) error {
	list := strings.Join(brokers, ",")
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	msg := err.Error()
	switch {
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed) || strings.Contains(msg, "SASL Authentication failed") || strings.Contains(msg, "Authentication failed"):
		return withHint(fmt.Errorf("authentication failed at %s: %s", list, scrub(msg, conf)),
			"check --sasl-user, --sasl-password (or STREAMCTL_SASL_PASSWORD) and --sasl-mechanism")
	case errors.As(err, &certErr) || errors.As(err, &unknownAuth) || strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:"):
		_ = hostErr
		return withHint(fmt.Errorf("TLS handshake with %s failed: %s", list, scrub(msg, conf)),
			"give the brokers' CA with --tls-ca, or check --tls-server-name")
	case conf.Net.TLS.Enable && (strings.Contains(msg, "EOF") || strings.Contains(msg, "first record does not look like a TLS handshake")):
		return withHint(fmt.Errorf("TLS connection to %s failed: %s", list, scrub(msg, conf)),
			"is this a plaintext listener? drop --tls, or use the broker's SSL port")
	case strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") || strings.Contains(msg, "i/o timeout"):
		return withHint(fmt.Errorf("cannot reach brokers %s: %s", list, scrub(msg, conf)),
			"is Kafka running there? 'streamctl broker' starts a local one on 127.0.0.1:9092")
	default:
		return fmt.Errorf("connecting to %s: %s", list, scrub(msg, conf))
	}
}

// scrub removes the SASL password from a message, whatever printed it.
func scrub(msg string, conf *sarama.Config) string {
	if p := conf.Net.SASL.Password; p != "" {
		msg = strings.ReplaceAll(msg, p, "*****")
	}
	return msg
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// topicFlags are the flags that say what to do with a missing topic.
func topicFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "create-partitions", Value: -1, EnvVars: envVars("create-partitions"),
			Usage: "partitions for a topic streamctl creates (default: the broker's num.partitions)", DefaultText: "broker default"},
		&cli.IntFlag{Name: "create-replication-factor", Value: -1, EnvVars: envVars("create-replication-factor"),
			Usage: "replication factor for a topic streamctl creates (default: the broker's default.replication.factor)", DefaultText: "broker default"},
		&cli.BoolFlag{Name: "no-create", EnvVars: envVars("no-create"),
			Usage: "fail (exit 1) when a topic does not exist instead of creating it"},
	}
}

// ensureTopics makes sure every topic exists, creating missing ones through
// the admin API (never by metadata auto-creation), then waits until every
// partition has a leader. A topic created meanwhile by someone else is fine.
func ensureTopics(ctx context.Context, c *cli.Context, client sarama.Client, topics []string, errOut func(string)) error {
	if err := client.RefreshMetadata(topics...); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return fmt.Errorf("reading metadata: %w", err)
	}
	existing, err := client.Topics()
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	have := map[string]bool{}
	for _, t := range existing {
		have[t] = true
	}
	var missing []string
	for _, t := range topics {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 && c.Bool("no-create") {
		return withHint(fmt.Errorf("topic %q does not exist", missing[0]), "drop --no-create to create it, or check the name")
	}
	if len(missing) > 0 {
		admin, err := sarama.NewClusterAdminFromClient(client)
		if err != nil {
			return fmt.Errorf("admin client: %w", err)
		}
		// The admin shares the client: closing it would close ours.
		for _, t := range missing {
			detail := &sarama.TopicDetail{
				NumPartitions:     int32(c.Int("create-partitions")),
				ReplicationFactor: int16(c.Int("create-replication-factor")),
			}
			if detail.NumPartitions == 0 || detail.NumPartitions < -1 {
				return usagef("--create-partitions must be at least 1")
			}
			if detail.ReplicationFactor == 0 || detail.ReplicationFactor < -1 {
				return usagef("--create-replication-factor must be at least 1")
			}
			err := admin.CreateTopic(t, detail, false)
			if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
				return fmt.Errorf("creating topic %q: %w", t, err)
			}
			if err == nil {
				errOut(fmt.Sprintf("created topic %q", t))
			}
		}
	}
	return waitForLeaders(ctx, client, topics)
}

// waitForLeaders polls metadata until every partition of topics has a
// leader, for at most 30 seconds.
func waitForLeaders(ctx context.Context, client sarama.Client, topics []string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := leadersReady(client, topics)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for partition leaders: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		_ = client.RefreshMetadata(topics...)
	}
}

func leadersReady(client sarama.Client, topics []string) error {
	for _, t := range topics {
		parts, err := client.Partitions(t)
		if err != nil {
			return fmt.Errorf("topic %q: %w", t, err)
		}
		if len(parts) == 0 {
			return fmt.Errorf("topic %q has no partitions yet", t)
		}
		for _, p := range parts {
			if _, err := client.Leader(t, p); err != nil {
				return fmt.Errorf("topic %q partition %d: %w", t, p, err)
			}
		}
	}
	return nil
}
