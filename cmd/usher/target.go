package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/usherid/usher/internal/store"
)

// target is where a command works: a database directly (--db) or a running
// server's API (--url with a Management API client).
type target struct {
	dsn, base, clientID, clientSecret, publicURL, mailFrom *string
}

// bindTarget defines the TARGET flags on fs, with their environment variables as defaults.
func bindTarget(fs *flag.FlagSet, getenv func(string) string) target {
	return target{
		dsn:          fs.String("db", getenv("USHER_DB"), "work on this database directly (USHER_DB)"),
		base:         fs.String("url", getenv("USHER_URL"), "or talk to the server at this URL (USHER_URL)"),
		clientID:     fs.String("client-id", getenv("USHER_CLIENT_ID"), "Management API client id, with --url (USHER_CLIENT_ID)"),
		clientSecret: fs.String("client-secret", getenv("USHER_CLIENT_SECRET"), "and its secret (USHER_CLIENT_SECRET)"),
		publicURL:    fs.String("public-url", getenv("USHER_PUBLIC_URL"), "with --db: the server's public URL, which links start with (USHER_PUBLIC_URL)"),
		mailFrom:     fs.String("mail-from", getenv("USHER_MAIL_FROM"), "with --db: default From (USHER_MAIL_FROM)"),
	}
}

// remote reports whether the command talks to a server rather than a database.
func (t target) remote() bool { return *t.base != "" }

// check reports a target that is missing or incomplete as a usage error.
func (t target) check(cmd string) error {
	switch {
	case t.remote() && (*t.clientID == "" || *t.clientSecret == ""):
		return usageError{cmd + ": --url needs --client-id and --client-secret (or USHER_CLIENT_ID and USHER_CLIENT_SECRET)"}
	case !t.remote() && *t.dsn == "":
		return usageError{cmd + ": say where: --db DSN or --url URL"}
	}
	return nil
}

// publicBase is the public URL links start with when working on the database.
func (t target) publicBase() string {
	if *t.publicURL == "" {
		return "http://127.0.0.1:8080"
	}
	return strings.TrimSuffix(*t.publicURL, "/")
}

// open opens and wires the database of a --db target, which must be migrated.
func (t target) open(ctx context.Context, cmd string) (*services, func(), error) {
	db, err := store.Open(ctx, *t.dsn)
	if err != nil {
		return nil, nil, err
	}
	if ok, err := db.Migrated(ctx); err != nil || !ok {
		db.Close()
		return nil, nil, fmt.Errorf("%s: the database at %s is not migrated; run usher migrate or usher serve first", cmd, store.Redact(*t.dsn))
	}
	publicURL, mailFrom := t.publicBase(), *t.mailFrom
	if mailFrom == "" {
		mailFrom = "Usher <no-reply@" + strings.Split(strings.TrimPrefix(strings.TrimPrefix(publicURL, "https://"), "http://"), ":")[0] + ">"
	}
	return newServices(db, publicURL, mailFrom, nil, nil), func() { db.Close() }, nil
}

// apiClient talks to a running server's Management API with a token.
type apiClient struct {
	hc    *http.Client
	base  string
	token string
}

// connect gets a Management API token for a --url target.
func (t target) connect(ctx context.Context, cmd string) (apiClient, error) {
	base := strings.TrimSuffix(*t.base, "/")
	hc := &http.Client{Timeout: 30 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"},
		"client_id": {*t.clientID}, "client_secret": {*t.clientSecret}, "audience": {base + "/api/v2/"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return apiClient{}, fmt.Errorf("%s: %w", cmd, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		Description string `json:"error_description"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiClient{}, fmt.Errorf("%s: no token from %s: %s", cmd, base, tok.Description)
	}
	return apiClient{hc: hc, base: base, token: tok.AccessToken}, nil
}

// call sends a JSON request (body nil for none) and decodes the JSON answer
// into out when out is not nil; it returns the status.
func (a apiClient) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd *strings.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode, nil
}
