package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// usageError is a mistake in how securectl was called (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// errHelp asks for a command's help (exit status 0).
var errHelp = errors.New("help requested")

// options holds every command's flags; each command registers the ones it
// takes.
type options struct {
	json                            *bool
	reason, source, sourceRevision  string
	sha256, filename, policyVersion string
	output                          string
	size                            int64
	scan, scannerVersions           kvFlag
	importFile, wide                bool
	keyFile                         string
	from                            uint64
	limit                           int
}

// command is one securectl verb.
type command struct {
	names    []string // the first is the name, the others aliases
	synopsis string   // arguments and flags after the name
	summary  string
	detail   string
	nargs    int
	varargs  bool // any number of arguments: run checks them
	flags    func(fs *flag.FlagSet, o *options)
	run      func(ctx context.Context, cl *cli, o *options, args []string) error

	// noClient: the command also runs when REGISTRY_URL is unusable
	// (cli.clientErr says why): it needs no registry, or reports that itself.
	noClient bool
	// For shell completion: the words the first argument is one of, and
	// whether the other arguments are local paths.
	choices []string
	paths   bool
}

// flagSet registers the command's flags (and --json) on a new set that
// reports errors instead of printing them.
func (cmd *command) flagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.names[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.BoolVar(o.json, "json", *o.json, "print the registry's JSON answer")
	if cmd.flags != nil {
		cmd.flags(fs, o)
	}
	return fs
}

// parse reads args: flags may come before, between or after the
// positional arguments; "--" ends the flags (for a name that starts with
// "-").
func (cmd *command) parse(o *options, args []string) ([]string, error) {
	fs := cmd.flagSet(o)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, &usageError{err.Error()}
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	if !cmd.varargs && len(pos) != cmd.nargs {
		want := "no arguments"
		switch cmd.nargs {
		case 1:
			want = "exactly one argument"
		case 2:
			want = "exactly two arguments"
		}
		return nil, usagef("%s takes %s, got %d", cmd.names[0], want, len(pos))
	}
	for _, p := range pos {
		if p == "" {
			return nil, usagef("%s: empty argument", cmd.names[0])
		}
	}
	return pos, nil
}

// help is the command's usage text.
func (cmd *command) help() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: securectl %s %s\n", strings.Join(cmd.names, "|"), cmd.synopsis)
	fmt.Fprintf(&b, "\n%s\n", cmd.summary)
	if cmd.detail != "" {
		fmt.Fprintf(&b, "\n%s\n", cmd.detail)
	}
	fs := cmd.flagSet(&options{json: new(bool)})
	fmt.Fprintf(&b, "\nFlags:\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return b.String()
}

// kvFlag is a repeatable key=value flag.
type kvFlag map[string]string

func (m *kvFlag) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(*m)) {
		parts = append(parts, k+"="+(*m)[k])
	}
	return strings.Join(parts, ",")
}

func (m *kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	if *m == nil {
		*m = kvFlag{}
	}
	if _, dup := (*m)[k]; dup {
		return fmt.Errorf("%q given twice", k)
	}
	(*m)[k] = v
	return nil
}
