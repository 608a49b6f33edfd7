package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"
)

// Where a flag's value came from, strongest first. One table decides
// precedence for every flag, including the ones other commands add:
// command line > -X > environment > --client-properties > profile > default.
const (
	rankDefault = iota
	rankProfile
	rankProperties
	rankEnv
	rankX
	rankFlag
)

// origin is where one flag's effective value came from.
type origin struct {
	rank int
	// what says it for people: "flag", "env STREAMCTL_BROKERS",
	// "profile staging", ...
	what string
}

// settings is what one run learnt about its flags before its command ran:
// which were on the command line, and where each value came from.
type settings struct {
	// given holds the first names of the flags on the command line.
	given map[string]bool
	// origins maps a flag's first name to where its value came from.
	origins map[string]origin
	// configFile and profile are the file read and the profile chosen
	// ("" when none).
	configFile, profile, profileWhy string
}

// unprofiled are the commands whose own flags profiles leave alone: the
// built-in broker is no cluster setting, and its --partitions (a count)
// would take consume's (a list) from a profile.
var unprofiled = map[string]bool{"broker": true}

// metaFlags choose where the other flags' values come from; they are never
// read from a profile themselves.
var metaFlags = map[string]bool{"config": true, "profile": true, "X": true, "help": true, "version": true}

// profileFlags are the global flags that choose a configuration.
func profileFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", EnvVars: envVars("config"),
			Usage: "read profiles from `FILE` instead of $XDG_CONFIG_HOME/streamctl/config.yaml (~/.config/streamctl/config.yaml)"},
		&cli.StringFlag{Name: "profile", EnvVars: envVars("profile"),
			Usage: "use the profile `NAME` of the config file instead of its default"},
		&cli.StringFlag{Name: "client-properties", EnvVars: envVars("client-properties"),
			Usage: "read connection settings from a Java client.properties or librdkafka/kcat `FILE`"},
		&cli.GenericFlag{Name: "X", Value: &stringList{}, EnvVars: envVars("x"),
			Usage: "set a client.properties or librdkafka `KEY=VALUE` (repeatable; see --client-properties)"},
	}
}

// secretFlags gives every secret flag X (a password, secret or token, see
// isSecret) an "X-file" and an "X-command", so that none need be stored
// in plain text.
func secretFlags(flags []cli.Flag) []cli.Flag {
	var out []cli.Flag
	for _, f := range flags {
		name := firstFlagName(f)
		if !isSecret(name) {
			continue
		}
		out = append(out,
			&cli.StringFlag{Name: name + "-file", EnvVars: envVars(name + "-file"),
				Usage: "read --" + name + " from `FILE` (trailing newline trimmed)"},
			&cli.StringFlag{Name: name + "-command", EnvVars: envVars(name + "-command"),
				Usage: "run `COMMAND` once with sh -c and use its output, trimmed, as --" + name})
	}
	return out
}

// givenFlags lists the flags on a command line normalizeArgs has already
// spelled out (every flag by its first name).
func givenFlags(app *cli.App, args []string) map[string]bool {
	given := map[string]bool{}
	table, names := flagTable(app.Flags), flagNames(app.Flags)
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !isFlag(a) {
			for _, c := range app.Commands {
				if c.HasName(a) {
					table, names = flagTable(c.Flags), flagNames(c.Flags)
				}
			}
			continue
		}
		if n, ok := names[flagName(a)]; ok {
			given[n] = true
		}
		if takesValue(table, a) {
			i++
		}
	}
	return given
}

// configFile is the file the profiles are read from.
type configFile struct {
	Default  string                          `yaml:"default"`
	Profiles map[string]map[string]yaml.Node `yaml:"profiles"`
}

// defaultConfigPath is $XDG_CONFIG_HOME/streamctl/config.yaml, or
// ~/.config/streamctl/config.yaml.
func defaultConfigPath(getenv func(string) string) string {
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "streamctl", "config.yaml")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "streamctl", "config.yaml")
	}
	return ""
}

// allFlagNames are the first names of every flag of the app and its
// commands: the keys a profile may hold.
func allFlagNames(app *cli.App) map[string]bool {
	names := map[string]bool{}
	for _, f := range app.Flags {
		names[f.Names()[0]] = true
	}
	for _, c := range app.Commands {
		for _, f := range c.Flags {
			names[f.Names()[0]] = true
		}
	}
	for n := range metaFlags {
		delete(names, n)
	}
	return names
}

// apply fills every flag of the command c runs that the command line did
// not give from, in this order, -X, the environment, --client-properties
// and the profile, then resolves the secrets given as files or commands.
func (st *settings) apply(c *cli.Context, s Streams) error {
	st.origins = map[string]origin{}
	flags := append([]cli.Flag(nil), c.App.Flags...)
	local := map[string]bool{}
	for _, f := range commandFlags(c) {
		flags = append(flags, f)
		local[f.Names()[0]] = true
	}
	envOf := func(f cli.Flag) string {
		if ev, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, e := range ev.GetEnvVars() {
				if s.Getenv(e) != "" {
					return e
				}
			}
		}
		return ""
	}

	profile, err := st.loadProfile(c, s)
	if err != nil {
		return err
	}
	// --client-properties may itself come from the profile.
	propsPath := c.String("client-properties")
	if !st.given["client-properties"] && envOf(findFlag(flags, "client-properties")) == "" {
		if n, ok := profile["client-properties"]; ok {
			propsPath = n.Value
		}
	}
	props, err := readProperties(c.App, propsPath, listFlag(c, "X"), s)
	if err != nil {
		return err
	}

	for _, f := range flags {
		name := f.Names()[0]
		if metaFlags[name] {
			continue
		}
		switch {
		case st.given[name]:
			st.origins[name] = origin{rankFlag, "flag"}
		case props.x[name].key != "":
			if err := c.Set(name, props.x[name].value); err != nil {
				return usagef("-X %s: bad value %q%s", props.x[name].key, props.x[name].value, wantOf(f))
			}
			st.origins[name] = origin{rankX, "-X " + props.x[name].key}
		case envOf(f) != "":
			st.origins[name] = origin{rankEnv, "env " + envOf(f)}
		case props.file[name].key != "":
			p := props.file[name]
			if err := c.Set(name, p.value); err != nil {
				return usagef("%s: line %d: %s: bad value %q%s", propsPath, p.line, p.key, p.value, wantOf(f))
			}
			st.origins[name] = origin{rankProperties, fmt.Sprintf("client-properties %s (%s)", propsPath, p.key)}
		case profile[name].Kind != 0 && !(local[name] && unprofiled[c.Command.Name]):
			n := profile[name]
			values := []string{n.Value}
			if n.Kind == yaml.SequenceNode {
				values = values[:0]
				for _, e := range n.Content {
					values = append(values, e.Value)
				}
			}
			for _, v := range values {
				if err := c.Set(name, v); err != nil {
					return usagef("%s: profile %q: line %d: %s: bad value %q%s", st.configFile, st.profile, n.Line, name, v, wantOf(f))
				}
			}
			st.origins[name] = origin{rankProfile, "profile " + st.profile}
		default:
			st.origins[name] = origin{rankDefault, "default"}
		}
	}
	return st.resolveSecrets(c, flags, s)
}

// wantOf says what kind of value a flag takes, for a bad value's message.
func wantOf(f cli.Flag) string {
	switch unwrapFlag(f).(type) {
	case *cli.DurationFlag:
		return " (want a duration with a unit: 500ms, 30s, 5m, 1h)"
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		return " (want a whole number)"
	case *cli.Float64Flag:
		return " (want a number)"
	case *cli.BoolFlag:
		return " (want true or false)"
	}
	return ""
}

func commandFlags(c *cli.Context) []cli.Flag {
	if c.Command == nil {
		return nil
	}
	return c.Command.Flags
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if f.Names()[0] == name {
			return f
		}
	}
	return &cli.StringFlag{}
}

// loadProfile reads the config file and returns the chosen profile's
// settings (nil when there is no file or no profile).
func (st *settings) loadProfile(c *cli.Context, s Streams) (map[string]yaml.Node, error) {
	path, explicit := c.String("config"), true
	if path == "" {
		path, explicit = defaultConfigPath(s.Getenv), false
	}
	name := c.String("profile")
	if path == "" {
		if name != "" {
			return nil, usagef("--profile %s: no config file (neither HOME nor XDG_CONFIG_HOME is set)", name)
		}
		return nil, nil
	}
	data, err := s.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		if name != "" {
			return nil, usagef("--profile %s: no config file %s", name, path)
		}
		return nil, nil
	}
	if err != nil {
		return nil, usagef("--config: %v", err)
	}
	st.configFile = path
	var cf configFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cf); err != nil && !errors.Is(err, io.EOF) {
		return nil, usagef("%s: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	st.profileWhy = "--profile"
	if name == "" {
		name, st.profileWhy = cf.Default, "default in "+path
	}
	if name == "" {
		return nil, nil
	}
	profile, ok := cf.Profiles[name]
	if !ok {
		known := make([]string, 0, len(cf.Profiles))
		for n := range cf.Profiles {
			known = append(known, n)
		}
		sort.Strings(known)
		return nil, withHint(usagef("%s: no profile %q", path, name), "the file has profiles: %s", strings.Join(known, ", "))
	}
	st.profile = name
	valid := allFlagNames(c.App)
	var keys []string
	for k := range profile {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var secrets []string
	for _, k := range keys {
		if !valid[k] {
			n := profile[k]
			return nil, withHint(usagef("%s: profile %q: line %d: unknown key %q", path, name, n.Line, k),
				"keys are the long flag names, as in 'streamctl --help' and 'streamctl COMMAND --help'")
		}
		n := profile[k]
		if !isValueNode(n) {
			return nil, usagef("%s: profile %q: line %d: %s: want a value or a list of values", path, name, n.Line, k)
		}
		if isSecret(k) {
			secrets = append(secrets, k)
		}
	}
	if len(secrets) > 0 && s.Stat != nil {
		if fi, err := s.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			fmt.Fprintf(s.Err, "streamctl: warning: %s holds a password (%s) and is readable by others (mode %04o)\n", path, strings.Join(secrets, ", "), fi.Mode().Perm())
			fmt.Fprintf(s.Err, "hint: chmod 600 %s, or use %s-file or %s-command instead\n", path, secrets[0], secrets[0])
		}
	}
	return profile, nil
}

// isValueNode says whether n is a scalar or a list of scalars.
func isValueNode(n yaml.Node) bool {
	if n.Kind == yaml.SequenceNode {
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return false
			}
		}
		return true
	}
	return n.Kind == yaml.ScalarNode
}

// resolveSecrets sets every X-password from X-password-file or
// X-password-command when they come from a stronger source than any
// X-password itself.
func (st *settings) resolveSecrets(c *cli.Context, flags []cli.Flag, s Streams) error {
	for _, f := range flags {
		name := f.Names()[0]
		if !isSecret(name) {
			continue
		}
		file, command := name+"-file", name+"-command"
		of, oc, op := st.origins[file], st.origins[command], st.origins[name]
		if of.rank == rankDefault && oc.rank == rankDefault {
			continue
		}
		if of.rank == oc.rank {
			return usagef("--%s (%s) and --%s (%s): give one of them", file, of.what, command, oc.what)
		}
		if op.rank >= of.rank && op.rank >= oc.rank {
			continue // the password itself is stronger
		}
		var secret string
		if of.rank > oc.rank {
			data, err := s.ReadFile(c.String(file))
			if err != nil {
				return usagef("--%s (%s): %v", file, of.what, err)
			}
			secret = strings.TrimRight(string(data), "\r\n")
			st.origins[name] = origin{of.rank, of.what + " via " + file}
		} else {
			out, err := s.Command(c.Context, c.String(command))
			if err != nil {
				return usagef("--%s (%s): %v", command, oc.what, err)
			}
			secret = strings.TrimSpace(string(out))
			st.origins[name] = origin{oc.rank, oc.what + " via " + command}
		}
		if secret == "" {
			return usagef("--%s gave an empty value", map[bool]string{true: file, false: command}[of.rank > oc.rank])
		}
		if err := c.Set(name, secret); err != nil {
			return err
		}
	}
	return nil
}

// runShell runs command with sh -c and returns its standard output; what
// it writes to standard error goes to stderr.
func runShell(stderr io.Writer) func(ctx context.Context, command string) ([]byte, error) {
	return func(ctx context.Context, command string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "sh", "-c", command)
		cmd.Stderr = stderr
		return cmd.Output()
	}
}
