package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/usherid/usher/internal/identity"
)

var rotateSecretCommand = command{name: "clients rotate-secret",
	usage: "clients rotate-secret [--db DSN | --url URL --client-id ID --client-secret SECRET] [CLIENT_ID]",
	about: `Gives a client a new secret and prints it; the old secret stops working at
once. Without CLIENT_ID it is the Management API client made at the first
start, whose secret is shown only then: this is how to get a usable secret for
it again, straight on the database (--db) with no server or credentials
needed. With --url, CLIENT_ID is required and the server's API does the work.`}

var createClientCommand = command{name: "clients create",
	usage: "clients create [--db DSN | --url URL --client-id ID --client-secret SECRET] --name NAME [--app-type TYPE] [--callbacks URL,...] [--grant-types GRANT,...]",
	about: `Creates a client (an application) and prints its client_id and secret;
the secret is shown this once. The flags are the fields of Auth0's
POST /api/v2/clients that an application needs most; the dashboard and the
Management API set the rest.`}

// clients is `usher clients SUBCOMMAND`.
func clients(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "rotate-secret":
		return rotateSecret(ctx, args[1:], getenv, stdout)
	case "create":
		return createClient(ctx, args[1:], getenv, stdout)
	case "--help", "-h", "help":
		for _, c := range []command{createClientCommand, rotateSecretCommand} {
			fmt.Fprintf(stdout, "usage: usher %s\n  %s\n", c.usage, strings.SplitN(c.about, "\n", 2)[0])
		}
		fmt.Fprintln(stdout, "Run \"usher clients SUBCOMMAND --help\" for more.")
		return nil
	}
	return usageError{"clients: the subcommands are create and rotate-secret (see usher clients --help)"}
}

func rotateSecret(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c := rotateSecretCommand
	fs := c.flags()
	tg := bindTarget(fs, getenv)
	if err := c.parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return c.usageErr("name at most one client")
	}
	remote, err := tg.remote(c, fs)
	if err != nil {
		return err
	}
	id := fs.Arg(0)
	var secret string
	if remote {
		if id == "" {
			return c.usageErr("with --url, name the client whose secret to rotate")
		}
		api, err := tg.dial(ctx, c.name)
		if err != nil {
			return err
		}
		var out clientAnswer
		if _, err := api.do(ctx, "POST", "/api/v2/clients/"+url.PathEscape(id)+"/rotate-secret", nil, nil, &out); err != nil {
			return fmt.Errorf("%s %s: %w", c.name, id, err)
		}
		id, secret = out.ClientID, out.ClientSecret
	} else {
		svc, closeDB, err := tg.open(ctx, c.name)
		if err != nil {
			return err
		}
		defer closeDB()
		if id == "" {
			if id, err = svc.ids.BootstrapClientID(ctx); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
		}
		if _, secret, err = svc.ids.RotateClientSecret(ctx, id); err != nil {
			return fmt.Errorf("%s %s: %w", c.name, id, err)
		}
	}
	fmt.Fprintf(stdout, "New secret of client %s (shown once, keep it safe; the old one no longer works):\n  client_id:     %s\n  client_secret: %s\n", id, id, secret)
	return nil
}

func createClient(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c := createClientCommand
	fs := c.flags()
	tg := bindTarget(fs, getenv)
	name := fs.String("name", "", "the client's name, shown to people who log in")
	appType := fs.String("app-type", "", "regular_web, spa, native or non_interactive (machine to machine)")
	callbacks := fs.String("callbacks", "", "comma-separated URLs a login may return to")
	grants := fs.String("grant-types", "", "comma-separated grant types, e.g. authorization_code,refresh_token (default: Auth0's for the app type)")
	if err := c.parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return c.usageErr("--name is required")
	}
	remote, err := tg.remote(c, fs)
	if err != nil {
		return err
	}
	body := map[string]any{"name": *name}
	if *appType != "" {
		body["app_type"] = *appType
	}
	if list := splitList(*callbacks); len(list) > 0 {
		body["callbacks"] = list
	}
	if list := splitList(*grants); len(list) > 0 {
		body["grant_types"] = list
	}
	var id, secret string
	if remote {
		api, err := tg.dial(ctx, c.name)
		if err != nil {
			return err
		}
		var out clientAnswer
		status, err := api.call(ctx, "POST", "/api/v2/clients", body, &out)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if status != http.StatusCreated {
			return fmt.Errorf("%s: %d %s", c.name, status, out.Message)
		}
		id, secret = out.ClientID, out.ClientSecret
	} else {
		svc, closeDB, err := tg.open(ctx, c.name)
		if err != nil {
			return err
		}
		defer closeDB()
		patch := identity.Patch{}
		for k, v := range body {
			patch[k], _ = json.Marshal(v)
		}
		client, s, err := svc.ids.CreateClient(ctx, patch)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		id, secret = client.ClientID, s
	}
	fmt.Fprintf(stdout, "Created the client %s (the secret is shown once, keep it safe):\n  client_id:     %s\n  client_secret: %s\n", *name, id, secret)
	return nil
}

// splitList reads a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// clientAnswer is what the Management API answers about a client whose
// secret it shows: creation and rotation.
type clientAnswer struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Message      string `json:"message"`
}
