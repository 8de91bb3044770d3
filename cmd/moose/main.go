// Command moose is the moose CLI: it runs the server (dev, prod), makes
// tokens (generate hash-token), scaffolds projects (init), and talks to a
// running server (plan, apply, ls, peek, query).
//
// Commands are a table; main maps their errors to exit codes once: 0 on
// success, 2 for usage errors, 1 for everything else, with one line on
// stderr saying why.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// command is one subcommand.
type command struct {
	Name  string
	Args  string // usage after the name
	Short string
	Run   func(ctx context.Context, e *env, args []string) error
}

// env is what commands may touch, so tests can run them in-process.
type env struct {
	stdout, stderr io.Writer
	dir            string   // working directory: the project
	environ        []string // process environment
	isTerminal     bool
}

func (e *env) getenv(k string) string {
	for i := len(e.environ) - 1; i >= 0; i-- {
		if name, v, ok := strings.Cut(e.environ[i], "="); ok && name == k {
			return v
		}
	}
	return ""
}

// usageError is a wrong command line: exit 2 with usage.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

var commands []command

func init() {
	commands = []command{
		{"init", "NAME", "create a new project in directory NAME", runInit},
		{"dev", "", "run the server for development (project in the working directory)", runDev},
		{"prod", "[--allow-destructive]", "run the server for production", runProd},
		{"generate", "hash-token [--json] | openapi [-o FILE]", "make an API token and its hash, or the OpenAPI document", runGenerate},
		{"plan", "[--url URL] [--token T] [--json]", "show what applying the project files to a server would change", runPlan},
		{"remote", "plan ...", "alias: moose remote plan = moose plan", runRemote},
		{"apply", "[--url URL] [--token T] [--allow-destructive]", "apply the project files to a running server", runApply},
		{"ls", "[--json]", "list routes, tables, APIs and auth modes", runLs},
		{"peek", "MODEL [-n N] [--json] [--url URL] [--token T]", "show the latest rows of a model's table", runPeek},
		{"query", "SQL [--json] [--url URL] [--token T]", "run a read-only SQL query", runQuery},
		{"version", "", "print the version", runVersion},
		{"help", "[COMMAND]", "show help", runHelp},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	dir, _ := os.Getwd()
	fi, _ := os.Stdout.Stat()
	e := &env{stdout: os.Stdout, stderr: os.Stderr, dir: dir, environ: os.Environ(),
		isTerminal: fi != nil && fi.Mode()&os.ModeCharDevice != 0}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		printUsage(e.stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "--help" {
		name = "help"
	}
	if name == "-v" || name == "--version" {
		name = "version"
	}
	for _, c := range commands {
		if c.Name == name {
			err := c.Run(ctx, e, args[1:])
			return exitCode(e, c, err)
		}
	}
	fmt.Fprintf(e.stderr, "moose: unknown command %q\n\n", name)
	printUsage(e.stderr)
	return 2
}

func exitCode(e *env, c command, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "moose %s: %s\nusage: moose %s %s\n", c.Name, ue.msg, c.Name, c.Args)
		return 2
	}
	msg := strings.TrimSpace(err.Error())
	fmt.Fprintf(e.stderr, "moose %s: %s\n", c.Name, msg)
	return 1
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "moose %s: a secure analytical backend (JSON events in, ClickHouse tables, typed APIs out)\n\nusage: moose COMMAND [ARGS]\n\ncommands:\n", version)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.Name, c.Short)
	}
	fmt.Fprintf(w, "\nRun `moose help COMMAND` for a command's arguments.\n")
}

func runHelp(_ context.Context, e *env, args []string) error {
	if len(args) == 0 {
		printUsage(e.stdout)
		return nil
	}
	for _, c := range commands {
		if c.Name == args[0] {
			fmt.Fprintf(e.stdout, "usage: moose %s %s\n\n%s\n", c.Name, c.Args, c.Short)
			return nil
		}
	}
	return usagef("unknown command %q", args[0])
}

func runVersion(_ context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usagef("takes no arguments")
	}
	fmt.Fprintf(e.stdout, "moose %s\n", version)
	return nil
}

// newFlags returns a FlagSet whose errors become usage errors.
func newFlags(name string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args, allowing flags after positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// logger is the process logger: text to stderr, level from MOOSE_LOG_LEVEL.
func logger(e *env) *slog.Logger {
	var lv slog.LevelVar
	switch strings.ToLower(e.getenv("MOOSE_LOG_LEVEL")) {
	case "debug":
		lv.Set(slog.LevelDebug)
	case "warn":
		lv.Set(slog.LevelWarn)
	case "error":
		lv.Set(slog.LevelError)
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: &lv}))
}
