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
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
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
  usher serve [flags]     run the server (see usher serve --help)
  usher migrate [--db DSN] apply database migrations and exit
  usher invite [--db DSN | --url URL] EMAIL...  invite people (- reads emails from standard input)
  usher import [--db DSN | --url URL] [--invite] [--upsert] [--dry-run] FILE
                          import users from Auth0's JSON or a CSV file
  usher admin invite [--db DSN | --url URL] EMAIL  invite a dashboard administrator

Run "usher COMMAND --help" for a command's flags.
`

// run is the whole program: args as os.Args, the environment through getenv.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return usageError{"missing command"}
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case "invite":
		return invite(ctx, rest, getenv, stdin, stdout, stderr)
	case "import":
		return importUsers(ctx, rest, getenv, stdout, stderr)
	case "admin":
		return admin(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// parseArgs parses args on fs, mapping a parse failure to a usage error;
// what follows the flags stays in fs.Args().
func parseArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// parseFlags is parseArgs for a command that takes flags alone.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}
