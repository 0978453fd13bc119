package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/usherid/usher/internal/identity"
)

var adminInviteCommand = command{name: "admin invite",
	usage: "admin invite [--db DSN --public-url URL | --url URL --client-id ID --client-secret SECRET] EMAIL",
	about: `Makes EMAIL a dashboard administrator: invites them like anyone else and
grants them usher:admin, which lets them into the dashboard. Someone invited
before gets a new link; someone with an account keeps it and gets the
permission. The acceptance link is printed (the first administrator is usually
the person at this terminal, often before any SMTP server is set up) and also
mailed when one is. With --db the server's public URL must be given
(--public-url or USHER_PUBLIC_URL), since the link starts with it.`}

// admin is `usher admin SUBCOMMAND`.
func admin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := adminInviteCommand
	if len(args) == 0 || args[0] != "invite" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
			c.help(stdout, adminInviteFlags(c, getenv), getenv)
			return nil
		}
		return usageError{"admin: the subcommand is invite (see usher admin invite --help)"}
	}
	fs := c.flags()
	tg := bindTarget(fs, getenv)
	if err := c.parse(fs, args[1:], getenv, stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return c.usageErr("name one email")
	}
	remote, err := tg.remote(c, fs)
	if err != nil {
		return err
	}
	if !remote && *tg.publicURL == "" {
		return c.usageErr("with --db, say where the server is reached with --public-url URL (or USHER_PUBLIC_URL): the acceptance link starts with it")
	}
	email := fs.Arg(0)
	var res adminResult
	if remote {
		res, err = inviteAdminRemote(ctx, tg, email)
	} else {
		res, err = inviteAdminLocal(ctx, tg, email)
	}
	if err != nil {
		return fmt.Errorf("admin invite %s: %w", email, err)
	}
	if res.hadAccount {
		fmt.Fprintf(stdout, "%s has an account and is now an administrator: they sign in at %s/dashboard/\n", res.email, res.base)
		return nil
	}
	fmt.Fprintf(stdout, "Invited %s as an administrator. The acceptance link (shown once):\n  %s\nOnce they have chosen a password they sign in at %s/dashboard/\n", res.email, res.link, res.base)
	return nil
}

// adminInviteFlags is the flag set of admin invite, for its help.
func adminInviteFlags(c command, getenv func(string) string) *flag.FlagSet {
	fs := c.flags()
	bindTarget(fs, getenv)
	return fs
}

// adminResult is what became of an administrator's invitation.
type adminResult struct {
	email, link, base string
	hadAccount        bool
}

func inviteAdminLocal(ctx context.Context, tg *target, email string) (adminResult, error) {
	svc, closeDB, err := tg.open(ctx, "admin invite")
	if err != nil {
		return adminResult{}, err
	}
	defer closeDB()
	ai, err := svc.ids.InviteAdministrator(ctx, email)
	if err != nil {
		return adminResult{}, err
	}
	return adminResult{email: ai.Invitation.Email, link: ai.Link, base: tg.publicBase(), hadAccount: ai.HadAccount}, nil
}

// inviteAdminRemote does what InviteAdministrator does, through the API:
// invite (or, for someone invited before, send a new link), then grant.
func inviteAdminRemote(ctx context.Context, tg *target, email string) (adminResult, error) {
	api, err := tg.dial(ctx, "admin invite")
	if err != nil {
		return adminResult{}, err
	}
	res := adminResult{email: email, base: api.base}
	type invitationJSON = struct {
		ID            string `json:"id"`
		UserID        string `json:"user_id"`
		Email         string `json:"email"`
		Status        string `json:"status"`
		InvitationURL string `json:"invitation_url"`
		Message       string `json:"message"`
	}
	var inv, created invitationJSON
	status, err := api.call(ctx, "POST", "/usher/v1/invitations", map[string]any{"email": email}, &created)
	if err != nil {
		return res, err
	}
	switch status {
	case http.StatusCreated:
		inv.UserID, inv.Email, inv.InvitationURL = created.UserID, created.Email, created.InvitationURL
	case http.StatusConflict:
		var users []struct {
			UserID string         `json:"user_id"`
			Email  string         `json:"email"`
			Meta   map[string]any `json:"app_metadata"`
		}
		if status, err := api.call(ctx, "GET", "/api/v2/users-by-email?email="+url.QueryEscape(email), nil, &users); err != nil || status != http.StatusOK || len(users) == 0 {
			return res, fmt.Errorf("cannot find the account of %s (%d): %v", email, status, err)
		}
		inv.UserID, inv.Email = users[0].UserID, users[0].Email
		var list struct {
			Invitations []invitationJSON `json:"invitations"`
		}
		if _, err := api.call(ctx, "GET", "/usher/v1/invitations?per_page=1&email="+url.QueryEscape(inv.Email), nil, &list); err != nil {
			return res, err
		}
		needs, _ := users[0].Meta["needsInvitation"].(bool)
		if len(list.Invitations) > 0 && needs && (list.Invitations[0].Status == identity.InvitationPending || list.Invitations[0].Status == identity.InvitationExpired) {
			var resent invitationJSON
			if status, err := api.call(ctx, "POST", "/usher/v1/invitations/"+url.PathEscape(list.Invitations[0].ID)+"/resend", nil, &resent); err != nil || status != http.StatusOK {
				return res, fmt.Errorf("resend the invitation (%d): %v %s", status, err, resent.Message)
			}
			inv.InvitationURL = resent.InvitationURL
		} else {
			res.hadAccount = true
		}
	default:
		return res, fmt.Errorf("%d %s", status, created.Message)
	}
	res.email, res.link = inv.Email, inv.InvitationURL
	var e struct{ Message string }
	grant := map[string]any{"permissions": []identity.Permission{{ResourceServerIdentifier: api.base + "/api/v2/", PermissionName: identity.AdminPermission}}}
	if status, err := api.call(ctx, "POST", "/api/v2/users/"+url.PathEscape(inv.UserID)+"/permissions", grant, &e); err != nil || status != http.StatusCreated {
		return res, fmt.Errorf("grant %s (%d): %v %s", identity.AdminPermission, status, err, e.Message)
	}
	return res, nil
}
