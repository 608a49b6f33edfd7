package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/codec"
	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"
)

// completeCommand is the hidden command the shell scripts call with the
// words typed so far, the last one being the word to complete.
const completeCommand = "__complete"

// liveBound bounds the cluster requests of a completion: a shell must not
// hang on a broker that does not answer.
const liveBound = time.Second

// staticValues are the fixed values of flags, by flag name.
func staticValues(name string) []string {
	switch name {
	case "value-serializer", "key-serializer":
		return codec.Names()
	case "partitioner":
		return []string{"murmur2", "fnv1a", "random", "roundrobin"}
	case "acks":
		return []string{"all", "leader", "none"}
	case "isolation":
		return []string{"read_committed", "read_uncommitted"}
	case "color":
		return []string{"auto", "always", "never"}
	case "offset":
		return []string{"start", "end", "@-1h", "-10", "+10"}
	case "compression":
		return []string{"none", "gzip", "snappy", "lz4", "zstd"}
	case "faust-meta":
		return []string{"show", "hide", "auto"}
	case "sasl-mechanism":
		return []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}
	}
	return nil
}

func completionCommands(s Streams, st *settings) []*cli.Command {
	return append(manCommand(s), []*cli.Command{
		{
			Name:      "completion",
			Usage:     "print a shell completion script: bash, zsh or fish",
			ArgsUsage: "bash|zsh|fish",
			Description: `Prints a script that completes streamctl's commands, flags and their
values; topic names and, after -g, group names come from the cluster of the
current profile (1 s at most, nothing printed when it does not answer).

Install:
   bash:  streamctl completion bash > ~/.local/share/bash-completion/completions/streamctl
   zsh:   streamctl completion zsh > "${fpath[1]}/_streamctl"
   fish:  streamctl completion fish > ~/.config/fish/completions/streamctl.fish`,
			Action: func(c *cli.Context) error {
				script, ok := completionScripts[c.Args().First()]
				if !ok || c.NArg() != 1 {
					return usagef("completion wants one shell: bash, zsh or fish")
				}
				_, err := fmt.Fprint(s.Out, script)
				return err
			},
		},
		{
			Name:   completeCommand,
			Hidden: true,
			Action: func(c *cli.Context) error {
				for _, w := range complete(c, s, st, c.Args().Slice()) {
					fmt.Fprintln(s.Out, w)
				}
				return nil
			},
		},
	}...)
}

// completeArgs passes the words to complete after "--", and in front of
// the command the global flags among them (-b, --profile, ...), so that
// live completions ask the cluster those flags name.
func completeArgs(app *cli.App, out, words []string) []string {
	// The word before the one completed may be a flag still waiting for
	// its value: leave it out then.
	for k := len(words) - 1; k > 0 && k >= len(words)-2; k-- {
		typed := append([]string{out[0]}, words[:k]...)
		if n, err := normalizeArgs(app, typed); err == nil {
			globals := flagTable(app.Flags)
			for i := 1; i < len(n) && isFlag(n[i]) && n[i] != "--"; i++ {
				out = append(out, n[i])
				if takesValue(globals, n[i]) && i+1 < len(n) {
					i++
					out = append(out, n[i])
				}
			}
			break
		}
	}
	return append(append(out, completeCommand, "--"), words...)
}

// complete returns the candidates for the last of words.
func complete(c *cli.Context, s Streams, st *settings, words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur, before := words[len(words)-1], words[:len(words)-1]
	app := c.App
	globals := flagTable(app.Flags)
	var command *cli.Command
	for i := 0; i < len(before); i++ {
		w := before[i]
		if isFlag(w) {
			if takesValue(globals, w) || (command != nil && takesValue(flagTable(command.Flags), w)) {
				i++
			}
			continue
		}
		if command == nil {
			for _, cmd := range app.Commands {
				if cmd.HasName(w) && !cmd.Hidden {
					command = cmd
				}
			}
		}
	}
	flags := append([]cli.Flag(nil), app.Flags...)
	if command != nil {
		flags = append(flags, command.Flags...)
	}
	table, names := flagTable(flags), flagNames(flags)
	var out []string
	switch {
	case len(before) > 0 && isFlag(before[len(before)-1]) && takesValue(table, before[len(before)-1]):
		name := names[flagName(before[len(before)-1])]
		switch name {
		case "group":
			out = live(c, s, st, func(cl sarama.Client) ([]string, error) {
				admin, err := sarama.NewClusterAdminFromClient(cl)
				if err != nil {
					return nil, err
				}
				groups, err := admin.ListConsumerGroups()
				var out []string
				for g := range groups {
					out = append(out, g)
				}
				return out, err
			})
		case "profile":
			out = profileNames(c, s)
		default:
			out = staticValues(name)
		}
	case strings.HasPrefix(cur, "-"):
		for _, f := range flags {
			for _, n := range f.Names() {
				if len(n) == 1 {
					out = append(out, "-"+n)
				} else {
					out = append(out, "--"+n)
				}
			}
		}
	case command == nil:
		for _, cmd := range app.Commands {
			if !cmd.Hidden {
				out = append(out, cmd.Name)
			}
		}
	case strings.Contains(command.ArgsUsage, "TOPIC"):
		out = live(c, s, st, func(cl sarama.Client) ([]string, error) { return cl.Topics() })
	}
	var matching []string
	for _, w := range out {
		if strings.HasPrefix(w, cur) {
			matching = append(matching, w)
		}
	}
	sort.Strings(matching)
	return matching
}

// live asks the cluster of the current settings, within liveBound; any
// failure gives no candidates and prints nothing. The metadata request
// asks for existing topics only: a completion creates nothing.
func live(c *cli.Context, s Streams, st *settings, ask func(sarama.Client) ([]string, error)) []string {
	if err := c.Set("connect-timeout", liveBound.String()); err != nil {
		return nil
	}
	conf, err := kafkaConfig(c, func(string) {})
	if err != nil {
		return nil
	}
	conf.Net.ReadTimeout, conf.Net.WriteTimeout = liveBound, liveBound
	conf.Metadata.Retry.Max = 0
	conf.Admin.Timeout = liveBound
	ctx, cancel := context.WithTimeout(c.Context, liveBound)
	defer cancel()
	cl, err := connect(ctx, c, conf)
	if err != nil {
		return nil
	}
	defer cl.Close()
	out, err := ask(cl)
	if err != nil {
		return nil
	}
	return out
}

// profileNames lists the config file's profiles.
func profileNames(c *cli.Context, s Streams) []string {
	path := c.String("config")
	if path == "" {
		path = defaultConfigPath(s.Getenv)
	}
	data, err := s.ReadFile(path)
	if err != nil {
		return nil
	}
	var cf struct {
		Profiles map[string]yaml.Node `yaml:"profiles"`
	}
	if yaml.Unmarshal(data, &cf) != nil {
		return nil
	}
	var out []string
	for n := range cf.Profiles {
		out = append(out, n)
	}
	return out
}

// completionScripts call 'streamctl __complete' with the words typed so
// far; each prints nothing extra and falls back to file names where
// streamctl has no candidates (bash, zsh).
var completionScripts = map[string]string{
	"bash": `# bash completion for streamctl; install:
#   streamctl completion bash > ~/.local/share/bash-completion/completions/streamctl
_streamctl() {
    local cur="${COMP_WORDS[COMP_CWORD]}" IFS=$'\n'
    COMPREPLY=($(compgen -W "$(streamctl __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)" -- "$cur"))
}
complete -o default -F _streamctl streamctl
`,
	"zsh": `#compdef streamctl
# zsh completion for streamctl; install:
#   streamctl completion zsh > "${fpath[1]}/_streamctl"
_streamctl() {
    local -a candidates
    candidates=("${(@f)$(streamctl __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    if [[ -n "${candidates[1]}" ]]; then
        compadd -- "${candidates[@]}"
    else
        _files
    fi
}
if [[ "${zsh_eval_context[-1]}" == loadautofunc ]]; then
    _streamctl "$@"
else
    compdef _streamctl streamctl
fi
`,
	"fish": `# fish completion for streamctl; install:
#   streamctl completion fish > ~/.config/fish/completions/streamctl.fish
function __streamctl_complete
    set -l tokens (commandline -opc) (commandline -ct)
    streamctl __complete $tokens[2..-1] 2>/dev/null
end
complete -c streamctl -f -a '(__streamctl_complete)'
`,
}
