package cmd

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// urfave/cli v2 works a flag's names out anew on every Names() call, with
// a regular expression, and asks for them over and over: before a command
// runs it looks each of its flags up by name among all of them (IsSet,
// through every flag before it), about a millisecond of every run's
// start with streamctl's hundred-odd flags. The flags of the kinds below
// say their names from a list made once. Each wrapper embeds the flag
// itself, so every interface urfave/cli asks of it is the flag's own;
// urfave/cli asserts their concrete types only in its fish and bash
// completion writers and, for a bool flag's DisableDefaultText, in help,
// none of which streamctl uses; streamctl's own assertions (wantOf) see
// through them with unwrapFlag. Generic flags stay as they are.

type stringFlag struct {
	*cli.StringFlag
	names []string
}

func (f *stringFlag) Names() []string { return f.names }

type boolFlag struct {
	*cli.BoolFlag
	names []string
}

func (f *boolFlag) Names() []string { return f.names }

type intFlag struct {
	*cli.IntFlag
	names []string
}

func (f *intFlag) Names() []string { return f.names }

type durationFlag struct {
	*cli.DurationFlag
	names []string
}

func (f *durationFlag) Names() []string { return f.names }

type stringSliceFlag struct {
	*cli.StringSliceFlag
	names []string
}

func (f *stringSliceFlag) Names() []string { return f.names }

// cacheFlagNames gives the app and every command flag lists of their own
// in which the flags of the kinds above say their names from a list.
func cacheFlagNames(app *cli.App) {
	wrap := func(flags []cli.Flag) []cli.Flag {
		out := make([]cli.Flag, len(flags)) // the lists may be shared
		for i, f := range flags {
			switch f := f.(type) {
			case *cli.StringFlag:
				out[i] = &stringFlag{f, flagNamesOf(f.Name, f.Aliases)}
			case *cli.BoolFlag:
				out[i] = &boolFlag{f, flagNamesOf(f.Name, f.Aliases)}
			case *cli.IntFlag:
				out[i] = &intFlag{f, flagNamesOf(f.Name, f.Aliases)}
			case *cli.DurationFlag:
				out[i] = &durationFlag{f, flagNamesOf(f.Name, f.Aliases)}
			case *cli.StringSliceFlag:
				out[i] = &stringSliceFlag{f, flagNamesOf(f.Name, f.Aliases)}
			default:
				out[i] = f
			}
		}
		return out
	}
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			c.Flags = wrap(c.Flags)
			walk(c.Subcommands)
		}
	}
	app.Flags = wrap(app.Flags)
	walk(app.Commands)
}

// flagNamesOf is what urfave/cli's Names() says of a flag with this name
// and aliases, without its regular expression (a run's start once spent
// a tenth of a millisecond on it, for every flag of every command): the
// expression cuts each name at a comma or a space, which only a
// urfave/cli v1 style name has, and those go to urfave/cli itself.
func flagNamesOf(name string, aliases []string) []string {
	names := make([]string, 0, 1+len(aliases))
	for _, n := range append([]string{name}, aliases...) {
		if strings.ContainsAny(n, ", ") {
			return cli.FlagNames(name, aliases)
		}
		names = append(names, n)
	}
	return names
}

// firstFlagName is a flag's first name, f.Names()[0], for flags not
// wrapped yet.
func firstFlagName(f cli.Flag) string {
	var name string
	var aliases []string
	switch f := f.(type) {
	case *cli.StringFlag:
		name, aliases = f.Name, f.Aliases
	case *cli.BoolFlag:
		name, aliases = f.Name, f.Aliases
	case *cli.IntFlag:
		name, aliases = f.Name, f.Aliases
	case *cli.DurationFlag:
		name, aliases = f.Name, f.Aliases
	case *cli.StringSliceFlag:
		name, aliases = f.Name, f.Aliases
	case *cli.GenericFlag:
		name, aliases = f.Name, f.Aliases
	default:
		return f.Names()[0]
	}
	return flagNamesOf(name, aliases)[0]
}

// unwrapFlag is the urfave/cli flag a cacheFlagNames wrapper holds.
func unwrapFlag(f cli.Flag) cli.Flag {
	switch f := f.(type) {
	case *stringFlag:
		return f.StringFlag
	case *boolFlag:
		return f.BoolFlag
	case *intFlag:
		return f.IntFlag
	case *durationFlag:
		return f.DurationFlag
	case *stringSliceFlag:
		return f.StringSliceFlag
	}
	return f
}
