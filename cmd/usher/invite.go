package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// inviteOutcome is what became of one email.
type inviteOutcome int

const (
	invited        inviteOutcome = iota
	alreadyInvited               // a run before this one invited them (resumed)
	hasAccount                   // the email has an account already
	inviteFailed
)

// inviter invites one email; key makes a repeated run return the earlier invitation.
type inviter func(ctx context.Context, email, key string) (inviteOutcome, error)

var inviteCommand = command{name: "invite",
	usage: "invite [--db DSN | --url URL --client-id ID --client-secret SECRET] [--result-url URL] [--ttl DURATION] EMAIL... (or - to read emails from standard input)",
	about: `Invites people: for each email, an account without a password, a link to
choose one, and the invitation mail. With --url it talks to a running server;
with --db it writes to the database and a running server delivers the mail
(give --public-url so that the links point at it). Each email's invitation is
keyed by the email, so running the same command again after a crash or Ctrl-C
invites nobody twice. It ends with a summary: invited, already invited,
skipped (they have an account), failed.`}

func invite(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := inviteCommand
	fs := c.flags()
	where := bindTarget(fs, getenv)
	resultURL := fs.String("result-url", "", "where people land after setting their password")
	ttl := fs.Duration("ttl", 0, "how long the links live (default: the reset_email template's link lifetime, 5 days unless changed), e.g. 72h")
	if err := c.parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	emails, err := readEmails(fs.Args(), stdin)
	if err != nil {
		return err
	}
	if len(emails) == 0 {
		return c.usageErr("name at least one email")
	}
	req := identity.InvitationRequest{ResultURL: *resultURL, TTLSec: int(ttl.Seconds())}
	remote, err := where.remote(c, fs)
	if err != nil {
		return err
	}
	where.warnNoPublicURL(remote, stderr)
	var inv inviter
	if remote {
		inv, err = remoteInviter(ctx, where, req)
	} else {
		var closeDB func()
		inv, closeDB, err = localInviter(ctx, where, req)
		if closeDB != nil {
			defer closeDB()
		}
	}
	if err != nil {
		return err
	}
	return runInvites(ctx, emails, inv, stdout, stderr)
}

// readEmails takes the emails from the arguments, or from stdin for "-".
func readEmails(args []string, stdin io.Reader) ([]string, error) {
	if len(args) != 1 || args[0] != "-" {
		return args, nil
	}
	var emails []string
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			emails = append(emails, line)
		}
	}
	return emails, sc.Err()
}

// runInvites invites each email with a progress bar on a terminal, and ends
// with a summary. Each email's idempotency key is derived from it, so a run
// stopped half way and started again invites nobody twice.
func runInvites(ctx context.Context, emails []string, inv inviter, stdout, stderr io.Writer) error {
	var bar *progressbar.ProgressBar
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions(len(emails), progressbar.OptionSetWriter(f), progressbar.OptionSetDescription("inviting"),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	counts := map[inviteOutcome]int{}
	for _, email := range emails {
		if ctx.Err() != nil {
			break
		}
		key := "usher-invite:" + strings.ToLower(strings.TrimSpace(email))
		outcome, err := inv(ctx, email, key)
		counts[outcome]++
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", email, err)
		}
		if bar != nil {
			bar.Add(1)
		}
	}
	fmt.Fprintf(stdout, "invited %d, already invited %d, skipped %d (already have an account), failed %d\n",
		counts[invited], counts[alreadyInvited], counts[hasAccount], counts[inviteFailed])
	if ctx.Err() != nil {
		return fmt.Errorf("invite: stopped before the end; run the same command again to go on")
	}
	if counts[inviteFailed] > 0 {
		return fmt.Errorf("invite: %d failed", counts[inviteFailed])
	}
	return nil
}

// localInviter invites through the database directly; the mail waits in the
// outbox for a running `usher serve` to deliver it.
func localInviter(ctx context.Context, where *target, req identity.InvitationRequest) (inviter, func(), error) {
	svc, closeDB, err := where.open(ctx, "invite")
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, email, key string) (inviteOutcome, error) {
		r := req
		r.Email = email
		_, created, err := svc.ids.CreateInvitation(ctx, r, key)
		var de *errs.Error
		switch {
		case errors.As(err, &de) && de.Code == "user_exists":
			return hasAccount, nil
		case err != nil:
			return inviteFailed, err
		case !created:
			return alreadyInvited, nil
		}
		return invited, nil
	}, closeDB, nil
}

// remoteInviter invites through a running server's API.
func remoteInviter(ctx context.Context, where *target, req identity.InvitationRequest) (inviter, error) {
	api, err := where.dial(ctx, "invite")
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, email, key string) (inviteOutcome, error) {
		r := req
		r.Email = email
		body, _ := json.Marshal(r)
		status, err := api.do(ctx, "POST", "/usher/v1/invitations", bytes.NewReader(body),
			http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {key}}, nil)
		switch status {
		case http.StatusCreated:
			return invited, nil
		case http.StatusOK:
			return alreadyInvited, nil
		case http.StatusConflict:
			return hasAccount, nil
		}
		return inviteFailed, err
	}, nil
}
