package cmd

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/streamctl/streamctl/consume"
	"github.com/streamctl/streamctl/internal/filter"
	"github.com/urfave/cli/v2"
)

// filterFlags are consume's flags that choose messages and judge a run by
// how many matched.
func filterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "grep", Aliases: []string{"G"}, EnvVars: envVars("grep"),
			Usage: "write only messages whose raw bytes match `PATTERN`: k:RE, v:RE, t:RE, hk:RE, hv:RE or h:NAME=RE (key, value, topic, any header key or value, header NAME's value; a leading ! negates); repeatable, all must hold; asked before decoding"},
		&cli.StringSliceFlag{Name: "where", EnvVars: envVars("where"),
			Usage: "write only messages for which the jq `EXPR` on the -J document is neither false nor null (header(\"name\") and $ENV work; missing fields are null); repeatable, all must hold"},
		&cli.IntFlag{Name: "expect", Value: -1, EnvVars: envVars("expect"),
			Usage: "exit 3 unless at least `N` messages matched when the run stopped, whatever stopped it", DefaultText: "no expectation"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, EnvVars: envVars("verbose"),
			Usage: "say on stderr how many messages matched, \"3 of 120000 messages matched\""},
	}
}

// filterRun is what the filter flags ask of one consume run.
type filterRun struct {
	filtering bool
	expect    int
	verbose   bool
	err       io.Writer
}

// expectError is an --expect that the run did not meet.
type expectError struct{ matched, want int }

func (e *expectError) Error() string {
	return fmt.Sprintf("--expect %d: %d messages matched", e.want, e.matched)
}

// applyFilter reads the filter flags into o.
func applyFilter(c *cli.Context, s Streams, o *consume.Options) (*filterRun, error) {
	fr := &filterRun{expect: c.Int("expect"), verbose: c.Bool("verbose"), err: s.Err}
	if c.IsSet("expect") && fr.expect < 0 {
		return nil, usagef("--expect must not be negative")
	}
	greps, wheres := c.StringSlice("grep"), c.StringSlice("where")
	if len(greps) == 0 && len(wheres) == 0 {
		return fr, nil
	}
	env := map[string]string{}
	if s.Environ != nil {
		for _, kv := range s.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	f, err := filter.New(greps, wheres, env)
	var pe *filter.PatternError
	if errors.As(err, &pe) {
		flag := "--where"
		for _, g := range greps {
			if g == pe.Pattern {
				flag = "--grep"
			}
		}
		return nil, usagef("%s %v", flag, err)
	}
	if err != nil {
		return nil, err
	}
	o.Filter, fr.filtering = f, true
	return fr, nil
}

// outcome reports the counts and judges --expect once the run stopped:
// an unmet --expect is exit 3, unless a worse error came first.
func (fr *filterRun) outcome(st consume.Stats, err error) error {
	if st.FilterErrors > 0 {
		fmt.Fprintf(fr.err, "streamctl: --where failed on %s (counted as no match)\n", plural(int64(st.FilterErrors), "message"))
	}
	if fr.verbose {
		if fr.filtering {
			fmt.Fprintf(fr.err, "streamctl: %d of %d messages matched\n", st.Written, st.Seen)
		} else {
			fmt.Fprintf(fr.err, "streamctl: %d messages\n", st.Written)
		}
	}
	if fr.expect >= 0 && st.Written < fr.expect && (err == nil || ExitCode(err) == ExitTimeout) {
		if err != nil {
			return err // the timeout says more, and is exit 3 too
		}
		return &expectError{matched: st.Written, want: fr.expect}
	}
	return err
}
