package cmd

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/urfave/cli/v2"
)

func TestNormalizeArgs(t *testing.T) {
	app := newApp(Streams{})
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"s", "consume", "t", "-e", "-n", "5"}, []string{"s", "consume", "--exit", "--num", "5", "--", "t"}},
		{[]string{"s", "consume", "t", "-b", "h:1", "-e"}, []string{"s", "--brokers", "h:1", "consume", "--exit", "--", "t"}},
		{[]string{"s", "-b", "h:1", "consume", "t1", "t2"}, []string{"s", "--brokers", "h:1", "consume", "--", "t1", "t2"}},
		{[]string{"s", "consume", "-o", "-10", "t"}, []string{"s", "consume", "--offset", "-10", "--", "t"}},
		{[]string{"s", "consume", "--brokers=h:1", "t"}, []string{"s", "--brokers=h:1", "consume", "--", "t"}},
		{[]string{"s", "consume", "-e", "--", "-weird-topic"}, []string{"s", "consume", "--exit", "--", "-weird-topic"}},
		{[]string{"s", "produce", "t", "-v"}, []string{"s", "produce", "--verbose", "--", "t"}},
		{[]string{"s", "consume", "t", "--bogus"}, []string{"s", "consume", "--bogus", "--", "t"}},
		{[]string{"s", "--version"}, []string{"s", "--version"}},
		{[]string{"s", "produce", "t", "-K:"}, []string{"s", "produce", "--key-delimiter", ":", "--", "t"}},
		{[]string{"s", "consume", "t", "-n5", "-eJ"}, []string{"s", "consume", "--num", "5", "--exit", "--json", "--", "t"}},
		{[]string{"s", "produce", "-D\\0", "t"}, []string{"s", "produce", "--delimiter", "\\0", "--", "t"}},
		{[]string{"s", "consume", "-brokers", "h:1", "t"}, []string{"s", "--brokers", "h:1", "consume", "--", "t"}},
		{[]string{"s", "produce", "t", "-H", "a=1", "--header", "b=2"}, []string{"s", "produce", "--header", "a=1", "--header", "b=2", "--", "t"}},
		{[]string{"s"}, []string{"s"}},
	} {
		got, err := normalizeArgs(app, tc.in)
		if err != nil {
			t.Errorf("normalizeArgs(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("normalizeArgs(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestEveryFlagHasAnEnvironmentVariable(t *testing.T) {
	app := newApp(Streams{})
	check := func(where string, flags []cli.Flag) {
		for _, f := range flags {
			name := f.Names()[0]
			if name == "help" || name == "version" {
				continue
			}
			ev, ok := f.(interface{ GetEnvVars() []string })
			if !ok || len(ev.GetEnvVars()) == 0 {
				t.Errorf("%s flag --%s has no STREAMCTL_ environment variable", where, name)
				continue
			}
			if !strings.HasPrefix(ev.GetEnvVars()[0], "STREAMCTL_") {
				t.Errorf("%s flag --%s: env %q lacks the STREAMCTL_ prefix", where, name, ev.GetEnvVars()[0])
			}
		}
	}
	check("global", app.Flags)
	for _, c := range app.Commands {
		check(c.Name, c.Flags)
	}
}

func TestVersionAndHelp(t *testing.T) {
	r := mustRun(t, 0, "", "--version")
	if !strings.HasPrefix(r.Stdout, "streamctl version ") {
		t.Errorf("--version printed %q", r.Stdout)
	}
	for _, cmd := range []string{"consume", "produce", "broker"} {
		r := mustRun(t, 0, "", cmd, "--help")
		if !strings.Contains(r.Stdout, "Examples:") {
			t.Errorf("%s --help has no examples:\n%s", cmd, r.Stdout)
		}
	}
	r = mustRun(t, ExitUsage, "")
	if !strings.Contains(r.Stderr, "no command") {
		t.Errorf("no command: stderr %q", r.Stderr)
	}
}

func TestFlagWithoutValueIsUsageError(t *testing.T) {
	for _, args := range [][]string{
		{"produce", "t", "-k"},
		{"consume", "t", "-e", "-f"},
		{"consume", "t", "-g"},
		{"consume", "t", "-e", "-b"},
		{"consume", "-b"},
		{"consume", "t", "-o", "--"},
	} {
		r := mustRun(t, ExitUsage, "", args...)
		if !strings.Contains(r.Stderr, "needs a value") {
			t.Errorf("%v: stderr %q, want 'needs a value'", args, r.Stderr)
		}
	}
}

// TestUnknownCommandListsWhatUsersMayType: the list of commands an
// unknown one gets leaves out the hidden __complete that the completion
// scripts call (found by the README trial).
func TestUnknownCommandListsWhatUsersMayType(t *testing.T) {
	r := mustRun(t, 2, "", "nope")
	if !strings.Contains(r.Stderr, `unknown command "nope" (want consume, produce,`) || strings.Contains(r.Stderr, completeCommand) {
		t.Fatalf("stderr %q: want the commands a user may type, without %s", r.Stderr, completeCommand)
	}
}
