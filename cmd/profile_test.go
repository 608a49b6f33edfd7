package cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamctl/streamctl/internal/kafkatest"
)

// runEnv runs streamctl with the process environment (set with t.Setenv)
// as its Getenv, as main does, and a config home of its own.
func runEnv(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := Run(ctx, append([]string{"streamctl"}, args...), Streams{
		In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: os.Getenv,
	})
	return result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// writeConfig writes the config file where streamctl looks for it (under
// XDG_CONFIG_HOME) with mode 0600 and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	path := filepath.Join(dir, "streamctl", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// setting returns the value and source `streamctl config` prints for name.
func setting(t *testing.T, out, name string) (value, source string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 3 && fields[0] == name {
			return fields[1], strings.Join(fields[2:], " ")
		}
	}
	t.Fatalf("no line for %s in:\n%s", name, out)
	return "", ""
}

// TestPrecedenceEveryPair sets client-id from two sources at a time and
// checks that the stronger one wins: flag > -X > env > client-properties >
// profile > default.
func TestPrecedenceEveryPair(t *testing.T) {
	props := filepath.Join(t.TempDir(), "client.properties")
	if err := os.WriteFile(props, []byte("client.id=from-properties\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sources := []string{"flag", "X", "env", "properties", "profile", "default"} // strongest first
	for i, strong := range sources {
		for _, weak := range sources[i+1:] {
			t.Run(strong+" over "+weak, func(t *testing.T) {
				profile := "default: p\nprofiles:\n  p: {}\n"
				var args []string
				for _, src := range []string{strong, weak} {
					switch src {
					case "flag":
						args = append(args, "--client-id", "from-flag")
					case "X":
						args = append(args, "-X", "client.id=from-X")
					case "env":
						t.Setenv("STREAMCTL_CLIENT_ID", "from-env")
					case "properties":
						args = append(args, "--client-properties", props)
					case "profile":
						profile = "default: p\nprofiles:\n  p:\n    client-id: from-profile\n"
					}
				}
				writeConfig(t, profile)
				r := runEnv(t, append(args, "config")...)
				if r.Code != 0 {
					t.Fatalf("exit %d: %s", r.Code, r.Stderr)
				}
				value, source := setting(t, r.Stdout, "client-id")
				wantValue, wantSource := "from-"+strong, strong
				switch strong {
				case "X":
					wantSource = "-X client.id"
				case "env":
					wantSource = "env STREAMCTL_CLIENT_ID"
				case "properties":
					wantSource = "client-properties " + props + " (client.id)"
				case "profile":
					wantSource = "profile p"
				case "default":
					wantValue = "streamctl"
				}
				if value != wantValue || source != wantSource {
					t.Errorf("client-id = %s (%s), want %s (%s)", value, source, wantValue, wantSource)
				}
			})
		}
	}
}

// TestProfileDrivesCommands: a profile's keys reach command flags too
// (consume's num and exit here), and --profile picks another than the
// default.
func TestProfileDrivesCommands(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a", "b", "c")...)
	writeConfig(t, `default: nowhere
profiles:
  nowhere:
    brokers: 127.0.0.1:1
  here:
    brokers: `+addr+`
    num: 2
    exit: true
`)
	r := runEnv(t, "--profile", "here", "consume", topic)
	if r.Code != 0 || r.Stdout != "a\nb\n" {
		t.Fatalf("exit %d, stdout %q, want 0 and %q; stderr:\n%s", r.Code, r.Stdout, "a\nb\n", r.Stderr)
	}
	t.Setenv("STREAMCTL_PROFILE", "here")
	r = runEnv(t, "consume", topic, "-n", "1")
	if r.Code != 0 || r.Stdout != "a\n" {
		t.Fatalf("STREAMCTL_PROFILE: exit %d, stdout %q, want 0 and %q; stderr:\n%s", r.Code, r.Stdout, "a\n", r.Stderr)
	}
}

func TestProfileUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		args       []string
		want       []string
	}{
		{"unknown key", "default: p\nprofiles:\n  p:\n    brokrs: x\n", nil,
			[]string{`profile "p": line 4: unknown key "brokrs"`}},
		{"bad value", "profiles:\n  p:\n    connect-timeout: soon\n", []string{"--profile", "p"},
			[]string{`profile "p": line 3: connect-timeout: bad value "soon"`, "duration"}},
		{"bad number", "profiles:\n  p:\n    num: lots\n", []string{"--profile", "p"},
			[]string{`profile "p": line 3: num: bad value "lots"`}},
		{"missing profile", "profiles:\n  a: {}\n  b: {}\n", []string{"--profile", "c"},
			[]string{`no profile "c"`, "hint: the file has profiles: a, b"}},
		{"missing default", "default: gone\nprofiles:\n  a: {}\n", nil,
			[]string{`no profile "gone"`}},
		{"unknown top-level key", "defualt: a\n", nil, []string{"defualt"}},
		{"not yaml", "profiles: [\n", nil, []string{"config.yaml"}},
		{"map value", "profiles:\n  p:\n    brokers: {a: 1}\n", []string{"--profile", "p"},
			[]string{`profile "p": line 3: brokers`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.file)
			r := runEnv(t, append(tc.args, "consume", "t", "-b", "127.0.0.1:1", "-e")...)
			if r.Code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.Code, ExitUsage, r.Stderr)
			}
			for _, w := range append(tc.want, path) {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.Stderr)
				}
			}
		})
	}
	t.Run("explicit config missing", func(t *testing.T) {
		r := runEnv(t, "--config", filepath.Join(t.TempDir(), "none.yaml"), "config")
		if r.Code != ExitUsage || !strings.Contains(r.Stderr, "none.yaml") {
			t.Errorf("exit %d, stderr %q; want 2 naming none.yaml", r.Code, r.Stderr)
		}
	})
	t.Run("profile without file", func(t *testing.T) {
		t.Setenv("XDG_CONFIG_HOME", t.TempDir())
		r := runEnv(t, "--profile", "x", "config")
		if r.Code != ExitUsage || !strings.Contains(r.Stderr, "no config file") {
			t.Errorf("exit %d, stderr %q; want 2 and 'no config file'", r.Code, r.Stderr)
		}
	})
}

// TestConfigMasksSecrets: streamctl config shows where a password came
// from, never the password.
func TestConfigMasksSecrets(t *testing.T) {
	writeConfig(t, "default: p\nprofiles:\n  p:\n    sasl-password: s3cret-profile\n")
	r := runEnv(t, "config")
	if r.Code != 0 || strings.Contains(r.Stdout+r.Stderr, "s3cret") {
		t.Fatalf("exit %d; output shows the secret or failed:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if v, src := setting(t, r.Stdout, "sasl-password"); v != "********" || src != "profile p" {
		t.Errorf("sasl-password = %s (%s), want ******** (profile p)", v, src)
	}
}

// TestPasswordFileAndCommand: -file and -command supply the password,
// and the password's own stronger sources still beat them.
func TestPasswordFileAndCommand(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(secret, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, r result, wantSource string) {
		t.Helper()
		if r.Code != 0 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
		if _, src := setting(t, r.Stdout, "sasl-password"); src != wantSource {
			t.Errorf("sasl-password from %q, want %q", src, wantSource)
		}
	}
	t.Run("file in profile", func(t *testing.T) {
		writeConfig(t, "default: p\nprofiles:\n  p:\n    sasl-password-file: "+secret+"\n")
		check(t, runEnv(t, "config"), "profile p via sasl-password-file")
	})
	t.Run("command in profile", func(t *testing.T) {
		writeConfig(t, "default: p\nprofiles:\n  p:\n    sasl-password-command: echo '  from-command  '\n")
		check(t, runEnv(t, "config"), "profile p via sasl-password-command")
	})
	t.Run("env password beats profile file", func(t *testing.T) {
		writeConfig(t, "default: p\nprofiles:\n  p:\n    sasl-password-file: "+secret+"\n")
		t.Setenv("STREAMCTL_SASL_PASSWORD", "x")
		check(t, runEnv(t, "config"), "env STREAMCTL_SASL_PASSWORD")
	})
	t.Run("flag file beats env password", func(t *testing.T) {
		writeConfig(t, "profiles: {}\n")
		t.Setenv("STREAMCTL_SASL_PASSWORD", "x")
		check(t, runEnv(t, "--sasl-password-file", secret, "config"), "flag via sasl-password-file")
	})
	t.Run("both at one level", func(t *testing.T) {
		writeConfig(t, "profiles: {}\n")
		r := runEnv(t, "--sasl-password-file", secret, "--sasl-password-command", "echo x", "config")
		if r.Code != ExitUsage || !strings.Contains(r.Stderr, "give one of them") {
			t.Errorf("exit %d, stderr %q; want 2 and 'give one of them'", r.Code, r.Stderr)
		}
	})
	t.Run("failing command", func(t *testing.T) {
		writeConfig(t, "profiles: {}\n")
		r := runEnv(t, "--sasl-password-command", "exit 3", "config")
		if r.Code != ExitUsage || !strings.Contains(r.Stderr, "sasl-password-command") {
			t.Errorf("exit %d, stderr %q; want 2 naming --sasl-password-command", r.Code, r.Stderr)
		}
	})
}

// TestPasswordCommandAuthenticates: the password a command prints logs in.
func TestPasswordCommandAuthenticates(t *testing.T) {
	forSASL(t, func(t *testing.T, l *kafkatest.Listener) {
		topic := l.Seed(t, "via-command")
		writeConfig(t, "default: sasl\nprofiles:\n  sasl:\n    brokers: "+l.Addr+
			"\n    sasl-mechanism: "+kafkatest.ScramSHA512+"\n    sasl-user: "+l.User+
			"\n    sasl-password-command: printf '%s\\n' "+l.Password+"\n")
		r := runEnv(t, "--connect-timeout", connectTimeout, "consume", topic, "-e")
		noSecret(t, r, l.Password)
		if r.Code != 0 || r.Stdout != "via-command\n" {
			t.Errorf("exit %d, stdout %q; stderr:\n%s", r.Code, r.Stdout, r.Stderr)
		}
	})
}

// TestConfigReadableByOthersWarns: a password in a world-readable file
// draws a warning, a password file reference does not.
func TestConfigReadableByOthersWarns(t *testing.T) {
	path := writeConfig(t, "default: p\nprofiles:\n  p:\n    sasl-password: pw\n")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runEnv(t, "config")
	if r.Code != 0 || !strings.Contains(r.Stderr, "warning: "+path+" holds a password (sasl-password) and is readable by others") {
		t.Errorf("exit %d, stderr %q; want a warning", r.Code, r.Stderr)
	}
	secret := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(secret, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("default: p\nprofiles:\n  p:\n    sasl-password-file: "+secret+"\n    sasl-user: u\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runEnv(t, "config"); r.Code != 0 || strings.Contains(r.Stderr, "warning") {
		t.Errorf("exit %d; want 0 and no warning without a password in the file: %s", r.Code, r.Stderr)
	}
}

// TestProfileLeavesBrokerFlags: consume's "partitions: 0,1" in a profile
// does not reach the built-in broker's --partitions (a count), which
// refused it before.
func TestProfileLeavesBrokerFlags(t *testing.T) {
	writeConfig(t, "default: p\nprofiles:\n  p:\n    partitions: 0,1\n")
	r := runEnv(t, "broker", "--listen", "127.0.0.1:bad-port")
	if strings.Contains(r.Stderr, "partitions") {
		t.Errorf("the broker took the profile's partitions: exit %d, stderr %q", r.Code, r.Stderr)
	}
}
