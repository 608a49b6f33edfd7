package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// The security tests run each case against an in-process broker (on every
// go test) and against the listeners of the real broker (make test-kafka;
// skipped without it, fatal in CI's real tier).

// forSASL runs f against an in-process SASL broker and the real broker's
// SASL_PLAINTEXT listener.
func forSASL(t *testing.T, f func(t *testing.T, l *kafkatest.Listener)) {
	t.Run("kfake", func(t *testing.T) { f(t, kafkatest.SASLBroker(t)) })
	t.Run("kafka", func(t *testing.T) { f(t, kafkatest.RealSASL(t)) })
}

// forTLS runs f against an in-process TLS broker and the real broker's SSL
// listener, or with clientCert their mutual-TLS counterparts.
func forTLS(t *testing.T, clientCert bool, f func(t *testing.T, l *kafkatest.Listener)) {
	t.Run("kfake", func(t *testing.T) { f(t, kafkatest.TLSBroker(t, clientCert)) })
	t.Run("kafka", func(t *testing.T) { f(t, kafkatest.RealTLS(t, clientCert)) })
}

// forPlaintext runs f against a listener without TLS or SASL: an in-process
// broker, and the real broker's PLAINTEXT listener.
func forPlaintext(t *testing.T, f func(t *testing.T, addr string)) {
	t.Run("kfake", func(t *testing.T) {
		t.Setenv(kafkatest.Env, "") // kafkatest.Broker: in-process
		f(t, kafkatest.Broker(t))
	})
	t.Run("kafka", func(t *testing.T) {
		f(t, kafkatest.RequireEnv(t, "the real-broker plaintext test", kafkatest.Env)[0])
	})
}

// connectTimeout bounds every failing connection in these tests.
const connectTimeout = "5s"

func saslArgs(addr, mech, user, pass string) []string {
	return []string{"-b", addr, "--connect-timeout", connectTimeout,
		"--sasl-mechanism", mech, "--sasl-user", user, "--sasl-password", pass}
}

// noSecret fails t if any secret shows in what streamctl printed.
func noSecret(t *testing.T, r result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(r.Stdout, s) || strings.Contains(r.Stderr, s) {
			t.Errorf("the password %q was printed\nstdout:\n%s\nstderr:\n%s", s, r.Stdout, r.Stderr)
		}
	}
}

// failsClearly runs streamctl and wants exit 1 well within the test's
// bound (the connect timeout is a few seconds; no retry loop may stretch
// it), stderr naming the cause with every one of want, and no secret in
// the output.
func failsClearly(t *testing.T, secrets []string, args []string, want ...string) result {
	t.Helper()
	start := time.Now()
	r := run(t, "", args...)
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("streamctl took %s to fail; want a failure bounded by --connect-timeout %s", d.Round(time.Second), connectTimeout)
	}
	if r.Code != ExitError {
		t.Fatalf("streamctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, ExitError, r.Stdout, r.Stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr does not say %q:\n%s", w, r.Stderr)
		}
	}
	if r.Stdout != "" {
		t.Errorf("stdout = %q, want nothing on a failure", r.Stdout)
	}
	if n := strings.Count(r.Stderr, "streamctl: "); n != 1 {
		t.Errorf("stderr has %d error lines, want 1:\n%s", n, r.Stderr)
	}
	noSecret(t, r, secrets...)
	return r
}

// mechanisms are the SASL mechanisms streamctl speaks.
var mechanisms = []string{kafkatest.Plain, kafkatest.ScramSHA256, kafkatest.ScramSHA512}

func TestSASLMechanismsConsumeAndProduce(t *testing.T) {
	forSASL(t, func(t *testing.T, l *kafkatest.Listener) {
		for _, mech := range mechanisms {
			t.Run(mech, func(t *testing.T) {
				topic := l.Seed(t, "one", "two")
				auth := saslArgs(l.Addr, mech, l.User, l.Password)
				r := mustRun(t, 0, "", append(auth, "consume", topic, "-e")...)
				noSecret(t, r, l.Password)
				if diff := cmp.Diff("one\ntwo\n", r.Stdout); diff != "" {
					t.Errorf("consume stdout (-want +got):\n%s", diff)
				}
				r = mustRun(t, 0, "three\n", append(auth, "produce", topic, "-v")...)
				noSecret(t, r, l.Password)
				r = mustRun(t, 0, "", append(auth, "consume", topic, "-e")...)
				noSecret(t, r, l.Password)
				if diff := cmp.Diff("one\ntwo\nthree\n", r.Stdout); diff != "" {
					t.Errorf("consume after produce, stdout (-want +got):\n%s", diff)
				}
			})
		}
	})
}

func TestSASLWrongPassword(t *testing.T) {
	forSASL(t, func(t *testing.T, l *kafkatest.Listener) {
		for _, mech := range mechanisms {
			t.Run(mech, func(t *testing.T) {
				wrong := "wrong-" + l.Password
				args := append(saslArgs(l.Addr, mech, l.User, wrong), "consume", "never-created", "--no-create", "-e")
				failsClearly(t, []string{wrong, l.Password}, args,
					"SASL authentication as \""+l.User+"\" ("+mech+") failed", "hint: check --sasl-user and the password")
			})
		}
	})
}

func TestSASLUnknownUser(t *testing.T) {
	forSASL(t, func(t *testing.T, l *kafkatest.Listener) {
		for _, mech := range mechanisms {
			t.Run(mech, func(t *testing.T) {
				args := append(saslArgs(l.Addr, mech, "mallory", l.Password), "produce", "never-created", "--no-create")
				failsClearly(t, []string{l.Password}, args,
					"SASL authentication as \"mallory\" ("+mech+") failed", "hint: check --sasl-user")
			})
		}
	})
}

// The real broker offers all three mechanisms, so only the in-process one
// can lack one.
func TestSASLMechanismTheListenerLacks(t *testing.T) {
	l := kafkatest.SASLBroker(t, kafkatest.Plain)
	args := append(saslArgs(l.Addr, kafkatest.ScramSHA512, l.User, l.Password), "consume", "never-created", "--no-create", "-e")
	failsClearly(t, []string{l.Password}, args, "SASL authentication", "failed", "that the listener offers --sasl-mechanism")
}

func TestSASLAgainstPlaintextListener(t *testing.T) {
	const pass = "not-for-this-listener-42"
	forPlaintext(t, func(t *testing.T, addr string) {
		args := append(saslArgs(addr, kafkatest.ScramSHA256, "alice", pass), "consume", "never-created", "--no-create", "-e")
		failsClearly(t, []string{pass}, args, addr, "is it a listener without SASL?")
	})
}

func TestSASLListenerWithoutCredentials(t *testing.T) {
	forSASL(t, func(t *testing.T, l *kafkatest.Listener) {
		failsClearly(t, []string{l.Password},
			[]string{"-b", l.Addr, "--connect-timeout", connectTimeout, "consume", "never-created", "--no-create", "-e"},
			l.Addr, "hint: does the listener need SASL?")
	})
}

func TestSASLPasswordFromEnv(t *testing.T) {
	forSASL(t, func(t *testing.T, l *kafkatest.Listener) {
		topic := l.Seed(t, "from-env")
		args := []string{"-b", l.Addr, "--sasl-mechanism", kafkatest.ScramSHA512, "--sasl-user", l.User,
			"--connect-timeout", connectTimeout, "consume", topic, "-e"}
		t.Run("right", func(t *testing.T) {
			t.Setenv("STREAMCTL_SASL_PASSWORD", l.Password)
			r := mustRun(t, 0, "", args...)
			noSecret(t, r, l.Password)
			if got, want := r.Stdout, "from-env\n"; got != want {
				t.Errorf("stdout = %q, want %q", got, want)
			}
		})
		t.Run("wrong", func(t *testing.T) {
			wrong := "env-wrong-" + l.Password
			t.Setenv("STREAMCTL_SASL_PASSWORD", wrong)
			failsClearly(t, []string{wrong, l.Password}, args, "SASL authentication", "failed")
		})
		t.Run("all from env", func(t *testing.T) {
			t.Setenv("STREAMCTL_BROKERS", l.Addr)
			t.Setenv("STREAMCTL_SASL_MECHANISM", "scram-sha-256")
			t.Setenv("STREAMCTL_SASL_USER", l.User)
			t.Setenv("STREAMCTL_SASL_PASSWORD", l.Password)
			r := mustRun(t, 0, "", "consume", topic, "-e")
			noSecret(t, r, l.Password)
			if got, want := r.Stdout, "from-env\n"; got != want {
				t.Errorf("stdout = %q, want %q", got, want)
			}
		})
	})
}

// urfave/cli shows a flag's default in --help; the value from the
// environment must not become it.
func TestSASLPasswordNotInHelp(t *testing.T) {
	const pass = "help-must-not-show-this"
	t.Setenv("STREAMCTL_SASL_PASSWORD", pass)
	for _, args := range [][]string{{"--help"}, {"consume", "--help"}, {"produce", "--help"}} {
		r := mustRun(t, 0, "", args...)
		noSecret(t, r, pass)
		if !strings.Contains(r.Stdout+r.Stderr, "STREAMCTL_SASL_PASSWORD") && args[0] == "--help" {
			t.Errorf("streamctl --help does not mention STREAMCTL_SASL_PASSWORD")
		}
	}
}

func TestSecurityUsageErrors(t *testing.T) {
	const pass = "usage-secret-7"
	for _, args := range [][]string{
		{"--sasl-mechanism", "GSSAPI", "--sasl-user", "u", "--sasl-password", pass},
		{"--sasl-mechanism", "PLAIN", "--sasl-password", pass},
		{"--sasl-user", "u", "--sasl-password", pass},
		{"--tls-cert", "client.pem"},
		{"--tls-key", "client-key.pem"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := mustRun(t, ExitUsage, "", append(args, "-b", "127.0.0.1:1", "consume", "t", "-e")...)
			noSecret(t, r, pass)
		})
	}
}

func TestTLSWithCA(t *testing.T) {
	forTLS(t, false, func(t *testing.T, l *kafkatest.Listener) {
		topic := l.Seed(t, "secret", "message")
		r := mustRun(t, 0, "", "-b", l.Addr, "--tls-ca", l.CA, "consume", topic, "-e")
		if diff := cmp.Diff("secret\nmessage\n", r.Stdout); diff != "" {
			t.Errorf("stdout (-want +got):\n%s", diff)
		}
		mustRun(t, 0, "more\n", "-b", l.Addr, "--tls", "--tls-ca", l.CA, "produce", topic)
		t.Setenv("STREAMCTL_TLS_CA", l.CA)
		r = mustRun(t, 0, "", "-b", l.Addr, "--tls", "consume", topic, "-e")
		if diff := cmp.Diff("secret\nmessage\nmore\n", r.Stdout); diff != "" {
			t.Errorf("with STREAMCTL_TLS_CA, stdout (-want +got):\n%s", diff)
		}
	})
}

func TestTLSUntrustedCertificate(t *testing.T) {
	forTLS(t, false, func(t *testing.T, l *kafkatest.Listener) {
		failsClearly(t, nil, []string{"-b", l.Addr, "--tls", "--connect-timeout", connectTimeout, "consume", "never-created", "--no-create", "-e"},
			"TLS: the certificate of "+l.Addr+" is not trusted", "unknown authority", "hint: give the CA that signed the brokers' certificates with --tls-ca FILE")
	})
}

func TestTLSServerName(t *testing.T) {
	forTLS(t, false, func(t *testing.T, l *kafkatest.Listener) {
		t.Run("mismatch", func(t *testing.T) {
			failsClearly(t, nil, []string{"-b", l.Addr, "--tls-ca", l.CA, "--tls-server-name", "kafka.example.com",
				"--connect-timeout", connectTimeout, "consume", "never-created", "--no-create", "-e"},
				`does not carry the name "kafka.example.com"`, "hint: connect by a name the certificate carries, or set --tls-server-name")
		})
		t.Run("match", func(t *testing.T) {
			topic := l.Seed(t, "by name")
			// The certificate names localhost; the address is 127.0.0.1.
			r := mustRun(t, 0, "", "-b", l.Addr, "--tls-ca", l.CA, "--tls-server-name", "localhost", "consume", topic, "-e")
			if got, want := r.Stdout, "by name\n"; got != want {
				t.Errorf("stdout = %q, want %q", got, want)
			}
		})
	})
}

func TestTLSInsecureSkipVerify(t *testing.T) {
	forTLS(t, false, func(t *testing.T, l *kafkatest.Listener) {
		topic := l.Seed(t, "unverified")
		r := mustRun(t, 0, "", "-b", l.Addr, "--tls-insecure-skip-verify", "consume", topic, "-e")
		if got, want := r.Stdout, "unverified\n"; got != want {
			t.Errorf("stdout = %q, want %q", got, want)
		}
		if !strings.Contains(r.Stderr, "WARNING: --tls-insecure-skip-verify") || !strings.Contains(r.Stderr, "NOT verified") {
			t.Errorf("stderr lacks the loud warning:\n%s", r.Stderr)
		}
	})
}

func TestMTLS(t *testing.T) {
	forTLS(t, true, func(t *testing.T, l *kafkatest.Listener) {
		t.Run("with certificate", func(t *testing.T) {
			topic := l.Seed(t, "mutual")
			r := mustRun(t, 0, "", "-b", l.Addr, "--tls-ca", l.CA, "--tls-cert", l.Cert, "--tls-key", l.Key, "consume", topic, "-e")
			if got, want := r.Stdout, "mutual\n"; got != want {
				t.Errorf("stdout = %q, want %q", got, want)
			}
			mustRun(t, 0, "back\n", "-b", l.Addr, "--tls-ca", l.CA, "--tls-cert", l.Cert, "--tls-key", l.Key, "produce", topic)
		})
		t.Run("without certificate", func(t *testing.T) {
			failsClearly(t, nil, []string{"-b", l.Addr, "--tls-ca", l.CA, "--connect-timeout", connectTimeout, "consume", "never-created", "--no-create", "-e"},
				"refused the client certificate", "hint: give a client certificate the brokers accept with --tls-cert FILE and --tls-key FILE")
		})
		t.Run("certificate of another CA", func(t *testing.T) {
			other := kafkatest.NewPKI(t)
			failsClearly(t, nil, []string{"-b", l.Addr, "--tls-ca", l.CA, "--tls-cert", other.Cert, "--tls-key", other.Key,
				"--connect-timeout", connectTimeout, "consume", "never-created", "--no-create", "-e"},
				"refused the client certificate", "hint: the brokers do not accept the client certificate")
		})
	})
}

func TestTLSAgainstPlaintextListener(t *testing.T) {
	forPlaintext(t, func(t *testing.T, addr string) {
		failsClearly(t, nil, []string{"-b", addr, "--tls", "--connect-timeout", connectTimeout, "consume", "never-created", "--no-create", "-e"},
			"TLS: no TLS handshake with "+addr, "hint: is it a plaintext listener? drop --tls")
	})
}

func TestPlaintextAgainstTLSListener(t *testing.T) {
	forTLS(t, false, func(t *testing.T, l *kafkatest.Listener) {
		failsClearly(t, nil, []string{"-b", l.Addr, "--connect-timeout", connectTimeout, "consume", "never-created", "--no-create", "-e"},
			l.Addr, "hint: is it a TLS listener? add --tls")
		const pass = "sasl-on-tls-9"
		failsClearly(t, []string{pass}, append(saslArgs(l.Addr, kafkatest.Plain, "alice", pass), "produce", "never-created", "--no-create"),
			l.Addr, "hint: is it a TLS listener? add --tls")
	})
}
