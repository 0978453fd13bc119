package identity

import (
	"context"
	"errors"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/outbox"
)

// DefaultLinkLifetime is how long a link lives when neither the request nor
// its template says.
const DefaultLinkLifetime = defaultTicketLifetime

// LinkLifetime is how long an invitation or password-reset link lives when
// the request does not say: the reset_email template's link lifetime, as
// that template mails both, else Auth0's five days. One setting, so that
// the dashboard, the mails and the links agree.
func (s *Service) LinkLifetime(ctx context.Context) (time.Duration, error) {
	settings, err := s.composer.Settings(ctx, "reset_email")
	if err != nil {
		return 0, err
	}
	return orDefault(settings.URLLifetime, defaultTicketLifetime), nil
}

// InvitationRequest is the body of POST /usher/v1/invitations.
type InvitationRequest struct {
	Email        string         `json:"email"`
	Name         string         `json:"name"`
	Connection   string         `json:"connection"`
	ClientID     string         `json:"client_id"`
	ResultURL    string         `json:"result_url"`
	TTLSec       int            `json:"ttl_sec"`
	Inviter      *Inviter       `json:"inviter"`
	AppMetadata  map[string]any `json:"app_metadata"`
	UserMetadata map[string]any `json:"user_metadata"`
	// SendEmail false returns the link without mailing it.
	SendEmail *bool `json:"send_invitation_email"`
	// Reinvite invites someone who already has an account.
	Reinvite bool `json:"reinvite"`
}

// Inviter names who invited.
type Inviter struct {
	Name string `json:"name"`
}

// Invited is an invitation and, when it was just made or resent, its link:
// only the link's hash is stored, so the link cannot be shown again.
type Invited struct {
	Invitation Invitation
	Link       string
}

// CreateInvitation invites someone: the user (without a password, with
// app_metadata.needsInvitation so Auth0-style templates and Actions keep
// working), the link and the mail are written in one transaction. With an
// idempotency key, a retried request returns the invitation made the first
// time (without its link, which only the first answer carries).
func (s *Service) CreateInvitation(ctx context.Context, r InvitationRequest, idempotencyKey string) (Invited, bool, error) {
	if idempotencyKey != "" {
		if inv, err := s.store.InvitationByIdempotencyKey(ctx, idempotencyKey); err == nil {
			return Invited{Invitation: inv}, false, nil
		} else if !errors.Is(err, errs.ErrNotFound) {
			return Invited{}, false, err
		}
	}
	if r.Connection == "" {
		tenant, err := s.tenant(ctx)
		if err != nil {
			return Invited{}, false, err
		}
		r.Connection = tenant.DefaultDirectory
	}
	meta := map[string]any{}
	for k, v := range r.AppMetadata {
		meta[k] = v
	}
	meta["needsInvitation"] = true
	u, conn, err := s.PrepareUser(ctx, NewUser{Connection: r.Connection, Email: r.Email, Name: r.Name, AppMetadata: meta, UserMetadata: r.UserMetadata})
	if err != nil {
		return Invited{}, false, err
	}
	// Without reinvite, no read looks for an account first: the email's
	// unique index refuses the new user, and that refusal is the 409.
	var existing User
	if r.Reinvite {
		existing, err = s.userInConnection(ctx, u.Email, conn.ID)
		switch {
		case err == nil:
			existing.AppMetadata = mergeMetadata(existing.AppMetadata, meta)
			if err := CheckMetadata(existing.AppMetadata, existing.UserMetadata); err != nil {
				return Invited{}, false, err
			}
			u = existing
		case !errors.Is(err, errNoUser):
			return Invited{}, false, err
		}
	}
	if err := checkResultURL(r.ResultURL); err != nil {
		return Invited{}, false, err
	}
	client, err := s.optionalClient(ctx, r.ClientID)
	if err != nil {
		return Invited{}, false, errs.Invalid("invalid_body", "The client %q does not exist.", r.ClientID)
	}
	lifetime, err := s.LinkLifetime(ctx)
	if err != nil {
		return Invited{}, false, err
	}
	ttl, err := ttlOf(r.TTLSec, lifetime)
	if err != nil {
		return Invited{}, false, err
	}
	now := s.now().UTC()
	inv := Invitation{ID: "inv_" + objectID(), UserID: u.ID, Email: u.Email, ConnectionID: conn.ID, ClientID: r.ClientID,
		ResultURL: r.ResultURL, TTL: ttl, IdempotencyKey: idempotencyKey, Source: InvitationByUsher, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if r.Inviter != nil {
		inv.InviterName = r.Inviter.Name
	}
	send := r.SendEmail == nil || *r.SendEmail
	token, ticketID, m, err := s.invitationLink(ctx, inv, u, client, conn.Name, send, now)
	if err != nil {
		return Invited{}, false, err
	}
	inv.TicketID = ticketID
	err = s.store.Atomic(ctx, func(st Store) error {
		if existing.ID == "" {
			if err := st.CreateUser(ctx, u); errors.Is(err, errs.ErrDuplicate) {
				return errUserExists
			} else if err != nil {
				return err
			}
		} else {
			// Merged again into the user as it is now, held: a change
			// that landed since the first read is kept.
			cur, err := st.User(ctx, existing.ID)
			if err != nil {
				return err
			}
			cur.AppMetadata = mergeMetadata(cur.AppMetadata, meta)
			if err := CheckMetadata(cur.AppMetadata, cur.UserMetadata); err != nil {
				return err
			}
			if err := st.UpdateUser(ctx, cur); err != nil {
				return err
			}
		}
		if err := st.CreateInvitation(ctx, inv); errors.Is(err, errs.ErrDuplicate) {
			return errs.Conflict("idempotency_conflict", "An invitation with this Idempotency-Key is being created.")
		} else if err != nil {
			return err
		}
		return s.storeInvitationLink(ctx, st, inv, u, ticketID, m, "created", now)
	})
	if err != nil {
		return Invited{}, false, err
	}
	inv.Events = []InvitationEvent{{At: now, Type: "created"}}
	if m != nil {
		inv.Events = append(inv.Events, InvitationEvent{At: now, Type: "sent", MailID: m.ID, MailStatus: outbox.Queued})
		s.mailQueued()
	}
	return Invited{Invitation: inv, Link: s.ticketLink(TicketPasswordChange, token)}, true, nil
}

// invitationLink makes a new link for inv and, when send, renders its mail.
func (s *Service) invitationLink(ctx context.Context, inv Invitation, u User, client *Client, connection string, send bool, now time.Time) (token, ticketID string, m *outbox.Mail, err error) {
	token, ticketID = newTicketToken()
	if !send {
		return token, ticketID, nil, nil
	}
	link := linkMail{url: s.ticketLink(TicketPasswordChange, token), expires: inv.ExpiresAt, inviter: inv.InviterName}
	mail, err := s.compose(ctx, "reset_email", u, link, client, connection, now)
	if err != nil {
		return "", "", nil, err
	}
	return token, ticketID, &mail, nil
}

// storeInvitationLink writes an invitation's new link (revoking the old
// ones), its mail and its history, through st.
func (s *Service) storeInvitationLink(ctx context.Context, st invitationLinkStore, inv Invitation, u User, ticketID string, m *outbox.Mail, event string, now time.Time) error {
	if err := s.newTicket(ctx, st, u, inv.linkSpec(now), ticketID, now); err != nil {
		return err
	}
	events := []InvitationEvent{{At: now, Type: event}}
	if m != nil {
		if err := st.EnqueueMail(ctx, *m); err != nil {
			return err
		}
		events = append(events, InvitationEvent{At: now, Type: "sent", MailID: m.ID})
	}
	return st.AddInvitationEvents(ctx, inv.ID, events...)
}

// InviteInBulk invites u as an import does: it marks u as needing an
// invitation (app_metadata.needsInvitation) and adds to b the invitation
// into conn, its link and, unless opts.DryRun, its rendered mail, for the
// caller to write together with the batch. It returns u as marked.
func (s *Service) InviteInBulk(ctx context.Context, b *BulkInsert, u User, conn Connection, opts ImportOptions, now time.Time) (User, error) {
	u.AppMetadata = mergeMetadata(u.AppMetadata, map[string]any{"needsInvitation": true})
	lifetime, err := s.LinkLifetime(ctx)
	if err != nil {
		return User{}, err
	}
	ttl, _ := ttlOf(opts.TTLSec, lifetime)
	inv := Invitation{ID: "inv_" + objectID(), UserID: u.ID, Email: u.Email, ConnectionID: conn.ID,
		ResultURL: opts.ResultURL, TTL: ttl, Source: InvitationByUsher, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	token, ticketID := newTicketToken()
	inv.TicketID = ticketID
	inv.Events = []InvitationEvent{{At: now, Type: "created"}}
	if !opts.DryRun {
		m, err := s.compose(ctx, "reset_email", u, linkMail{url: s.ticketLink(TicketPasswordChange, token), expires: inv.ExpiresAt}, nil, conn.Name, now)
		if err != nil {
			return User{}, err
		}
		inv.Events = append(inv.Events, InvitationEvent{At: now, Type: "sent", MailID: m.ID})
		b.Mails = append(b.Mails, m)
	}
	b.Invitations = append(b.Invitations, inv)
	b.Tickets = append(b.Tickets, inv.linkSpec(now).ticket(u, ticketID, now))
	return u, nil
}

// linkSpec describes the invitation's link made at now.
func (inv Invitation) linkSpec(now time.Time) ticketSpec {
	return ticketSpec{kind: TicketPasswordChange, clientID: inv.ClientID, resultURL: inv.ResultURL, purpose: PurposeInvite, ttl: inv.ExpiresAt.Sub(now)}
}

// lockedInvitation reads invitation id through st, holding it until the
// transaction ends, and refuses one that was accepted or revoked.
func lockedInvitation(ctx context.Context, st InvitationStore, id string, now time.Time) (Invitation, error) {
	inv, err := st.Invitation(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return inv, errNoInvitation
	} else if err != nil {
		return inv, err
	}
	switch inv.Status(now) {
	case InvitationAccepted:
		return inv, errInvitationAccepted
	case InvitationRevoked:
		return inv, errInvitationRevoked
	}
	return inv, nil
}

var (
	errInvitationAccepted = errs.Conflict("invitation_accepted", "The invitation was accepted already.")
	errInvitationRevoked  = errs.Conflict("invitation_revoked", "The invitation was revoked; create a new one.")
	errNoInvitation       = errs.NotFound("inexistent_invitation", "The invitation does not exist.")
	errUserExists         = errs.Conflict("user_exists", "This email already has an account; send reinvite: true to invite them again.")
)

// Invitation returns an invitation with its history.
func (s *Service) Invitation(ctx context.Context, id string) (Invitation, error) {
	inv, err := s.store.Invitation(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return inv, errNoInvitation
	}
	return inv, err
}

// Invitations returns a page of invitations, newest first.
func (s *Service) Invitations(ctx context.Context, q InvitationQuery) ([]Invitation, int, error) {
	switch q.Status {
	case "", InvitationPending, InvitationAccepted, InvitationExpired, InvitationRevoked:
	default:
		return nil, 0, errs.Invalid("invalid_query_string", "status must be pending, accepted, expired or revoked")
	}
	q.Now = s.now()
	return s.store.Invitations(ctx, q)
}

// ResendInvitation sends a new link, valid for the invitation's lifetime from
// now, also after the old one expired; the old link stops working.
func (s *Service) ResendInvitation(ctx context.Context, id string) (Invited, error) {
	inv, err := s.Invitation(ctx, id)
	if err != nil {
		return Invited{}, err
	}
	now := s.now().UTC()
	switch inv.Status(now) {
	case InvitationAccepted:
		return Invited{}, errInvitationAccepted
	case InvitationRevoked:
		return Invited{}, errInvitationRevoked
	}
	u, err := s.store.User(ctx, inv.UserID)
	if err != nil {
		return Invited{}, err
	}
	client, _ := s.optionalClient(ctx, inv.ClientID)
	inv.ExpiresAt = now.Add(inv.TTL) // the new link's, which its mail tells
	token, ticketID, m, err := s.invitationLink(ctx, inv, u, client, u.Connection, true, now)
	if err != nil {
		return Invited{}, err
	}
	err = s.store.Atomic(ctx, func(st Store) error {
		// Read again, holding it: a revocation or an acceptance that landed
		// since must stand, not be written over with what was read before.
		cur, err := lockedInvitation(ctx, st, id, now)
		if err != nil {
			return err
		}
		cur.TicketID, cur.ExpiresAt = ticketID, inv.ExpiresAt
		if err := st.UpdateInvitation(ctx, cur); err != nil {
			return err
		}
		return s.storeInvitationLink(ctx, st, cur, u, ticketID, m, "resent", now)
	})
	if err != nil {
		return Invited{}, err
	}
	s.mailQueued()
	inv, err = s.store.Invitation(ctx, inv.ID)
	return Invited{Invitation: inv, Link: s.ticketLink(TicketPasswordChange, token)}, err
}

// RevokeInvitation stops an invitation: its link stops working at once.
func (s *Service) RevokeInvitation(ctx context.Context, id string) (Invitation, error) {
	inv, err := s.Invitation(ctx, id)
	if err != nil {
		return inv, err
	}
	now := s.now().UTC()
	if inv.Status(now) == InvitationAccepted {
		return inv, errInvitationAccepted
	}
	if !inv.RevokedAt.IsZero() {
		return inv, nil
	}
	err = s.store.Atomic(ctx, func(st Store) error {
		cur, err := lockedInvitation(ctx, st, id, now)
		if errors.Is(err, errInvitationRevoked) {
			return nil // revoked a moment ago: the same outcome
		} else if err != nil {
			return err
		}
		cur.RevokedAt = now
		if err := st.UpdateInvitation(ctx, cur); err != nil {
			return err
		}
		if err := st.RevokeTickets(ctx, inv.UserID, TicketPasswordChange, now); err != nil {
			return err
		}
		return st.AddInvitationEvents(ctx, inv.ID, InvitationEvent{At: now, Type: "revoked"})
	})
	if err != nil {
		return inv, err
	}
	return s.store.Invitation(ctx, id)
}

// LatestInvitations returns, by user id, the newest invitation of each of
// the users who have one: what a list of people shows beside each.
func (s *Service) LatestInvitations(ctx context.Context, userIDs []string) (map[string]Invitation, error) {
	return s.store.LatestInvitations(ctx, userIDs)
}
