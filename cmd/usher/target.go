package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/config"
	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/store"
)

// target is where a command works: straight on a database (--db) or
// through a running server's Management API (--url with client credentials).
type target struct {
	dsn, base, clientID, clientSecret, publicURL, mailFrom *string
}

// bindTarget declares the TARGET flags of CONTRACT.md on fs.
func bindTarget(fs *flag.FlagSet, getenv func(string) string) *target {
	return &target{
		dsn:          fs.String("db", getenv("USHER_DB"), "work on this database directly (USHER_DB)"),
		base:         fs.String("url", getenv("USHER_URL"), "or talk to the server at this URL (USHER_URL)"),
		clientID:     fs.String("client-id", getenv("USHER_CLIENT_ID"), "Management API client id, with --url (USHER_CLIENT_ID)"),
		clientSecret: fs.String("client-secret", getenv("USHER_CLIENT_SECRET"), "and its secret (USHER_CLIENT_SECRET)"),
		publicURL:    fs.String("public-url", getenv("USHER_PUBLIC_URL"), "with --db: the server's public URL, which links start with (USHER_PUBLIC_URL)"),
		mailFrom:     fs.String("mail-from", getenv("USHER_MAIL_FROM"), "with --db: default From (USHER_MAIL_FROM)"),
	}
}

// remote tells whether the command talks to a server. A flag wins over
// the other target's environment variable; naming both on the command line,
// or both in the environment, naming neither, or leaving out the
// credentials are usage errors.
func (t *target) remote(c command, fs *flag.FlagSet) (bool, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *t.dsn != "" && *t.base != "" {
		switch {
		case set["db"] && set["url"]:
			return false, c.usageErr("--db and --url both name a target: work on the database (--db) or talk to a server (--url), not both")
		case set["db"]:
			*t.base = ""
		case set["url"]:
			*t.dsn = ""
		default:
			return false, c.usageErr("USHER_DB and USHER_URL are both set: say which to use with --db DSN or --url URL")
		}
	}
	switch {
	case *t.base != "":
		if *t.clientID == "" || *t.clientSecret == "" {
			return false, c.usageErr("--url needs --client-id and --client-secret (or USHER_CLIENT_ID and USHER_CLIENT_SECRET)")
		}
		return true, nil
	case *t.dsn != "":
		return false, nil
	}
	return false, c.usageErr("say where: --db DSN (the database) or --url URL (a running server)")
}

// open opens the database of --db, which a server must have migrated, and
// wires the domain over it; mail waits in the outbox for a server to send.
func (t *target) open(ctx context.Context, cmd string) (*services, func(), error) {
	db, err := store.Open(ctx, *t.dsn)
	if err != nil {
		return nil, nil, err
	}
	if ok, err := db.Migrated(ctx); err != nil || !ok {
		db.Close()
		return nil, nil, fmt.Errorf("%s: the database at %s is not migrated; run usher migrate or usher serve first", cmd, store.Redact(*t.dsn))
	}
	// No secret key: these commands never read a secret, and the email
	// provider's From address, which mail needs, is not one.
	mailFrom := *t.mailFrom
	if mailFrom == "" {
		mailFrom = config.DefaultMailFrom(t.publicBase())
	}
	svc := newServices(db, nil, time.Now, t.publicBase(), mailFrom, nil, nil, nil, actions.Options{}, serviceHooks{})
	// usher migrate makes the tables; the tenant (its settings, its
	// connection) is made by the first start of the server.
	if _, err := svc.ids.TenantSettings(ctx); err != nil {
		db.Close()
		if errors.Is(err, errs.ErrNotFound) {
			return nil, nil, fmt.Errorf("%s: the database at %s has no tenant yet; start usher serve on it once first", cmd, store.Redact(*t.dsn))
		}
		return nil, nil, err
	}
	return svc, func() { db.Close() }, nil
}

// defaultPublicURL is where links point when working on the database
// without --public-url: the server's default address.
const defaultPublicURL = "http://127.0.0.1:8080"

// publicBase is the public URL links start with when working on the database.
func (t *target) publicBase() string {
	if *t.publicURL == "" {
		return defaultPublicURL
	}
	return strings.TrimSuffix(*t.publicURL, "/")
}

// warnNoPublicURL says, on a command working on the database that makes
// links, that they point at the default address for want of --public-url.
func (t *target) warnNoPublicURL(remote bool, stderr io.Writer) {
	if !remote && *t.publicURL == "" {
		fmt.Fprintf(stderr, "warning: no --public-url (or USHER_PUBLIC_URL): links point at %s; give the server's public URL if it is elsewhere\n", defaultPublicURL)
	}
}

// apiClient calls a running server's Management API with a token it got
// through the client-credentials grant.
type apiClient struct {
	base, token string
	http        *http.Client
}

// dial gets a Management API token from the server of --url.
func (t *target) dial(ctx context.Context, cmd string) (*apiClient, error) {
	base := strings.TrimSuffix(*t.base, "/")
	hc := &http.Client{Timeout: 5 * time.Minute}
	resp, err := hc.PostForm(base+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {*t.clientID},
		"client_secret": {*t.clientSecret}, "audience": {base + "/api/v2/"}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Description string `json:"error_description"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: no token from %s: %s", cmd, base, tok.Description)
	}
	return &apiClient{base: base, token: tok.AccessToken, http: hc}, nil
}

// send sends a request with the token.
func (c *apiClient) send(ctx context.Context, method, path string, body io.Reader, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	return c.http.Do(req)
}

// do sends a request and decodes a JSON answer into out (when given and
// the status is a success); a status of 300 or more is an error that
// carries the server's message.
func (c *apiClient) do(ctx context.Context, method, path string, body io.Reader, header http.Header, out any) (int, error) {
	resp, err := c.send(ctx, method, path, body, header)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct{ Message string }
		json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, fmt.Errorf("%d %s", resp.StatusCode, e.Message)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// call sends body as JSON (nil for none) and decodes whatever JSON comes
// back into out (when given), whatever the status, which it returns.
func (c *apiClient) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	header := http.Header{}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd, header["Content-Type"] = bytes.NewReader(b), []string{"application/json"}
	}
	resp, err := c.send(ctx, method, path, rd, header)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode, nil
}
