package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

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
	usage: "clients create [--db DSN [--public-url URL] | --url URL --client-id ID --client-secret SECRET] --name NAME [--type m2m|spa|regular_web|native] [--callback URL]... [--grant SCOPE]...",
	about: `Creates a client (an application) and prints its client_id and secret;
the secret is shown this once. --type is the kind of application (m2m is
Auth0's non_interactive), --callback a URL a login may return to, and --grant
a Management API scope the client gets through a client grant, as Auth0's
POST /api/v2/client-grants gives one: an m2m client with --grant read:users
can read users and nothing else. With --db, --grant needs the server's
public URL, which the grant's audience starts with. The older spellings
--app-type, --callbacks and --grant-types still work.`}

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

// clientTypes are the kinds of application --type takes, each with the
// app_type Auth0 stores for it.
var clientTypes = map[string]string{
	"m2m": "non_interactive", "non_interactive": "non_interactive",
	"spa": "spa", "regular_web": "regular_web", "native": "native",
}

func createClient(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	c := createClientCommand
	fs := c.flags()
	tg := bindTarget(fs, getenv)
	name := fs.String("name", "", "the client's name, shown to people who log in")
	kind := fs.String("type", "", "m2m (machine to machine), spa, regular_web or native; Auth0's non_interactive means m2m")
	appType := fs.String("app-type", "", "the same as --type, as Auth0's app_type names it")
	var callback, grant repeated
	fs.Var(&callback, "callback", "a `URL` a login may return to; repeat the flag for more")
	callbacks := fs.String("callbacks", "", "comma-separated URLs a login may return to")
	fs.Var(&grant, "grant", "a Management API `SCOPE` the client may get tokens for, e.g. read:users; repeat the flag, or separate scopes with spaces or commas")
	grants := fs.String("grant-types", "", "comma-separated grant types, e.g. authorization_code,refresh_token (default: Auth0's for the app type)")
	if err := c.parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return c.usageErr("--name is required")
	}
	typ := ""
	if *kind != "" {
		t, ok := clientTypes[strings.ToLower(strings.TrimSpace(*kind))]
		if !ok {
			return c.usageErr("--type %q: want m2m, spa, regular_web or native", *kind)
		}
		typ = t
	}
	if *appType != "" {
		t := strings.TrimSpace(*appType)
		if t == "m2m" {
			t = "non_interactive"
		}
		if typ != "" && t != typ {
			return c.usageErr("--type %s and --app-type %s disagree: give one", *kind, *appType)
		}
		typ = t
	}
	var scopes []string
	for _, g := range grant {
		for _, sc := range strings.FieldsFunc(g, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			if !identity.IsManagementScope(sc) {
				return c.usageErr("--grant %q: not a Management API scope (for example read:users, create:users)", sc)
			}
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	if len(grant) > 0 && len(scopes) == 0 {
		return c.usageErr("--grant needs a scope, such as read:users")
	}
	remote, err := tg.remote(c, fs)
	if err != nil {
		return err
	}
	if !remote && len(scopes) > 0 && *tg.publicURL == "" {
		return c.usageErr("with --db, --grant needs --public-url URL (or USHER_PUBLIC_URL): the grant is for the Management API at PUBLIC_URL/api/v2/, the audience tokens are asked for")
	}
	body := map[string]any{"name": *name}
	if typ != "" {
		body["app_type"] = typ
	}
	if list := append(splitList(*callbacks), callback.trimmed()...); len(list) > 0 {
		body["callbacks"] = list
	}
	if list := splitList(*grants); len(list) > 0 {
		body["grant_types"] = list
	}
	var id, secret, audience string
	var grantErr error
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
		if len(scopes) > 0 {
			// The audience the server's tokens are asked for by this command too (see dial).
			audience = api.base + "/api/v2/"
			var answer clientAnswer
			status, err := api.call(ctx, "POST", "/api/v2/client-grants", identity.NewClientGrant{ClientID: id, Audience: audience, Scope: scopes}, &answer)
			if err == nil && status != http.StatusCreated {
				err = fmt.Errorf("%d %s", status, answer.Message)
			}
			grantErr = err
		}
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
		if len(scopes) > 0 {
			audience = svc.ids.ManagementAudience()
			_, grantErr = svc.ids.CreateClientGrant(ctx, identity.NewClientGrant{ClientID: id, Audience: audience, Scope: scopes})
		}
	}
	// The secret is printed even when the grant failed: it exists only here.
	fmt.Fprintf(stdout, "Created the client %s (the secret is shown once, keep it safe):\n  client_id:     %s\n  client_secret: %s\n", *name, id, secret)
	if grantErr != nil {
		return fmt.Errorf("%s: the client %s was made, but granting it %s failed: %w; grant them with POST /api/v2/client-grants",
			c.name, id, strings.Join(scopes, " "), grantErr)
	}
	if len(scopes) > 0 {
		fmt.Fprintf(stdout, "  audience:      %s\n  scope:         %s\n", audience, strings.Join(scopes, " "))
	}
	return nil
}

// repeated is a flag that may be given more than once; each value is kept.
type repeated []string

func (r *repeated) String() string { return strings.Join(*r, " ") }

func (r *repeated) Set(s string) error { *r = append(*r, s); return nil }

// trimmed returns the values without surrounding space, dropping empty ones.
func (r repeated) trimmed() []string {
	var out []string
	for _, v := range r {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
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
