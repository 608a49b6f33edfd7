//go:build !urfave_cli_no_docs

package cmd

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// manCommand is __man, with which make man writes docs/streamctl.1 from
// the same definitions as --help, completion and the README test. make
// build leaves it out (the urfave_cli_no_docs tag): urfave/cli's man and
// markdown writers bring blackfriday and go-md2man, whose package init
// every run of streamctl would pay for; make man builds its own.
func manCommand(s Streams) []*cli.Command {
	return []*cli.Command{{
		Name:   "__man",
		Hidden: true,
		Action: func(c *cli.Context) error {
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(s.Out, page)
			return err
		},
	}}
}
