package main

import (
	"flag"
	"fmt"
	"io"
	"regexp"
	"runtime/debug"
	"strings"
)

// help writes c's help: the synopsis, what the command does, and every
// flag as --name TYPE with its meaning and default. A default that comes
// from the environment is named, never shown: it may be a secret.
func (c command) help(w io.Writer, fs *flag.FlagSet, getenv func(string) string) {
	fmt.Fprintf(w, "usage: usher %s\n\n%s\n", c.usage, strings.TrimSpace(c.about))
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprint(w, "\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		typ, meaning := flagType(f)
		name := "--" + f.Name
		if typ != "" {
			name += " " + typ
		}
		fmt.Fprintf(w, "  %s\n      %s", name, meaning)
		if d := shownDefault(f, typ, getenv); d != "" {
			fmt.Fprintf(w, " (%s)", d)
		}
		fmt.Fprintln(w)
	})
}

// typeNamer is a flag value that names its type for the help.
type typeNamer interface{ Type() string }

// flagType is the type a flag's value is written in ("" for a switch) and
// its meaning with the backquotes of a placeholder removed.
func flagType(f *flag.Flag) (typ, meaning string) {
	typ, meaning = flag.UnquoteUsage(f)
	if t, ok := f.Value.(typeNamer); ok {
		typ = t.Type()
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		typ = ""
	}
	return typ, meaning
}

var envName = regexp.MustCompile(`\bUSHER_[A-Z_]+\b`)

// shownDefault is what the help says about f's default: "default X", or,
// when the value comes from an environment variable, only its name.
func shownDefault(f *flag.Flag, typ string, getenv func(string) string) string {
	if f.DefValue == "" || (typ == "" && f.DefValue == "false") || (typ == "duration" && f.DefValue == "0s") {
		return ""
	}
	for _, env := range envName.FindAllString(f.Usage, -1) {
		if getenv(env) != "" && getenv(env) == f.DefValue {
			return "now set by " + env
		}
	}
	return "default " + f.DefValue
}

// flagProblem says in a few words what is wrong with the flags, naming
// flags the way they are typed (--name).
func flagProblem(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + strings.TrimPrefix(name, "-")
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "--" + strings.TrimPrefix(name, "-") + " needs a value"
	}
	if m := badValue.FindStringSubmatch(msg); m != nil {
		value, name, reason := m[1], m[2], m[3]
		if f := fs.Lookup(name); f != nil {
			switch typ, _ := flagType(f); typ {
			case "duration":
				reason = "want a duration such as 72h or 30m"
			case "":
				reason = "want true or false"
			}
		}
		return fmt.Sprintf("--%s %s: %s", name, value, reason)
	}
	return strings.ReplaceAll(msg, " -", " --")
}

// badValue reads the flag package's "invalid value" errors.
var badValue = regexp.MustCompile(`^invalid (?:boolean )?value (".*") for (?:flag )?-(\S+): (.*)$`)

var versionCommand = command{name: "version", usage: "version",
	about: `Prints Usher's version and the commit it was built from, as Go recorded
them in the binary (a binary built outside a git checkout knows no commit).
"usher --version" does the same.`}

// version prints the version of this binary.
func version(args []string, getenv func(string) string, stdout io.Writer) error {
	c := versionCommand
	fs := c.flags()
	if err := c.parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout, versionLine())
	return nil
}

// versionLine is "usher VERSION (commit REV, TIME), GO" from the build
// information Go records in the binary.
func versionLine() string {
	v, commit, when, modified, goVersion := "(devel)", "", "", false, ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		goVersion = info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	var about []string
	switch {
	case commit == "":
		about = append(about, "commit unknown")
	case modified:
		about = append(about, "commit "+commit+" with local changes")
	default:
		about = append(about, "commit "+commit)
	}
	if when != "" {
		about = append(about, when)
	}
	line := fmt.Sprintf("usher %s (%s)", v, strings.Join(about, ", "))
	if goVersion != "" {
		line += ", built with " + goVersion
	}
	return line
}
