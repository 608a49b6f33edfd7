package cmd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
	"software.sslmate.com/src/go-pkcs12"
)

// propValue is one flag's value from a properties file or -X: the key
// that gave it and the line it was on (0 for -X).
type propValue struct {
	key, value string
	line       int
}

// properties are the flag values read from --client-properties and -X.
type properties struct {
	file, x map[string]propValue
	// stores are the PKCS12 stores they name, decoded, by location.
	stores map[string]*pkcs12Store
}

// pkcs12Store is a PKCS12 truststore's certificates or a keystore's key
// and chain, decoded in memory (nothing is written to disk); the flag the
// store maps to (--tls-ca, or --tls-cert and --tls-key) holds its location.
type pkcs12Store struct {
	roots []*x509.Certificate
	cert  *tls.Certificate
}

// pkcs12Meta is the App.Metadata key of a run's decoded PKCS12 stores.
const pkcs12Meta = "pkcs12-stores"

// pkcs12Stores are the PKCS12 stores of this run's properties, by location.
func pkcs12Stores(c *cli.Context) map[string]*pkcs12Store {
	m, _ := c.App.Metadata[pkcs12Meta].(map[string]*pkcs12Store)
	return m
}

// propertyFlags maps the Java client and librdkafka/kcat keys that are a
// flag's value as they stand.
var propertyFlags = map[string]string{
	"bootstrap.servers":        "brokers",
	"metadata.broker.list":     "brokers",
	"client.id":                "client-id",
	"sasl.mechanism":           "sasl-mechanism",
	"sasl.mechanisms":          "sasl-mechanism",
	"sasl.username":            "sasl-user",
	"sasl.password":            "sasl-password",
	"ssl.ca.location":          "tls-ca",
	"ssl.certificate.location": "tls-cert",
	"ssl.key.location":         "tls-key",
	"schema.registry.url":      "schema-registry",
	"acks":                     "acks",
}

// ignoredProperties are keys accepted without effect, each with the reason
// streamctl needs nothing for it (Confluent Cloud's client.properties
// carries them).
var ignoredProperties = map[string]string{
	"client.dns.lookup":  "streamctl dials every address a name resolves to",
	"session.timeout.ms": "consumer group tuning that streamctl leaves to its defaults",
}

// supportedProperties lists every key, for the hint of an unsupported one.
func supportedProperties() string {
	keys := []string{"security.protocol", "sasl.jaas.config", "ssl.truststore.location", "ssl.truststore.type",
		"ssl.truststore.password", "ssl.keystore.location", "ssl.keystore.type", "ssl.keystore.password",
		"ssl.key.password", "ssl.endpoint.identification.algorithm",
		"enable.ssl.certificate.verification", "basic.auth.user.info", "basic.auth.credentials.source"}
	for k := range propertyFlags {
		keys = append(keys, k)
	}
	for k := range ignoredProperties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// readProperties reads the properties file at path (none when "") and the
// -X settings x into flag values.
func readProperties(app *cli.App, path string, x []string, s Streams) (properties, error) {
	p := properties{file: map[string]propValue{}, x: map[string]propValue{}, stores: map[string]*pkcs12Store{}}
	valid := allFlagNames(app)
	if path != "" {
		data, err := s.ReadFile(path)
		if err != nil {
			return p, usagef("--client-properties: %v", err)
		}
		entries, err := parseProperties(string(data))
		if err != nil {
			return p, usagef("%s: %w", path, err)
		}
		storeSecrets, err := mapProperties(entries, p.file, valid, p.stores, s.ReadFile)
		if err != nil {
			return p, usagef("%s: %w", path, err)
		}
		secrets := storeSecrets
		for flag, v := range p.file {
			if isSecret(flag) {
				secrets = append(secrets, v.key)
			}
		}
		sort.Strings(secrets)
		if len(secrets) > 0 {
			if fi, err := s.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
				fmt.Fprintf(s.Err, "streamctl: warning: %s holds a password (%s) and is readable by others (mode %04o)\n", path, strings.Join(secrets, ", "), fi.Mode().Perm())
				fmt.Fprintf(s.Err, "hint: chmod 600 %s\n", path)
			}
		}
	}
	var entries []propEntry
	for _, kv := range x {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return p, usagef("-X %q: want KEY=VALUE", kv)
		}
		entries = append(entries, propEntry{key: strings.TrimSpace(k), value: v})
	}
	if _, err := mapProperties(entries, p.x, valid, p.stores, s.ReadFile); err != nil {
		return p, usagef("-X: %w", err)
	}
	if app.Metadata == nil {
		app.Metadata = map[string]any{}
	}
	app.Metadata[pkcs12Meta] = p.stores
	return p, nil
}

// propEntry is one key and value of a properties file.
type propEntry struct {
	key, value string
	line       int
}

// where names an entry's place for an error message.
func (e propEntry) where() string {
	if e.line == 0 {
		return e.key
	}
	return fmt.Sprintf("line %d: %s", e.line, e.key)
}

// mapProperties turns entries into flag values in out, and PKCS12 stores
// (read with readFile) into stores; a key it does not know, or one whose
// flag this build lacks, is an error. It returns the store password keys
// given, for the warning on a file readable by others.
func mapProperties(entries []propEntry, out map[string]propValue, valid map[string]bool,
	stores map[string]*pkcs12Store, readFile func(string) ([]byte, error)) (secrets []string, err error) {
	set := func(e propEntry, flag, value string) error {
		if !valid[flag] {
			return withHint(fmt.Errorf("%s: unsupported key (this streamctl has no --%s)", e.where(), flag),
				"supported keys: %s", supportedProperties())
		}
		out[flag] = propValue{key: e.key, value: value, line: e.line}
		return nil
	}
	var truststore, keystore *propEntry
	storeType := map[string]string{}
	passwords := map[string]*propEntry{}
	opened := map[string]bool{} // the password keys of the PKCS12 stores opened
	for i := range entries {
		e := entries[i]
		v := strings.TrimSpace(e.value)
		if flag, ok := propertyFlags[e.key]; ok {
			if err := set(e, flag, v); err != nil {
				return nil, err
			}
			continue
		}
		if _, ok := ignoredProperties[e.key]; ok {
			continue
		}
		switch e.key {
		case "security.protocol":
			switch strings.ToUpper(v) {
			case "PLAINTEXT", "SASL_PLAINTEXT":
			case "SSL", "SASL_SSL":
				if err := set(e, "tls", "true"); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("%s: %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", e.where(), v)
			}
		case "sasl.jaas.config":
			user, pass, err := parseJAAS(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", e.where(), err)
			}
			if err := set(e, "sasl-user", user); err != nil {
				return nil, err
			}
			if err := set(e, "sasl-password", pass); err != nil {
				return nil, err
			}
		case "basic.auth.user.info":
			user, pass, _ := strings.Cut(v, ":")
			if err := set(e, "schema-registry-user", user); err != nil {
				return nil, err
			}
			if err := set(e, "schema-registry-password", pass); err != nil {
				return nil, err
			}
		case "basic.auth.credentials.source":
			if !strings.EqualFold(v, "USER_INFO") {
				return nil, fmt.Errorf("%s: %q: only USER_INFO (with basic.auth.user.info) is supported", e.where(), v)
			}
		case "ssl.endpoint.identification.algorithm":
			if !strings.EqualFold(v, "https") {
				return nil, fmt.Errorf("%s: %q: streamctl always verifies the broker's host name (want https)", e.where(), v)
			}
		case "enable.ssl.certificate.verification":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: want true or false", e.where(), v)
			}
			if !b {
				if err := set(e, "tls-insecure-skip-verify", "true"); err != nil {
					return nil, err
				}
			}
		case "ssl.truststore.location":
			truststore = &entries[i]
		case "ssl.keystore.location":
			keystore = &entries[i]
		case "ssl.truststore.type", "ssl.keystore.type":
			storeType[e.key] = strings.ToUpper(v)
		case "ssl.truststore.password", "ssl.keystore.password", "ssl.key.password":
			passwords[e.key] = &entries[i]
			secrets = append(secrets, e.key)
		default:
			return nil, withHint(fmt.Errorf("%s: unsupported key", e.where()), "supported keys: %s", supportedProperties())
		}
	}
	for _, st := range []struct {
		entry    *propEntry
		typ      string
		password string
		flags    []string
	}{
		{truststore, storeType["ssl.truststore.type"], "ssl.truststore.password", []string{"tls-ca"}},
		{keystore, storeType["ssl.keystore.type"], "ssl.keystore.password", []string{"tls-cert", "tls-key"}},
	} {
		if st.entry == nil {
			continue
		}
		switch st.typ {
		case "PEM":
		case "PKCS12":
			opened[st.password] = true
			if st.password == "ssl.keystore.password" {
				opened["ssl.key.password"] = true
			}
			store, err := decodePKCS12(*st.entry, passwords[st.password], passwords["ssl.key.password"], readFile)
			if err != nil {
				return nil, err
			}
			loc := strings.TrimSpace(st.entry.value)
			if old := stores[loc]; old != nil {
				// One file named by both truststore and keystore.
				if store.roots == nil {
					store.roots = old.roots
				}
				if store.cert == nil {
					store.cert = old.cert
				}
			}
			stores[loc] = store
		default:
			typ := st.typ
			if typ == "" {
				typ = "JKS (the Java default)"
			}
			return nil, withHint(fmt.Errorf("%s: store type %s: only PEM and PKCS12 stores are supported", st.entry.where(), typ),
				"convert it: keytool -importkeystore -srckeystore STORE -destkeystore store.p12 -deststoretype PKCS12, then set %s=PKCS12",
				strings.Replace(st.password, "password", "type", 1))
		}
		for _, f := range st.flags {
			if err := set(*st.entry, f, strings.TrimSpace(st.entry.value)); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range []string{"ssl.truststore.password", "ssl.keystore.password", "ssl.key.password"} {
		if e := passwords[k]; e != nil && !opened[k] {
			// A PEM store's or an encrypted PEM key's password, or one
			// without its store: refused rather than ignored.
			return nil, fmt.Errorf("%s: only a PKCS12 store (with its location and type=PKCS12) takes a password here", e.where())
		}
	}
	return secrets, nil
}

// decodePKCS12 reads the PKCS12 store at loc's location with the password
// of pass (none when nil): a truststore's certificates when loc is
// ssl.truststore.location, a keystore's key and chain otherwise.
func decodePKCS12(loc propEntry, pass, keyPass *propEntry, readFile func(string) ([]byte, error)) (*pkcs12Store, error) {
	path := strings.TrimSpace(loc.value)
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", loc.where(), err)
	}
	password, blame := "", loc
	if pass != nil {
		password, blame = pass.value, *pass
	}
	bad := func(err error) error {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			if pass == nil {
				return fmt.Errorf("%s: PKCS12 store %s wants a password: set %s", loc.where(), path,
					strings.Replace(loc.key, "location", "password", 1))
			}
			return fmt.Errorf("%s: wrong password for PKCS12 store %s", blame.where(), path)
		}
		return fmt.Errorf("%s: PKCS12 store %s: %v", loc.where(), path, err)
	}
	if loc.key == "ssl.truststore.location" {
		roots, err := pkcs12.DecodeTrustStore(data, password)
		if err != nil {
			return nil, bad(err)
		}
		if len(roots) == 0 {
			return nil, fmt.Errorf("%s: PKCS12 store %s holds no certificate", loc.where(), path)
		}
		return &pkcs12Store{roots: roots}, nil
	}
	if keyPass != nil && keyPass.value != password {
		return nil, fmt.Errorf("%s: differs from the store password: PKCS12 keystores with their own key password are not supported", keyPass.where())
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, bad(err)
	}
	cert := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return &pkcs12Store{cert: cert}, nil
}

// jaasOption matches one option of a JAAS login module: name="value" or
// name='value' or name=value. Compiled on first use, not at every start.
var jaasOption = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s;"']+))`)
})

// parseJAAS reads the user name and password of a PLAIN or SCRAM login
// module from a sasl.jaas.config value.
func parseJAAS(v string) (user, pass string, err error) {
	module, opts, _ := strings.Cut(strings.TrimSpace(v), " ")
	switch {
	case strings.HasSuffix(module, "PlainLoginModule"), strings.HasSuffix(module, "ScramLoginModule"):
	default:
		return "", "", fmt.Errorf("login module %q: only PlainLoginModule and ScramLoginModule are supported", module)
	}
	found := map[string]bool{}
	for _, m := range jaasOption().FindAllStringSubmatch(opts, -1) {
		value := m[3] + m[4]
		if m[2] != "" {
			value = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(m[2])
		}
		switch m[1] {
		case "username":
			user = value
		case "password":
			pass = value
		}
		found[m[1]] = true
	}
	if !found["username"] || !found["password"] {
		return "", "", fmt.Errorf("want username=\"...\" and password=\"...\" in the login module")
	}
	return user, pass, nil
}

// parseProperties reads the Java .properties format: # and ! comments,
// key=value, key:value or key value, backslash line continuations and
// escapes.
func parseProperties(text string) ([]propEntry, error) {
	var out []propEntry
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for endsInBackslash(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		k := 0
		for k < len(line) && !strings.ContainsRune("=: \t\f", rune(line[k])) {
			if line[k] == '\\' {
				k++
			}
			k++
		}
		key := line[:min(k, len(line))]
		rest := strings.TrimLeft(line[min(k, len(line)):], " \t\f")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = strings.TrimLeft(rest[1:], " \t\f")
		}
		key, err := unescapeProperty(key)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", start, err)
		}
		value, err := unescapeProperty(rest)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %v", start, key, err)
		}
		out = append(out, propEntry{key: key, value: value, line: start})
	}
	return out, nil
}

func endsInBackslash(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("bad \\u escape")
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", fmt.Errorf("bad \\u escape %q", s[i-1:i+5])
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}
