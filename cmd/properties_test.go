package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hasFlag(name string) bool { return allFlagNames(newApp(Streams{}))[name] }

// TestClientProperties reads the files Confluent Cloud, kcat and the Java
// console tools use and checks what each key became.
func TestClientProperties(t *testing.T) {
	dir := filepath.Join("..", "testdata", "cmd", "TestClientProperties")
	for _, tc := range []struct {
		file string
		want map[string]string // flag -> value
	}{
		{"ccloud.properties", map[string]string{
			"brokers":        "pkc-12345.europe-west1.gcp.confluent.cloud:9092",
			"tls":            "true",
			"sasl-mechanism": "PLAIN",
			"sasl-user":      "ABCDEFGHIJKLMNOP",
			"sasl-password":  "********",
		}},
		{"kcat.conf", map[string]string{
			"brokers":        "broker1:9093,broker2:9093",
			"tls":            "true",
			"sasl-mechanism": "SCRAM-SHA-512",
			"sasl-user":      "alice",
			"sasl-password":  "********",
			"tls-ca":         "/etc/kafka/ca.pem",
			"client-id":      "kcat-user",
		}},
		{"console.properties", map[string]string{
			"brokers":  "broker:9094",
			"tls":      "true",
			"tls-ca":   "/etc/kafka/truststore.pem",
			"tls-cert": "/etc/kafka/client.pem",
			"tls-key":  "/etc/kafka/client.pem",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			writeConfig(t, "profiles: {}\n")
			path := filepath.Join(dir, tc.file)
			r := runEnv(t, "--client-properties", path, "config")
			if tc.file == "ccloud.properties" && !hasFlag("schema-registry") {
				// Without the registry flags its schema.registry.url is
				// refused, not ignored.
				if r.Code != ExitUsage || !strings.Contains(r.Stderr, "line 17: schema.registry.url: unsupported key") {
					t.Fatalf("exit %d, stderr %q; want 2 naming schema.registry.url", r.Code, r.Stderr)
				}
				return
			}
			if tc.file == "ccloud.properties" {
				tc.want["schema-registry"] = "https://psrc-abcde.europe-west3.gcp.confluent.cloud"
				tc.want["schema-registry-user"] = "SRKEY"
				tc.want["schema-registry-password"] = "********"
			}
			if r.Code != 0 {
				t.Fatalf("exit %d: %s", r.Code, r.Stderr)
			}
			for flag, want := range tc.want {
				got, src := setting(t, r.Stdout, flag)
				if got != want || !strings.HasPrefix(src, "client-properties "+path) {
					t.Errorf("%s = %s (%s), want %s from client-properties %s", flag, got, src, want, path)
				}
			}
			if strings.Contains(r.Stdout, "Secret") || strings.Contains(r.Stdout, "alice-secret") {
				t.Errorf("config shows a secret:\n%s", r.Stdout)
			}
		})
	}
}

func TestParseJAAS(t *testing.T) {
	for _, tc := range []struct{ in, user, pass string }{
		{`org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p\"q";`, "u", `p"q`},
		{`org.apache.kafka.common.security.scram.ScramLoginModule required username='key' password='a=b;c';`, "key", "a=b;c"},
		{`org.apache.kafka.common.security.plain.PlainLoginModule required password=bare username=me;`, "me", "bare"},
	} {
		user, pass, err := parseJAAS(tc.in)
		if err != nil || user != tc.user || pass != tc.pass {
			t.Errorf("parseJAAS(%s) = %q, %q, %v; want %q, %q", tc.in, user, pass, err, tc.user, tc.pass)
		}
	}
	if _, _, err := parseJAAS(`org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;`); err == nil {
		t.Error("an OAUTHBEARER module was accepted")
	}
}

func TestClientPropertiesUsageErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"unknown key", "bootstrap.servers=a:1\nlinger.ms=5\n", "line 2: linger.ms: unsupported key"},
		{"protocol", "security.protocol=SSL_PLAIN\n", `line 1: security.protocol: "SSL_PLAIN"`},
		{"jks", "ssl.truststore.location=/t.jks\n", "line 1: ssl.truststore.location: store type JKS"},
		{"jaas", "sasl.jaas.config=com.example.Login required;\n", "line 1: sasl.jaas.config: login module"},
		{"no host check", "ssl.endpoint.identification.algorithm=\n", "line 1: ssl.endpoint.identification.algorithm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeConfig(t, "profiles: {}\n")
			path := filepath.Join(t.TempDir(), "client.properties")
			if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runEnv(t, "--client-properties", path, "config")
			if r.Code != ExitUsage || !strings.Contains(r.Stderr, path+": "+tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.Code, r.Stderr, path+": "+tc.want)
			}
		})
	}
	t.Run("-X unknown", func(t *testing.T) {
		writeConfig(t, "profiles: {}\n")
		r := runEnv(t, "-X", "fetch.wait.max.ms=5", "config")
		if r.Code != ExitUsage || !strings.Contains(r.Stderr, "-X: fetch.wait.max.ms: unsupported key") {
			t.Errorf("exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
	t.Run("-X without =", func(t *testing.T) {
		writeConfig(t, "profiles: {}\n")
		r := runEnv(t, "-X", "client.id", "config")
		if r.Code != ExitUsage || !strings.Contains(r.Stderr, "want KEY=VALUE") {
			t.Errorf("exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
}

// TestPropertiesFromProfile: a profile may name the client.properties file.
func TestPropertiesFromProfile(t *testing.T) {
	props := filepath.Join(t.TempDir(), "kcat.conf")
	if err := os.WriteFile(props, []byte("client.id=from-props\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, "default: p\nprofiles:\n  p:\n    client-properties: "+props+"\n    brokers: from-profile:1\n")
	r := runEnv(t, "config")
	if v, _ := setting(t, r.Stdout, "client-id"); v != "from-props" {
		t.Errorf("client-id = %s, want from-props; stderr %s", v, r.Stderr)
	}
	if v, _ := setting(t, r.Stdout, "brokers"); v != "from-profile:1" {
		t.Errorf("brokers = %s, want from-profile:1", v)
	}
}

// TestClientPropertiesReadableByOthersWarns: as for the config file, a
// password in a properties file others can read draws a warning.
func TestClientPropertiesReadableByOthersWarns(t *testing.T) {
	writeConfig(t, "profiles: {}\n")
	path := filepath.Join(t.TempDir(), "kcat.conf")
	if err := os.WriteFile(path, []byte("sasl.username=u\nsasl.password=p\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runEnv(t, "--client-properties", path, "config")
	if r.Code != 0 || !strings.Contains(r.Stderr, "warning: "+path+" holds a password (sasl.password)") {
		t.Errorf("exit %d, stderr %q; want a warning", r.Code, r.Stderr)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runEnv(t, "--client-properties", path, "config"); r.Code != 0 || r.Stderr != "" {
		t.Errorf("mode 0600: exit %d, stderr %q; want 0 and nothing", r.Code, r.Stderr)
	}
}
