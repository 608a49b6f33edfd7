// Package cmd wires streamctl's command line to the consume and produce
// libraries: flags and environment variables, the sarama configuration,
// colour per writer, and the mapping of errors to exit codes. It is the only
// package that knows about urfave/cli and fatih/color.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
)

// Version is set at link time with -ldflags "-X github.com/streamctl/streamctl/cmd.Version=...".
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// Streams are the standard streams a run reads and writes, injected once.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
	// Getenv looks up environment variables (os.Getenv in main, a map in tests).
	Getenv func(string) string
	// Environ lists the environment as KEY=VALUE (os.Environ in main), for
	// --where's $ENV; nil is an empty environment.
	Environ func() []string
	// ReadFile and Stat read the config and secret files (os.ReadFile and
	// os.Stat when nil); Command runs a *-command flag's shell command
	// (sh -c when nil).
	ReadFile func(string) ([]byte, error)
	Stat     func(string) (fs.FileInfo, error)
	Command  func(ctx context.Context, command string) ([]byte, error)
}

// Run runs streamctl with the given arguments (args[0] is the program name)
// and returns the process exit code. Errors are printed to s.Err, once.
func Run(ctx context.Context, args []string, s Streams) int {
	if s.Getenv == nil {
		s.Getenv = func(string) string { return "" }
	}
	if s.ReadFile == nil {
		s.ReadFile = os.ReadFile
	}
	if s.Stat == nil {
		s.Stat = os.Stat
	}
	if s.Command == nil {
		s.Command = runShell(s.Err)
	}
	if s.Getenv("GOMEMLIMIT") == "" {
		// Keep peak memory flat and small however much flows through: the
		// garbage collector works harder near the limit instead of letting
		// the heap double.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	st := &settings{}
	app := newAppWith(s, st)
	args, err := normalizeArgs(app, args)
	st.given = givenFlags(app, args)
	if err == nil {
		err = app.RunContext(ctx, args)
	}
	code := ExitCode(err)
	if err != nil && code != ExitOK {
		// An error that maps to exit 0 is a clean stop (SIGINT while
		// connecting or waiting): nothing failed, so nothing is said.
		printError(s.Err, err)
	}
	return code
}

// printError writes "streamctl: msg" and any hint lines to w.
func printError(w io.Writer, err error) {
	fmt.Fprintf(w, "streamctl: %s\n", err)
	var h hinted
	if errors.As(err, &h) {
		for _, line := range strings.Split(h.hint, "\n") {
			fmt.Fprintf(w, "hint: %s\n", line)
		}
	}
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintln(w, "hint: run 'streamctl --help' or 'streamctl COMMAND --help' for usage")
	}
}

// hinted is an error with a knowable fix.
type hinted struct {
	err  error
	hint string
}

// Error is the error alone: printError adds the hint on a line of its own.
func (h hinted) Error() string { return h.err.Error() }
func (h hinted) Unwrap() error { return h.err }

// withHint attaches a hint line to err.
func withHint(err error, format string, args ...any) error {
	return hinted{err: err, hint: fmt.Sprintf(format, args...)}
}

// envVars names the environment variable for a flag: STREAMCTL_<FLAG>.
func envVars(flag string) []string {
	return []string{"STREAMCTL_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

// defaultMemoryLimit is the Go runtime's soft memory limit unless GOMEMLIMIT
// says otherwise.
const defaultMemoryLimit = 64 << 20

func newApp(s Streams) *cli.App { return newAppWith(s, &settings{}) }

// newAppWith builds the app; st learns, before each command runs, where
// every flag's value comes from.
func newAppWith(s Streams, st *settings) *cli.App {
	global := append(append(append(globalFlags(), registryFlags()...), oauthFlags()...), profileFlags()...)
	global = append(global, secretFlags(global)...)
	app := &cli.App{
		Name:    "streamctl",
		Usage:   "produce to and consume from Apache Kafka, in shell pipes and CI scripts",
		Version: version(),
		Description: `streamctl reads and writes Kafka topics from the command line. Data goes to
stdout, everything else to stderr, and exit codes tell how a run ended:

   0  normal stop (input sent and acknowledged, a stop condition met, SIGINT/SIGTERM)
   1  runtime error (broker, topic, decoding, delivery)
   2  usage error (unknown flag or command, bad value)
   3  --timeout or --idle-timeout reached before -n or -e was satisfied,
      consume --expect unmet, offsets --wait-lag not reached by --timeout
   130  a second SIGINT (143: SIGTERM) stopped it at once, without waiting

Every flag can also be set with an environment variable STREAMCTL_<FLAG>,
for example STREAMCTL_BROKERS=kafka:9092 or STREAMCTL_SASL_PASSWORD.`,
		Reader:          s.In,
		Writer:          s.Out,
		ErrWriter:       s.Err,
		Flags:           append(global, helpFlag(), &cli.BoolFlag{Name: "version", Usage: "print the version"}),
		HideHelpCommand: true,
		// urfave/cli's own help and version flags are package variables
		// that every run writes to; runs in one process (tests) would race,
		// so each app gets flags of its own. -v stays free for --verbose.
		HideHelp:               true,
		HideVersion:            true,
		UseShortOptionHandling: false,
		Suggest:                true,
		// urfave/cli exits the process unless this is set; only main exits.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{explainFlagError(err)}
		},
		Commands: []*cli.Command{
			consumeCommand(s),
			produceCommand(s),
			brokerCommand(s),
			offsetsCommand(s),
			topicsCommand(s),
			configCommand(s, st),
		},
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				fmt.Fprintf(s.Out, "streamctl version %s\n", version())
				return nil
			}
			if c.Args().Present() {
				return usagef("unknown command %q", c.Args().First())
			}
			c.App.Writer = s.Err // help instead of a command is not data
			_ = cli.ShowAppHelp(c)
			return usagef("no command given")
		},
	}
	app.Commands = append(app.Commands, completionCommands(s, st)...)
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError
		c.HideHelp = true
		c.Flags = append(append(c.Flags, secretFlags(c.Flags)...), helpFlag())
		before := c.Before
		c.Before = func(cc *cli.Context) error {
			if cc.Bool("help") {
				// Help is shown whatever the config file holds.
				return nil
			}
			if err := st.apply(cc, s); err != nil {
				return err
			}
			if before != nil {
				return before(cc)
			}
			return nil
		}
	}
	cacheFlagNames(app)
	return app
}

// flagRef matches the Go flag package's "-name" in its error messages. It
// is compiled on first use: every run starting pays for what init does.
var flagRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`flag -([a-z][a-z0-9-]*)`) })

// explainFlagError rewrites the flag package's messages for people:
// flags spelled with two dashes, and durations that lack a unit.
func explainFlagError(err error) error {
	msg := flagRef().ReplaceAllStringFunc(err.Error(), func(m string) string {
		name := strings.TrimPrefix(m, "flag -")
		if len(name) == 1 {
			return "flag -" + name
		}
		return "flag --" + name
	})
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		dashes := "--"
		if len(name) == 1 {
			dashes = "-"
		}
		msg = "unknown flag " + dashes + name
	}
	if strings.Contains(msg, "parse error") && (strings.Contains(msg, "timeout") || strings.Contains(msg, "-duration")) {
		msg += " (a duration needs a unit: 500ms, 30s, 5m, 1h)"
	}
	return errors.New(msg)
}

func helpFlag() cli.Flag {
	return &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"}
}

// normalizeArgs lets flags go anywhere, as with every peer tool: urfave/cli
// v2 stops at the first positional argument and would take later flags for
// topic names (urfave/cli issue 1177). It moves the global flags that follow
// the command in front of it, puts the command's flags before its positional
// arguments, and ends the flags with "--" so that a topic named "-x" after a
// user's own "--" stays a topic.
func normalizeArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	globals := flagTable(app.Flags)
	out := []string{args[0]}
	i := 1
	for ; i < len(args) && isFlag(args[i]); i++ {
		if args[i] == "--" {
			return args, nil
		}
		out = append(out, canonical(args[i], flagNames(app.Flags)))
		if takesValue(globals, args[i]) {
			if i+1 >= len(args) {
				return nil, usagef("flag %s needs a value", args[i])
			}
			i++
			out = append(out, args[i])
		}
	}
	if i == len(args) {
		return out, nil
	}
	var command *cli.Command
	for _, c := range app.Commands {
		if c.HasName(args[i]) {
			command = c
		}
	}
	if command == nil {
		var names []string
		for _, c := range app.Commands {
			if !c.Hidden {
				names = append(names, c.Name)
			}
		}
		return nil, usagef("unknown command %q (want %s)", args[i], strings.Join(names, ", "))
	}
	if command.Name == completeCommand {
		return completeArgs(app, out, args[i+1:]), nil
	}
	local := flagTable(command.Flags)
	globalNames, localNames := flagNames(app.Flags), flagNames(command.Flags)
	var flags, positional []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			positional = append(positional, rest[j+1:]...)
			break
		}
		if !isFlag(a) {
			positional = append(positional, a)
			continue
		}
		if split := splitShort(a, local, globals); split != nil {
			rest = append(append(append([]string(nil), rest[:j]...), split...), rest[j+1:]...)
			a = rest[j]
		}
		name := flagName(a)
		_, isLocal := local[name]
		_, isGlobal := globals[name]
		table, dst, names := local, &flags, localNames
		if isGlobal && !isLocal {
			table, dst, names = globals, &out, globalNames
		}
		*dst = append(*dst, canonical(a, names))
		if takesValue(table, a) {
			if j+1 >= len(rest) || rest[j+1] == "--" {
				return nil, usagef("flag %s needs a value", a)
			}
			j++
			*dst = append(*dst, rest[j])
		}
	}
	out = append(out, command.Name)
	out = append(out, flags...)
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out, nil
}

func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

// flagNames maps every name and alias of flags to the flag's first name.
func flagNames(flags []cli.Flag) map[string]string {
	m := map[string]string{}
	for _, f := range flags {
		for _, n := range f.Names() {
			m[n] = f.Names()[0]
		}
	}
	return m
}

// canonical spells a flag by its first name (-H becomes --header), since
// urfave/cli refuses a flag given by two of its names in one command line.
func canonical(a string, names map[string]string) string {
	name := flagName(a)
	primary, ok := names[name]
	if !ok {
		return a
	}
	if _, value, found := strings.Cut(a, "="); found {
		return "--" + primary + "=" + value
	}
	return "--" + primary
}

// splitShort expands kcat-style short flags: "-K:" is "-K" ":", "-n5" is
// "-n" "5", and "-eJ" is "-e" "-J". It returns nil when a is not such a
// group (a long flag, a known name, or letters that are not all flags).
func splitShort(a string, tables ...map[string]bool) []string {
	if len(a) < 3 || a[1] == '-' || strings.Contains(a, "=") {
		return nil
	}
	lookup := func(name string) (takesValue, ok bool) {
		for _, t := range tables {
			if v, found := t[name]; found {
				return v, true
			}
		}
		return false, false
	}
	if _, ok := lookup(a[1:]); ok {
		return nil
	}
	var out []string
	for i := 1; i < len(a); i++ {
		v, ok := lookup(a[i : i+1])
		if !ok {
			return nil
		}
		out = append(out, "-"+a[i:i+1])
		if v {
			if i+1 < len(a) {
				out = append(out, a[i+1:])
			}
			return out
		}
	}
	return out
}

func flagName(a string) string {
	a = strings.TrimLeft(a, "-")
	if k := strings.IndexByte(a, '='); k >= 0 {
		a = a[:k]
	}
	return a
}

// takesValue says whether the flag a is followed by a separate value.
func takesValue(table map[string]bool, a string) bool {
	return !strings.Contains(a, "=") && table[flagName(a)]
}

// flagTable maps every name and alias of flags to whether it takes a value.
func flagTable(flags []cli.Flag) map[string]bool {
	t := map[string]bool{}
	for _, f := range flags {
		v := true
		if d, ok := f.(cli.DocGenerationFlag); ok {
			v = d.TakesValue()
		}
		for _, n := range f.Names() {
			t[n] = v
		}
	}
	return t
}
