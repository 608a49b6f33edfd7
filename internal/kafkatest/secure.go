package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/saslscram"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The environment variables scripts/kafka/start.sh writes for the secured
// listeners of the real broker, next to Env.
const (
	EnvSASL       = "STREAMCTL_TEST_KAFKA_SASL"        // SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	EnvSSL        = "STREAMCTL_TEST_KAFKA_SSL"         // SSL, server certificate only
	EnvMTLS       = "STREAMCTL_TEST_KAFKA_MTLS"        // SSL with ssl.client.auth=required
	EnvCA         = "STREAMCTL_TEST_KAFKA_CA"          // PEM of the CA that signed the server certificate
	EnvClientCert = "STREAMCTL_TEST_KAFKA_CLIENT_CERT" // PEM client certificate the MTLS listener accepts
	EnvClientKey  = "STREAMCTL_TEST_KAFKA_CLIENT_KEY"  // its PEM key
	EnvUser       = "STREAMCTL_TEST_KAFKA_USER"        // SASL user
	EnvPassword   = "STREAMCTL_TEST_KAFKA_PASSWORD"    // its password
	EnvLibs       = "STREAMCTL_TEST_KAFKA_LIBS"        // Kafka's jars, for scripts/kafka/tool.sh
	EnvSASLReauth = "STREAMCTL_TEST_KAFKA_SASL_REAUTH" // SASL_PLAINTEXT as EnvSASL, with sessions of EnvReauthMs
	EnvReauthMs   = "STREAMCTL_TEST_KAFKA_REAUTH_MS"   // that listener's connections.max.reauth.ms
)

// RequireEnv returns the values of the environment variables names, all
// set, or ends t: with t.Fatal in CI's real tier (CI and STREAMCTL_TEST_KAFKA
// both set), where a missing variable means a broken setup, and with t.Skip
// elsewhere, where it means no real broker was given.
func RequireEnv(t testing.TB, why string, names ...string) []string {
	t.Helper()
	vals := make([]string, len(names))
	for i, n := range names {
		vals[i] = os.Getenv(n)
		if vals[i] != "" {
			continue
		}
		msg := fmt.Sprintf("%s needs %s (scripts/kafka/start.sh writes it to /tmp/streamctl-kafka/env; `make test-kafka` sources it)", why, n)
		if os.Getenv("CI") != "" && Real() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return vals
}

// Listener is a Kafka listener that wants TLS or SASL, and what opens it.
// The tests run the same cases against an in-process broker (always) and
// against the listeners of the real broker (when make test-kafka gives them).
type Listener struct {
	// Addr is the secured listener's host:port.
	Addr string
	// Real says that Addr belongs to the real broker.
	Real bool
	// User and Password are a SASL user the listener accepts.
	User, Password string
	// Mechanisms are the SASL mechanisms the listener offers.
	Mechanisms []string
	// CA is the PEM file of the CA that signed the server's certificate;
	// Cert and Key a client certificate and key that it accepts.
	CA, Cert, Key string

	// seed is a plaintext listener of the same cluster (real broker), or
	// empty when seeding must go through Addr with config.
	seed   string
	config *sarama.Config
}

// Seed creates a topic of one partition on l's cluster, writes values to
// it, and returns its name.
func (l *Listener) Seed(t testing.TB, values ...string) string {
	t.Helper()
	topic := Topic(t)
	addr, conf := l.seed, Config()
	if addr == "" {
		addr, conf = l.Addr, l.config
	}
	client, err := sarama.NewClient([]string{addr}, conf)
	if err != nil {
		t.Fatalf("connecting to %s: %v", addr, err)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_ = client.RefreshMetadata(topic)
		if _, err := client.Leader(topic, 0); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("topic %s: no leader after 30s: %v", topic, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, v := range values {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)}); err != nil {
			t.Fatalf("producing to %s: %v", topic, err)
		}
	}
	return topic
}

// The SASL mechanisms streamctl speaks, all of which the real broker's SASL
// listener offers.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
	OAuthBearer = "OAUTHBEARER" // the real broker's, in its unsecured-JWT mode
)

// SASLBroker starts an in-process broker that requires SASL and knows the
// user "alice" with a fresh random password for each of mechanisms (all
// three when none are given).
func SASLBroker(t testing.TB, mechanisms ...string) *Listener {
	t.Helper()
	return saslBroker(t, nil, mechanisms)
}

// SASLBrokerSessions is SASLBroker with SASL sessions of lifetime
// (connections.max.reauth.ms, KIP-368). The in-process broker says so in
// its SaslAuthenticate answers, but unlike Kafka it never closes a
// connection whose session ended.
func SASLBrokerSessions(t testing.TB, lifetime time.Duration, mechanisms ...string) *Listener {
	t.Helper()
	ms := strconv.FormatInt(lifetime.Milliseconds(), 10)
	return saslBroker(t, []kfake.Opt{kfake.BrokerConfigs(map[string]string{"connections.max.reauth.ms": ms})}, mechanisms)
}

func saslBroker(t testing.TB, extra []kfake.Opt, mechanisms []string) *Listener {
	t.Helper()
	if len(mechanisms) == 0 {
		mechanisms = []string{Plain, ScramSHA256, ScramSHA512}
	}
	l := &Listener{User: "alice", Password: "pw-" + randomHex(8), Mechanisms: mechanisms}
	opts := append([]kfake.Opt{kfake.EnableSASL()}, extra...)
	for _, m := range mechanisms {
		opts = append(opts, kfake.Superuser(m, l.User, l.Password))
	}
	l.Addr = startKfake(t, opts...)
	l.config = Config()
	l.config.Net.SASL.Enable = true
	l.config.Net.SASL.Handshake = true
	l.config.Net.SASL.User, l.config.Net.SASL.Password = l.User, l.Password
	switch mechanisms[0] {
	case Plain:
		l.config.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	case ScramSHA256:
		l.config.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
		l.config.Net.SASL.SCRAMClientGeneratorFunc = saslscram.SHA256
	case ScramSHA512:
		l.config.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		l.config.Net.SASL.SCRAMClientGeneratorFunc = saslscram.SHA512
	}
	return l
}

// TLSBroker starts an in-process broker that speaks only TLS, with a server
// certificate for 127.0.0.1 and localhost signed by a fresh CA. With
// clientCert, it also requires a client certificate signed by that CA (the
// Go TLS server verifies it; kfake just listens through it).
func TLSBroker(t testing.TB, clientCert bool) *Listener {
	t.Helper()
	pki := NewPKI(t)
	sc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pki.server}}
	if clientCert {
		sc.ClientAuth = tls.RequireAndVerifyClientCert
		sc.ClientCAs = pki.pool
	}
	l := &Listener{CA: pki.CA, Cert: pki.Cert, Key: pki.Key}
	l.Addr = startKfake(t, kfake.TLS(sc))
	l.config = Config()
	l.config.Net.TLS.Enable = true
	l.config.Net.TLS.Config = &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}}
	return l
}

// RealSASL is the real broker's SASL_PLAINTEXT listener; it skips t (or
// fails it, in CI's real tier) when make test-kafka did not give one.
func RealSASL(t testing.TB) *Listener {
	t.Helper()
	v := RequireEnv(t, "the real-broker SASL test", EnvSASL, EnvUser, EnvPassword, Env)
	return &Listener{Addr: v[0], Real: true, User: v[1], Password: v[2],
		Mechanisms: []string{Plain, ScramSHA256, ScramSHA512}, seed: v[3]}
}

// RealSASLReauth is the real broker's SASL_PLAINTEXT listener whose
// sessions last only a few seconds (connections.max.reauth.ms, KIP-368),
// and that lifetime; see RealSASL for when it skips.
func RealSASLReauth(t testing.TB) (*Listener, time.Duration) {
	t.Helper()
	v := RequireEnv(t, "the real-broker SASL re-authentication test", EnvSASLReauth, EnvReauthMs, EnvUser, EnvPassword, Env)
	ms, err := strconv.Atoi(v[1])
	if err != nil || ms <= 0 {
		t.Fatalf("%s=%q: want a positive number of milliseconds", EnvReauthMs, v[1])
	}
	return &Listener{Addr: v[0], Real: true, User: v[2], Password: v[3],
		Mechanisms: []string{Plain, ScramSHA256, ScramSHA512, OAuthBearer}, seed: v[4]}, time.Duration(ms) * time.Millisecond
}

// RealTLS is the real broker's SSL listener, or with clientCert its mTLS
// listener (ssl.client.auth=required); see RealSASL for when it skips.
func RealTLS(t testing.TB, clientCert bool) *Listener {
	t.Helper()
	port := EnvSSL
	if clientCert {
		port = EnvMTLS
	}
	v := RequireEnv(t, "the real-broker TLS test", port, EnvCA, EnvClientCert, EnvClientKey, Env)
	return &Listener{Addr: v[0], Real: true, CA: v[1], Cert: v[2], Key: v[3], seed: v[4]}
}

// PKI is a CA and the certificates it signed, as PEM files in a temporary
// directory.
type PKI struct {
	// CA is the CA certificate; Cert and Key the client's certificate (CN
	// alice) and key; ServerCert and ServerKey the server's, for 127.0.0.1
	// and localhost.
	CA, Cert, Key, ServerCert, ServerKey string

	server, client tls.Certificate
	pool           *x509.CertPool
}

// NewPKI makes a fresh CA, a server certificate and a client certificate.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "streamctl test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{pool: x509.NewCertPool()}
	p.pool.AddCert(caCert)
	p.CA = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	issue := func(name string, serial int64, tmpl *x509.Certificate) (certFile, keyFile string, pair tls.Certificate) {
		key := newKey(t)
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = caTmpl.NotBefore, caTmpl.NotAfter
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certFile = writePEM(t, dir, name+".pem", "CERTIFICATE", der)
		keyFile = writePEM(t, dir, name+"-key.pem", "PRIVATE KEY", keyDER)
		pair, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		return certFile, keyFile, pair
	}
	p.ServerCert, p.ServerKey, p.server = issue("server", 2, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.Cert, p.Key, p.client = issue("client", 3, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "alice"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startKfake starts an in-process cluster of one broker on 127.0.0.1 (the
// name the test certificates carry), closed at cleanup.
func startKfake(t testing.TB, opts ...kfake.Opt) string {
	t.Helper()
	listen := func(network, addr string) (net.Listener, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return net.Listen(network, net.JoinHostPort("127.0.0.1", port))
	}
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.ListenFn(listen), kfake.DefaultNumPartitions(1)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("starting in-process broker: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// SaramaConfig is a copy of the configuration that opens an in-process
// listener (nil for the real broker's).
func (l *Listener) SaramaConfig() *sarama.Config {
	if l.config == nil {
		return nil
	}
	c := *l.config
	return &c
}
