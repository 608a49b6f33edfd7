package cmd

import "github.com/urfave/cli/v2"

func produceCommand(s Streams) *cli.Command {
	return &cli.Command{Name: "produce", Usage: "publish stdin or files to a topic", Action: func(*cli.Context) error { return usagef("not yet") }}
}
