package cmd

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

// configCommand prints the effective global settings and where each came
// from: the first thing to run when a connection fails.
func configCommand(s Streams, st *settings) *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "print the effective settings and where each came from (flag, env, -X, client-properties, profile, default)",
		Description: `Prints every global setting with its value and its source, secrets masked.
Precedence, strongest first: command-line flag, -X, environment variable
(STREAMCTL_<FLAG>), --client-properties file, profile, built-in default.

Examples:
   streamctl config
   streamctl --profile staging config
   STREAMCTL_PROFILE=cloud streamctl config`,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("config takes no arguments")
			}
			file := st.configFile
			if file == "" {
				file = "none (" + defaultConfigPath(s.Getenv) + " not found)"
			}
			fmt.Fprintf(s.Out, "config file: %s\n", file)
			if st.profile != "" {
				fmt.Fprintf(s.Out, "profile: %s (%s)\n", st.profile, st.profileWhy)
			} else {
				fmt.Fprintln(s.Out, "profile: none")
			}
			tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
			for _, f := range c.App.Flags {
				name := f.Names()[0]
				if metaFlags[name] {
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", name, displayValue(c, f), st.origins[name].what)
			}
			return tw.Flush()
		},
	}
}

// isSecret says whether a flag's value must never be printed.
func isSecret(name string) bool {
	return strings.HasSuffix(name, "-password") || strings.HasSuffix(name, "-secret") || strings.HasSuffix(name, "-token")
}

func displayValue(c *cli.Context, f cli.Flag) string {
	name := f.Names()[0]
	var v any
	if _, ok := f.(*cli.GenericFlag); ok {
		v = c.Generic(name)
	} else {
		v = c.Value(name)
	}
	var text string
	switch v := v.(type) {
	case nil:
		text = ""
	case *stringList:
		text = strings.Join(v.values, ", ")
	default:
		text = fmt.Sprint(v)
	}
	if isSecret(name) && text != "" {
		return "********"
	}
	if text == "" {
		return `""`
	}
	return text
}
