package cmd

import (
	"io"
	"os"
	"strings"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
	"github.com/streamctl/streamctl/internal/format"
)

// isTerminal reports whether w is a terminal. Anything that is not an
// *os.File (a pipe in a test, a buffer) is not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// useColor decides colour for one writer: --color always or never wins;
// auto means a terminal, NO_COLOR unset and TERM not dumb.
func useColor(mode string, w io.Writer, getenv func(string) string) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		return isTerminal(w) && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb", nil
	}
	return false, usagef("--color: want auto, always or never, got %q", mode)
}

// palette builds the terminal styles from fatih/color, told explicitly to
// colour or not: by default it decides from os.Stdout, which is not
// necessarily the writer at hand.
func palette(on bool) format.Palette {
	if !on {
		return format.Palette{}
	}
	style := func(attrs ...color.Attribute) format.Style {
		c := color.New(attrs...)
		c.EnableColor()
		start, end, _ := strings.Cut(c.Sprint("\x00"), "\x00")
		return format.Style{Start: start, End: end}
	}
	return format.Palette{
		Meta:    style(color.Faint),
		Key:     style(color.FgCyan),
		String:  style(color.FgGreen),
		Number:  style(color.FgYellow),
		Literal: style(color.FgMagenta),
		Punct:   style(color.Faint),
	}
}
