package cmd

import "github.com/urfave/cli/v2"

func consumeCommand(s Streams) *cli.Command {
	return &cli.Command{Name: "consume", Usage: "print messages from topics", Action: func(*cli.Context) error { return usagef("not yet") }}
}
