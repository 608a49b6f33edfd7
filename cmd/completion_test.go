package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/urfave/cli/v2"
)

func words(s string) []string { return strings.Fields(s) }

func contains(list []string, w string) bool {
	for _, l := range list {
		if l == w {
			return true
		}
	}
	return false
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "complete -o default -F _streamctl streamctl",
		"zsh":  "#compdef streamctl",
		"fish": "complete -c streamctl",
	} {
		r := mustRun(t, 0, "", "completion", shell)
		if !strings.Contains(r.Stdout, want) || !strings.Contains(r.Stdout, "streamctl __complete") {
			t.Errorf("%s script lacks %q or the __complete call:\n%s", shell, want, r.Stdout)
		}
		if path, err := exec.LookPath(shell); err == nil {
			check := exec.Command(path, "-n")
			if shell == "fish" {
				check = exec.Command(path, "--no-execute")
			}
			check.Stdin = strings.NewReader(r.Stdout)
			if out, err := check.CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", shell, err, out)
			}
		}
	}
	if r := run(t, "", "completion", "powershell"); r.Code != ExitUsage {
		t.Errorf("completion powershell: exit %d, want 2", r.Code)
	}
}

func TestCompleteStatic(t *testing.T) {
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"co"}, []string{"completion", "config", "consume"}},
		{[]string{"consume", "--val"}, []string{"--value-serializer"}},
		{[]string{"consume", "-s", "pi"}, []string{"pickle", "pickle_fickling", "pickle_restricted"}},
		{[]string{"consume", "--isolation", ""}, []string{"read_committed", "read_uncommitted"}},
		{[]string{"produce", "--acks", ""}, []string{"all", "leader", "none"}},
		{[]string{"produce", "--partitioner", "r"}, []string{"random", "roundrobin"}},
		{[]string{"--color", ""}, []string{"always", "auto", "never"}},
		{[]string{"consume", "-o", "e"}, []string{"end"}},
		{[]string{"--sasl-pass"}, []string{"--sasl-password", "--sasl-password-command", "--sasl-password-file"}},
	} {
		r := mustRun(t, 0, "", append([]string{completeCommand}, tc.words...)...)
		if got := words(r.Stdout); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("complete %q = %q, want %q", tc.words, got, tc.want)
		}
	}
}

// TestCompleteLive: topic names and, after -g, group names come from the
// cluster the words name; an unreachable one gives nothing, quietly.
func TestCompleteLive(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("x")...)
	group := "complete-" + topic
	mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e")

	r := mustRun(t, 0, "", completeCommand, "-b", addr, "consume", "")
	if !contains(words(r.Stdout), topic) {
		t.Errorf("topics %q lack %s", r.Stdout, topic)
	}
	r = mustRun(t, 0, "", completeCommand, "consume", "-b", addr, "-g", "complete-")
	if got := words(r.Stdout); !contains(got, group) {
		t.Errorf("groups %q lack %s", got, group)
	}
	r = mustRun(t, 0, "", completeCommand, "-b", "127.0.0.1:1", "produce", "")
	if r.Stdout != "" || r.Stderr != "" {
		t.Errorf("unreachable cluster: stdout %q, stderr %q; want nothing", r.Stdout, r.Stderr)
	}
}

// TestEveryFlagInREADME: help, completion and README reference come from
// one set of definitions; every flag --help shows is documented.
func TestEveryFlagInREADME(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	app := newApp(Streams{})
	check := func(where string, flags []cli.Flag) {
		for _, f := range flags {
			for _, n := range f.Names() {
				spelled := "--" + n
				if len(n) == 1 {
					spelled = "-" + n
				}
				if !strings.Contains(readme, "`"+spelled) && !strings.Contains(readme, " "+spelled+" ") && !strings.Contains(readme, ", "+spelled) {
					t.Errorf("%s flag %s is not in README.md", where, spelled)
				}
			}
		}
	}
	check("global", app.Flags)
	for _, c := range app.Commands {
		if !c.Hidden {
			check(c.Name, c.Flags)
		}
	}
}

// TestManPage: make man's page lists every command and flag --help shows.
func TestManPage(t *testing.T) {
	r := mustRun(t, 0, "", "__man")
	if !strings.HasPrefix(r.Stdout, ".nh\n.TH streamctl 1") {
		t.Fatalf("not a section 1 man page:\n%.200s", r.Stdout)
	}
	app := newApp(Streams{})
	flags := append([]cli.Flag(nil), app.Flags...)
	for _, c := range app.Commands {
		if c.Hidden {
			if strings.Contains(r.Stdout, ".SH "+c.Name) {
				t.Errorf("hidden command %s is in the man page", c.Name)
			}
			continue
		}
		if !strings.Contains(r.Stdout, ".SH "+c.Name+"\n") {
			t.Errorf("command %s is not in the man page", c.Name)
		}
		flags = append(flags, c.Flags...)
	}
	for _, f := range flags {
		if n := f.Names()[0]; !strings.Contains(r.Stdout, "-"+n) {
			t.Errorf("flag %s is not in the man page", n)
		}
	}
}
