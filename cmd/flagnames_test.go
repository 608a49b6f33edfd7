package cmd

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestFlagNamesCached: every flag the app gives urfave/cli says the same
// names as the flag it wraps (worked out without urfave/cli's regular
// expression), and the kinds urfave/cli looks up most are wrapped.
func TestFlagNamesCached(t *testing.T) {
	app := newApp(Streams{})
	check := func(where string, flags []cli.Flag) {
		for _, f := range flags {
			inner := unwrapFlag(f)
			if !slices.Equal(f.Names(), inner.Names()) {
				t.Errorf("%s: flag %v says names %v, the flag it wraps %v", where, inner, f.Names(), inner.Names())
			}
			if got, want := firstFlagName(inner), inner.Names()[0]; got != want {
				t.Errorf("%s: firstFlagName = %q, want %q", where, got, want)
			}
			switch inner.(type) {
			case *cli.StringFlag, *cli.BoolFlag, *cli.IntFlag, *cli.DurationFlag, *cli.StringSliceFlag:
				if f == inner {
					t.Errorf("%s: flag --%s is not wrapped", where, f.Names()[0])
				}
			}
		}
	}
	check("global", app.Flags)
	var walk func(string, []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			check(prefix+c.Name, c.Flags)
			walk(prefix+c.Name+" ", c.Subcommands)
		}
	}
	walk("", app.Commands)
}
