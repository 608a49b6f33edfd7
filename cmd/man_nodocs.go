//go:build urfave_cli_no_docs

package cmd

import "github.com/urfave/cli/v2"

// manCommand is none in a build without urfave/cli's documentation
// writers (make build); make man builds with them.
func manCommand(Streams) []*cli.Command { return nil }
