package cmd

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
	"software.sslmate.com/src/go-pkcs12"
)

// writePKCS12Stores writes l's CA as a PKCS12 truststore and its client
// certificate and key as a PKCS12 keystore, both under password, and
// returns their paths.
func writePKCS12Stores(t *testing.T, l *kafkatest.Listener, password string) (truststore, keystore string) {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(l.CA)
	if err != nil {
		t.Fatal(err)
	}
	var cas []*x509.Certificate
	for b, rest := pem.Decode(data); b != nil; b, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		cas = append(cas, c)
	}
	ts, err := pkcs12.Modern.EncodeTrustStore(cas, password)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(l.Cert, l.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	ks, err := pkcs12.Modern.Encode(pair.PrivateKey, leaf, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	truststore, keystore = filepath.Join(dir, "truststore.p12"), filepath.Join(dir, "keystore.p12")
	for path, der := range map[string][]byte{truststore: ts, keystore: ks} {
		if err := os.WriteFile(path, der, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return truststore, keystore
}

func writeProperties(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "client.properties")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestClientPropertiesPKCS12 connects with a Java client.properties whose
// truststore and keystore are PKCS12 files (issue 12).
func TestClientPropertiesPKCS12(t *testing.T) {
	for _, mtls := range []bool{false, true} {
		t.Run(fmt.Sprintf("mtls=%v", mtls), func(t *testing.T) {
			forTLS(t, mtls, func(t *testing.T, l *kafkatest.Listener) {
				writeConfig(t, "profiles: {}\n")
				const password = "store-Secret-1"
				ts, ks := writePKCS12Stores(t, l, password)
				text := fmt.Sprintf("bootstrap.servers=%s\nsecurity.protocol=SSL\nssl.truststore.type=PKCS12\n"+
					"ssl.truststore.location=%s\nssl.truststore.password=%s\n", l.Addr, ts, password)
				if mtls {
					text += fmt.Sprintf("ssl.keystore.type=PKCS12\nssl.keystore.location=%s\n"+
						"ssl.keystore.password=%s\nssl.key.password=%s\n", ks, password, password)
				}
				props := writeProperties(t, text)
				topic := l.Seed(t, "one", "two")
				r := mustRun(t, 0, "", "--client-properties", props, "--connect-timeout", connectTimeout, "consume", topic, "-e")
				noSecret(t, r, password)
				if diff := cmp.Diff("one\ntwo\n", r.Stdout); diff != "" {
					t.Errorf("consume stdout (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestClientPropertiesPKCS12Errors: a wrong or missing store password is a
// usage error naming the file and key; JKS stays refused with its hint.
func TestClientPropertiesPKCS12Errors(t *testing.T) {
	l := kafkatest.TLSBroker(t, true)
	ts, ks := writePKCS12Stores(t, l, "right-Secret")
	for _, tc := range []struct{ name, text, want string }{
		{"wrong truststore password", "ssl.truststore.type=PKCS12\nssl.truststore.location=" + ts + "\nssl.truststore.password=wrong-Secret\n",
			"line 3: ssl.truststore.password: wrong password for PKCS12 store " + ts},
		{"no truststore password", "ssl.truststore.type=PKCS12\nssl.truststore.location=" + ts + "\n",
			"line 2: ssl.truststore.location: PKCS12 store " + ts + " wants a password: set ssl.truststore.password"},
		{"wrong keystore password", "ssl.keystore.type=PKCS12\nssl.keystore.password=wrong-Secret\nssl.keystore.location=" + ks + "\n",
			"line 2: ssl.keystore.password: wrong password for PKCS12 store " + ks},
		{"own key password", "ssl.keystore.type=PKCS12\nssl.keystore.password=right-Secret\nssl.key.password=other-Secret\nssl.keystore.location=" + ks + "\n",
			"line 3: ssl.key.password: differs from the store password"},
		{"not PKCS12", "ssl.truststore.type=PKCS12\nssl.truststore.location=" + l.CA + "\nssl.truststore.password=x\n",
			"line 2: ssl.truststore.location: PKCS12 store " + l.CA},
		{"password of a PEM store", "ssl.truststore.type=PEM\nssl.truststore.location=" + l.CA + "\nssl.truststore.password=right-Secret\n",
			"line 3: ssl.truststore.password: only a PKCS12 store"},
		{"key password without a store", "ssl.key.password=right-Secret\n",
			"line 1: ssl.key.password: only a PKCS12 store"},
		{"jks", "ssl.keystore.type=JKS\nssl.keystore.location=/k.jks\n",
			"line 2: ssl.keystore.location: store type JKS: only PEM and PKCS12 stores are supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeConfig(t, "profiles: {}\n")
			path := writeProperties(t, tc.text)
			r := runEnv(t, "--client-properties", path, "-b", l.Addr, "consume", "t", "-e")
			if r.Code != ExitUsage || !strings.Contains(r.Stderr, path+": "+tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.Code, r.Stderr, path+": "+tc.want)
			}
			noSecret(t, r, "right-Secret", "wrong-Secret", "other-Secret")
			if tc.name == "jks" && !strings.Contains(r.Stderr, "hint: convert it: keytool -importkeystore") {
				t.Errorf("no conversion hint:\n%s", r.Stderr)
			}
		})
	}
}
