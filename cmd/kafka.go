package cmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/rcrowley/go-metrics"
	"github.com/streamctl/streamctl/internal/kafkaconn"
	"github.com/streamctl/streamctl/internal/saslscram"
	"github.com/urfave/cli/v2"
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
			Usage: "give up connecting to the brokers (dial, TLS, SASL, first answer, all together) after this long"},
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
		&cli.StringFlag{Name: "sasl-mechanism", EnvVars: envVars("sasl-mechanism"), Usage: "SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"},
		&cli.StringFlag{Name: "sasl-user", EnvVars: envVars("sasl-user"), Usage: "SASL user name"},
		&cli.StringFlag{Name: "sasl-password", EnvVars: envVars("sasl-password"),
			Usage: "SASL password (best given as STREAMCTL_SASL_PASSWORD so it stays out of ps and shell history)"},
		&cli.StringFlag{Name: "color", Value: "auto", EnvVars: envVars("color"),
			Usage: "colour output: auto (on a terminal, unless NO_COLOR is set), always or never"},
	}
}

// sarama records histograms of every request and message in a go-metrics
// registry nobody here reads: measurable CPU on hot paths. The switch is a
// process-wide variable that sarama reads whenever it makes a client, so it
// is set before anything runs, not on the first command (where a client
// made at the same time, in a test, raced with the write).
func init() { metrics.UseNilMetrics = true }

// kafkaRelease spells a release before 1.0 as sarama parses it: Kafka
// named those with four numbers (0.11.0.0), and people often write three
// or two (0.11.0, 0.11).
func kafkaRelease(v string) string {
	if strings.HasPrefix(v, "0.") {
		for strings.Count(v, ".") < 3 {
			v += ".0"
		}
	}
	return v
}

// kafkaConfig builds the sarama configuration from the global flags. Topic
// auto-creation through metadata requests is always off: streamctl creates
// topics on purpose, through the admin API.
func kafkaConfig(c *cli.Context, errOut func(string)) (*sarama.Config, error) {
	conf := sarama.NewConfig()
	conf.MetricRegistry = metrics.NewRegistry()
	conf.ClientID = c.String("client-id")
	v, err := sarama.ParseKafkaVersion(kafkaRelease(c.String("kafka-version")))
	if err != nil {
		return nil, usagef("--kafka-version: %v (want a Kafka release such as 2.8.0, 3.7.0 or 4.0.0)", err)
	}
	if !v.IsAtLeast(sarama.V0_11_0_0) {
		// Record batches, which carry headers, timestamps and producer
		// IDs, and the Fetch requests that read them came with Kafka
		// 0.11 (2017).
		return nil, usagef("streamctl needs Kafka 0.11 or later: --kafka-version %s is older", v)
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
	dl := &dialer{net: net.Dialer{Timeout: d, KeepAlive: conf.Net.KeepAlive}, timeout: d}
	if useTLS {
		if dl.tls, err = tlsConfig(c, errOut); err != nil {
			return nil, err
		}
	}
	// The dialer, not sarama, does the TLS handshake, so that it is bounded
	// by --connect-timeout (sarama's runs under the 30 s read timeout, and a
	// plaintext listener may never answer it), and so that a broker hanging
	// up can be told apart: see dialer.
	conf.Net.Proxy.Enable = true
	conf.Net.Proxy.Dialer = dl
	if err := saslConfig(c, conf); err != nil {
		return nil, err
	}
	return conf, nil
}

func tlsConfig(c *cli.Context, errOut func(string)) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.String("tls-server-name")}
	stores := pkcs12Stores(c)
	if st := stores[c.String("tls-ca")]; st != nil && st.roots != nil {
		pool := x509.NewCertPool()
		for _, r := range st.roots {
			pool.AddCert(r)
		}
		tc.RootCAs = pool
	} else if ca := c.String("tls-ca"); ca != "" {
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
	if st := stores[cert]; cert == key && st != nil && st.cert != nil {
		tc.Certificates = []tls.Certificate{*st.cert}
	} else if cert != "" {
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
	if mech == "OAUTHBEARER" {
		return oauthConfig(c, conf)
	}
	if user == "" {
		return usagef("--sasl-mechanism %s needs --sasl-user", mech)
	}
	if pass == "" {
		return usageError{withHint(fmt.Errorf("--sasl-mechanism %s needs a password", mech),
			"set STREAMCTL_SASL_PASSWORD (or --sasl-password, which ps and shell history can see)")}
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
		conf.Net.SASL.SCRAMClientGeneratorFunc = saslscram.SHA256
	case "SCRAM-SHA-512":
		conf.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		conf.Net.SASL.SCRAMClientGeneratorFunc = saslscram.SHA512
	default:
		return usagef("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER", c.String("sasl-mechanism"))
	}
	return nil
}

// connect opens a client to the brokers: dial, TLS, SASL and the first
// metadata answer, all within the connect timeout, or an error that says
// what went wrong (never the password).
func connect(ctx context.Context, c *cli.Context, conf *sarama.Config) (sarama.Client, error) {
	brokers := splitList(c.String("brokers"))
	if len(brokers) == 0 {
		return nil, usagef("--brokers is empty")
	}
	for i, b := range brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			brokers[i] = net.JoinHostPort(strings.Trim(b, "[]"), "9092") // Kafka's port, as kcat assumes
		}
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
	// Each dial and handshake is bounded by the connect timeout, but a
	// listener that accepts and never answers a request would hold sarama
	// for its read timeout, per retry, and retries add up: the one bound
	// is this timer. The dialer's trace says how far the attempt got.
	timer := time.NewTimer(conf.Net.DialTimeout)
	defer timer.Stop()
	dl, _ := conf.Net.Proxy.Dialer.(*dialer)
	abandon := func() {
		if dl != nil {
			dl.abort() // NewClient returns soon: its connections are gone
		}
		go func() {
			if r := <-done; r.client != nil {
				r.client.Close()
			}
		}()
	}
	select {
	case r := <-done:
		if r.err != nil {
			return nil, explainConnectError(r.err, brokers, conf)
		}
		if dl != nil {
			dl.settle()
		}
		return r.client, nil
	case <-timer.C:
		err := explainConnectError(errNoAnswer, brokers, conf) // before abort moves the trace on
		abandon()
		return nil, err
	case <-ctx.Done():
		abandon()
		return nil, ctx.Err()
	}
}

// errNoAnswer is a bootstrap that outlasted the connect timeout.
var errNoAnswer = errors.New("no answer")

// explainConnectError turns sarama's "run out of available brokers" into
// the cause and, where it is knowable, the fix.
func explainConnectError(err error, brokers []string, conf *sarama.Config) error {
	addr := strings.Join(brokers, ",")
	var tr trace
	var tlsOn, hasCert bool
	if dl, ok := conf.Net.Proxy.Dialer.(*dialer); ok {
		tr, tlsOn, hasCert = dl.last(), dl.tls != nil, dl.tls != nil && len(dl.tls.Certificates) > 0
		if tr.addr != "" {
			addr = tr.addr
		}
	}
	sasl := conf.Net.SASL
	who := fmt.Sprintf("%q (%s)", sasl.User, sasl.Mechanism)
	saslHint := "check --sasl-user and the password (--sasl-password, or better STREAMCTL_SASL_PASSWORD), and that the listener offers --sasl-mechanism"
	if sasl.Mechanism == sarama.SASLTypeOAuth {
		who = "the token's subject (OAUTHBEARER)"
		saslHint = "check the token (--sasl-oauth-token, or what --sasl-oauth-token-url issues): its expiry, subject and scope, and that the listener offers OAUTHBEARER"
	}
	tlsHint := "is it a plaintext listener? drop --tls and the other --tls-* flags, or use the brokers' TLS port"
	plainHint := "is it a TLS listener? add --tls (and --tls-ca FILE unless the system trusts its certificate)"
	var he *handshakeError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	msg := scrub(cause(err).Error(), conf)
	if errors.Is(err, errNoAnswer) {
		msg = fmt.Sprintf("no answer within %s (--connect-timeout)", conf.Net.DialTimeout)
	}
	e := func(format string, args ...any) error { return fmt.Errorf(format, args...) }
	hint := func(err error, h string) error { return withHint(err, "%s", h) }
	switch {
	case errors.As(err, &unknownAuth):
		return hint(e("TLS: the certificate of %s is not trusted: %s", addr, msg),
			"give the CA that signed the brokers' certificates with --tls-ca FILE (--tls-insecure-skip-verify turns checking off, for tests only)")
	case errors.As(err, &hostErr):
		return hint(e("TLS: the certificate of %s does not carry the name %q: %s", addr, hostErr.Host, msg),
			"connect by a name the certificate carries, or set --tls-server-name to one")
	case errors.As(err, &invalid):
		return hint(e("TLS: the certificate of %s is not valid: %s", addr, msg),
			"check the brokers' certificates and this machine's clock")
	case strings.Contains(msg, "certificate required") || strings.Contains(msg, "bad certificate") ||
		strings.Contains(msg, "unknown certificate authority") || strings.Contains(msg, "certificate unknown"):
		h := "give a client certificate the brokers accept with --tls-cert FILE and --tls-key FILE"
		if hasCert {
			h = "the brokers do not accept the client certificate of --tls-cert: check that their CA signed it"
		}
		return hint(e("TLS: %s refused the client certificate: %s", addr, msg), h)
	case errors.As(err, &he):
		return hint(e("TLS: no TLS handshake with %s: %s", addr, msg), tlsHint)
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed):
		return hint(e("SASL authentication as %s failed at %s: %s", who, addr, msg), saslHint)
	case errors.Is(err, sarama.ErrUnsupportedSASLMechanism):
		return hint(e("the listener at %s does not offer SASL mechanism %s", addr, sasl.Mechanism),
			"choose another --sasl-mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), or ask which the cluster offers; is it a listener without SASL?")
	case errors.Is(err, sarama.ErrIllegalSASLState):
		return hint(e("%s does not expect SASL authentication: %s", addr, msg),
			"is it a listener without SASL? drop --sasl-mechanism, or use the brokers' SASL port")
	case strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") ||
		(tr.stage == stageDial && (strings.Contains(msg, "i/o timeout") || errors.Is(err, errNoAnswer))):
		return hint(e("cannot reach brokers %s: %s", addr, msg),
			"is Kafka running there? 'streamctl broker' starts a local one on 127.0.0.1:9092")
	}
	// The broker hung up (EOF, reset), sent something that is not Kafka, or
	// did not answer: how far the connection got says why.
	switch {
	case tr.tlsReply:
		return hint(e("%s answers in TLS, and streamctl spoke plaintext: %s", addr, msg), plainHint)
	case tr.stage == stageHandshake:
		return hint(e("TLS: no TLS handshake with %s: %s", addr, msg), tlsHint)
	case tr.stage == stageRequest && tr.request == keySASLHandshake && tr.answered:
		// Sarama drops the error of a refused handshake; Kafka refuses it
		// with ILLEGAL_SASL_STATE on a listener without SASL.
		return hint(e("%s refused the SASL handshake for %s", addr, who),
			"is it a listener without SASL? drop --sasl-mechanism, or use the brokers' SASL port")
	case tr.stage == stageRequest && (tr.request == keySASLHandshake || tr.request == keySASLAuthenticate):
		return hint(e("SASL authentication as %s failed at %s: the broker ended the exchange (%s)", who, addr, msg),
			saslHint+"; is it a listener without SASL?")
	case tr.stage == stageRequest && !tr.answered && tr.first:
		h := plainHint
		if tlsOn {
			h = "is it a Kafka listener? check the host and port of --brokers"
		}
		return hint(e("%s did not answer the first Kafka request: %s", addr, msg), h)
	case tr.stage == stageRequest && !tr.answered && !sasl.Enable:
		return hint(e("%s ended the connection before authentication: %s", addr, msg),
			"does the listener need SASL? give --sasl-mechanism, --sasl-user and STREAMCTL_SASL_PASSWORD")
	case tr.stage == stageRequest && tr.first:
		return hint(e("%s did not give a Kafka answer to the first request: %s", addr, msg),
			"is it a Kafka listener? check the host and port of --brokers, and whether it wants --tls")
	}
	return e("connecting to %s: %s", addr, msg)
}

// cause is the last error sarama joined into "run out of available brokers",
// the one from the latest attempt.
func cause(err error) error {
	for {
		switch u := errors.Unwrap(err).(type) {
		case nil:
			return err
		case interface{ Unwrap() []error }:
			errs := u.Unwrap()
			return cause(errs[len(errs)-1])
		default:
			if errors.Is(err, sarama.ErrOutOfBrokers) {
				err = u
				continue
			}
			return err
		}
	}
}

// The Kafka API keys a trace tells apart.
const (
	keySASLHandshake    = 17
	keyApiVersions      = 18
	keySASLAuthenticate = 36
)

// The stages of a connection.
const (
	stageDial = iota
	stageHandshake
	stageRequest
)

// trace is how far one connection to a broker got.
type trace struct {
	addr     string
	stage    int
	request  int16 // API key of the last request sent
	first    bool  // whether it is the connection's first request
	answered bool  // whether any bytes came back since
	tlsReply bool  // whether the first bytes back were a TLS record
}

// dialer connects to brokers for sarama (as its Net.Proxy.Dialer): TCP,
// then TLS if asked, each within the connect timeout, and it traces how far
// the latest connection got. Sarama reports a broker hanging up as "EOF"
// whether that happened in a TLS handshake, in a SASL exchange, or on a
// plaintext request to a TLS port; the trace tells which.
type dialer struct {
	net     net.Dialer
	tls     *tls.Config
	timeout time.Duration

	mu     sync.Mutex
	latest *tracedConn // the latest connection to have sent a request
	// attempt is a connection under way (dialling, in its TLS handshake,
	// or not yet sending) or one that failed there; it is newer than latest.
	attempt *trace
	// open holds the connections made while connecting, until settle or
	// abort; aborted says connect gave up, and stop ends dials under way.
	open    map[net.Conn]struct{}
	settled bool
	aborted bool
	stop    chan struct{}
}

// errAbandoned is a dial after connect gave up on the attempt.
var errAbandoned = errors.New("connection attempt abandoned")

// abort ends an attempt connect gave up on: dials under way stop, the
// connections made so far are closed and new dials fail, so that sarama's
// NewClient, which takes no context, returns at once rather than holding a
// goroutine (and a socket) for its read timeout, retry after retry.
func (d *dialer) abort() {
	d.mu.Lock()
	if d.aborted {
		d.mu.Unlock()
		return
	}
	d.aborted = true
	open := d.open
	d.open = nil
	if d.stop != nil {
		close(d.stop)
	}
	d.mu.Unlock()
	for c := range open {
		c.Close()
	}
}

// settle ends the tracking of an attempt that succeeded: the connections
// are the client's from now on.
func (d *dialer) settle() {
	d.mu.Lock()
	d.open, d.settled = nil, true
	d.mu.Unlock()
}

// dialContext is a context that abort cancels.
func (d *dialer) dialContext() (context.Context, context.CancelFunc) {
	d.mu.Lock()
	if d.stop == nil {
		d.stop = make(chan struct{})
	}
	stop, aborted := d.stop, d.aborted
	d.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	if aborted {
		cancel()
		return ctx, cancel
	}
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// track keeps conn until the attempt settles, or closes it when the
// attempt was abandoned while it was being made.
func (d *dialer) track(conn net.Conn) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.aborted {
		conn.Close()
		return errAbandoned
	}
	if !d.settled {
		if d.open == nil {
			d.open = map[net.Conn]struct{}{}
		}
		d.open[conn] = struct{}{}
	}
	return nil
}

func (d *dialer) last() trace {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.attempt != nil {
		return *d.attempt
	}
	if d.latest != nil {
		d.latest.mu.Lock()
		defer d.latest.mu.Unlock()
		return d.latest.trace
	}
	return trace{}
}

// begin records how far the newest connection got.
func (d *dialer) begin(t trace) {
	d.mu.Lock()
	if d.aborted {
		d.mu.Unlock()
		return // the attempt connect explained is the one to keep
	}
	d.attempt, d.latest = &t, nil
	d.mu.Unlock()
}

// Dial is sarama's proxy.Dialer.
func (d *dialer) Dial(network, addr string) (net.Conn, error) {
	d.begin(trace{addr: addr, stage: stageDial})
	dctx, dcancel := d.dialContext()
	defer dcancel()
	conn, err := d.net.DialContext(dctx, network, addr)
	if err != nil {
		if dctx.Err() != nil {
			return nil, errAbandoned
		}
		return nil, err
	}
	if err := d.track(conn); err != nil {
		return nil, err
	}
	if d.tls != nil {
		d.begin(trace{addr: addr, stage: stageHandshake})
		ctx, cancel := context.WithTimeout(dctx, d.timeout)
		tconn, err := kafkaconn.Handshake(ctx, conn, d.tls, addr)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("no answer within %s (--connect-timeout)", d.timeout)
			}
			return nil, &handshakeError{err}
		}
		conn = tconn
	}
	d.begin(trace{addr: addr, stage: stageRequest, request: -1})
	return &tracedConn{Conn: conn, dialer: d, trace: trace{addr: addr, stage: stageRequest, request: -1}}, nil
}

// handshakeError is a TLS handshake that failed.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// tracedConn records the API key of each request written (sarama writes a
// request, size and header first, in one call; the produce path writes its
// record batches after the header, in calls of their own) and whether
// bytes came back, until the first answer to a request past
// authentication.
type tracedConn struct {
	net.Conn
	dialer *dialer
	mu     sync.Mutex
	done   bool
	trace  trace
	rest   int // bytes of the request being written still to come
}

func (c *tracedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	first := false
	starts := c.rest == 0
	if starts && len(p) >= 4 {
		c.rest = 4 + int(binary.BigEndian.Uint32(p[:4]))
	}
	c.rest = max(c.rest-len(p), 0)
	if !c.done && starts && len(p) >= 6 {
		first = c.trace.request == -1
		c.trace.first = first
		c.trace.request = int16(binary.BigEndian.Uint16(p[4:6]))
		c.trace.answered = false
	}
	c.mu.Unlock()
	if first {
		// The latest connection to have sent something is the one to explain.
		c.dialer.mu.Lock()
		c.dialer.latest, c.dialer.attempt = c, nil
		c.dialer.mu.Unlock()
	}
	return c.Conn.Write(p)
}

func (c *tracedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if c.trace.first && !c.trace.answered && n >= 2 && (p[0] == 0x15 || p[0] == 0x16) && p[1] == 0x03 {
			// A TLS alert or handshake record: no Kafka response is 350 MB.
			c.trace.tlsReply = true
		}
		if !c.done {
			c.trace.answered = true
			switch c.trace.request {
			case keyApiVersions, keySASLHandshake, keySASLAuthenticate:
			default:
				c.done = true
			}
		}
		c.mu.Unlock()
	}
	return n, err
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
