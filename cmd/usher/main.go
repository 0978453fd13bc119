// Command usher is a self-hosted identity server built around inviting people.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, systemClock{}, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError marks a command line that could not be understood: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "usher:", err)
		return 2
	}
	fmt.Fprintln(stderr, "usher:", err)
	return 1
}

const usage = `usher: a self-hosted identity server built around inviting people

Usage:
  usher serve [flags]                 run the server
  usher migrate [--db DSN]            apply database migrations and exit
  usher invite TARGET EMAIL...        invite people (- reads emails from standard input)
  usher import TARGET [flags] FILE    import users from Auth0's JSON or a CSV file
  usher admin invite TARGET EMAIL     invite a dashboard administrator
  usher clients create TARGET --name NAME [--type TYPE] [--callback URL] [--grant SCOPE]
                                      create a client; print its id and secret once
  usher clients rotate-secret [--db DSN] [CLIENT_ID]
                                      give a client (the Management API client by default) a new secret
  usher version                       print the version and commit

TARGET is --db DSN (work on the database directly) or --url URL with
--client-id and --client-secret (talk to a running server).
Run "usher COMMAND --help" for what a command does and its flags.
`

// run is the whole program: args as os.Args, the environment through getenv,
// the time from clk (main passes the system's; a test, one it moves).
func run(ctx context.Context, args []string, getenv func(string) string, clk clock, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return usageError{"missing command"}
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, clk, serveTimeouts(), stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case "invite":
		return invite(ctx, rest, getenv, stdin, stdout, stderr)
	case "import":
		return importUsers(ctx, rest, getenv, stdout, stderr)
	case "admin":
		return admin(ctx, rest, getenv, stdout, stderr)
	case "clients":
		return clients(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-version":
		return version(rest, getenv, stdout)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// command is a subcommand as its --help describes it.
type command struct {
	name  string // as typed after usher: "serve", "admin invite"
	usage string // the synopsis, after "usher "
	about string // one paragraph: what the command does, wrapped
}

// flags returns an empty flag set for c. Parse it with c.parse, which
// prints the help and reports bad flags.
func (c command) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse says what went wrong, in one line
	fs.Usage = func() {}
	return fs
}

// usageErr is a usage error of c, pointing at its help.
func (c command) usageErr(format string, args ...any) error {
	return usageError{fmt.Sprintf("%s: %s (see usher %s --help)", c.name, fmt.Sprintf(format, args...), c.name)}
}

// parse parses args on fs, leaving what follows the flags in fs.Args().
// --help writes c's help to stdout and returns flag.ErrHelp; a flag that
// cannot be read is a usage error of one line.
func (c command) parse(fs *flag.FlagSet, args []string, getenv func(string) string, stdout io.Writer) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		c.help(stdout, fs, getenv)
		return err
	}
	if err != nil {
		return c.usageErr("%s", flagProblem(fs, err))
	}
	return nil
}

// parseFlags is parse for a command that takes flags alone.
func (c command) parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, stdout io.Writer) error {
	if err := c.parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return c.usageErr("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
