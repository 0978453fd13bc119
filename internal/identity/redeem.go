package identity

import (
	"context"
	"errors"

	"github.com/usherid/usher/internal/errs"
)

// TicketView is what the hosted page shows for a link, without using it.
type TicketView struct {
	Ticket Ticket
	State  TicketState
	User   User
	Policy PasswordPolicy
	// Invite is true when the link invites someone rather than resets a password.
	Invite bool
}

// InspectTicket looks a link up without changing anything: opening a link
// (or a mail scanner fetching it) never uses it.
func (s *Service) InspectTicket(ctx context.Context, token string) (TicketView, error) {
	t, err := s.store.Ticket(ctx, TicketID(token))
	if errors.Is(err, errs.ErrNotFound) {
		return TicketView{State: TicketUnknown}, nil
	} else if err != nil {
		return TicketView{}, err
	}
	v := TicketView{Ticket: t, State: t.State(s.now())}
	v.User, err = s.store.User(ctx, t.UserID)
	if errors.Is(err, errs.ErrNotFound) {
		return TicketView{State: TicketUnknown}, nil
	} else if err != nil {
		return TicketView{}, err
	}
	conn, err := s.store.Connection(ctx, v.User.ConnectionID)
	if err != nil {
		return TicketView{}, err
	}
	v.Policy = conn.PasswordPolicy()
	v.Invite = t.Purpose == PurposeInvite || (t.Purpose == "" && purposeOf(v.User) == PurposeInvite)
	return v, nil
}

// Redeemed is what a used link leads to.
type Redeemed struct {
	User         User
	ResultURL    string
	IncludeEmail bool
	Invite       bool
}

// ticketError is the domain error for a link that cannot be used.
func ticketError(state TicketState) error {
	switch state {
	case TicketExpired:
		return errs.Invalid("expired_ticket", "This link has expired.")
	case TicketUsed:
		return errs.Invalid("used_ticket", "This link was already used.")
	case TicketRevoked:
		return errs.Invalid("revoked_ticket", "This link was replaced by a newer one.")
	}
	return errs.Invalid("invalid_ticket", "This link is not valid.")
}

// SetPasswordWithTicket uses a password-change link: it checks the password
// against the connection's policy, sets it, marks the email verified (the
// person proved they read the mailbox), uses the link, revokes the user's
// other open links, ends every login made with the old password and
// accepts the invitation the link belongs to, all at once.
func (s *Service) SetPasswordWithTicket(ctx context.Context, token, password string, who Requester) (Redeemed, error) {
	v, err := s.InspectTicket(ctx, token)
	if err != nil {
		return Redeemed{}, err
	}
	now := s.now().UTC()
	fail := func(err error) (Redeemed, error) {
		e := LogEvent{Type: "fcp", Description: err.Error(), UserID: v.User.ID, UserName: v.User.Email, Connection: v.User.Connection, IP: who.IP, UserAgent: who.UserAgent}
		if lerr := s.log(ctx, s.store, e, now); lerr != nil {
			return Redeemed{}, errors.Join(err, lerr)
		}
		return Redeemed{}, err
	}
	if v.State != TicketValid || v.Ticket.Kind != TicketPasswordChange {
		return fail(ticketError(v.State))
	}
	if v.User.Blocked {
		return fail(errs.Invalid("user_blocked", "This account is blocked."))
	}
	if err := v.Policy.Check(password); err != nil {
		return Redeemed{}, err
	}
	hash, err := s.passwords.Hash(ctx, password)
	if err != nil {
		return Redeemed{}, err
	}
	var out Redeemed
	err = s.store.Atomic(ctx, func(st Store) error {
		if err := st.UseTicket(ctx, v.Ticket.ID, now); errors.Is(err, errs.ErrNotFound) {
			return ticketError(TicketUsed) // someone else used it a moment ago
		} else if err != nil {
			return err
		}
		u, err := st.User(ctx, v.User.ID)
		if err != nil {
			return err
		}
		u.PasswordHash, u.LastPasswordReset, u.EmailVerified, u.UpdatedAt = hash, now, true, now
		inv, err := st.AcceptInvitation(ctx, v.Ticket.ID, now)
		switch {
		case err == nil && inv.Source == InvitationByUsher && u.NeedsInvitation():
			// Usher raised the flag with its invitation and lowers it on
			// acceptance, as Auth0's recipe Action does at the first login:
			// the person's next "forgot password" is then a reset.
			u.AppMetadata = mergeMetadata(u.AppMetadata, map[string]any{"needsInvitation": false})
		case err != nil && !errors.Is(err, errs.ErrNotFound):
			return err
		}
		if err := st.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := st.RevokeTickets(ctx, u.ID, "", now); err != nil {
			return err
		}
		// Whoever knew the old password is logged out with it, as in Auth0.
		if err := st.RevokeLogins(ctx, u.ID); err != nil {
			return err
		}
		// A new password lifts brute-force blocks, as Auth0's unblock mail does.
		if err := st.ClearLoginFailures(ctx, u.ID, ""); err != nil {
			return err
		}
		out = Redeemed{User: u, ResultURL: v.Ticket.ResultURL, IncludeEmail: v.Ticket.IncludeEmail, Invite: v.Invite}
		return s.log(ctx, st, LogEvent{Type: "scp", Description: "Password changed through a link", UserID: u.ID, UserName: u.Email,
			Connection: u.Connection, ClientID: v.Ticket.ClientID, IP: who.IP, UserAgent: who.UserAgent}, now)
	})
	if errs.KindOf(err) == errs.KindInvalid {
		return fail(err)
	}
	if err == nil {
		s.afterPasswordChange(ctx, out.User, who)
	}
	return out, err
}

// afterPasswordChange runs the post-change-password Actions. The password is
// changed already, so what they say is only logged.
func (s *Service) afterPasswordChange(ctx context.Context, u User, who Requester) {
	_, err := s.trigger(ctx, "post-change-password", map[string]any{
		"user":       map[string]any{"user_id": u.ID, "email": u.Email, "email_verified": u.EmailVerified, "app_metadata": u.AppMetadata, "user_metadata": u.UserMetadata},
		"connection": map[string]any{"name": u.Connection, "strategy": "auth0"},
		"request":    map[string]any{"ip": who.IP, "user_agent": who.UserAgent},
	})
	if err != nil {
		s.log(ctx, s.store, LogEvent{Type: "w", Description: "post-change-password action failed: " + err.Error(), UserID: u.ID, UserName: u.Email, Connection: u.Connection}, s.now().UTC())
	}
}

// VerifyEmailWithTicket uses an email-verification link.
func (s *Service) VerifyEmailWithTicket(ctx context.Context, token string, who Requester) (Redeemed, error) {
	v, err := s.InspectTicket(ctx, token)
	if err != nil {
		return Redeemed{}, err
	}
	now := s.now().UTC()
	if v.State != TicketValid || v.Ticket.Kind != TicketEmailVerification {
		return Redeemed{}, ticketError(v.State)
	}
	var out Redeemed
	err = s.store.Atomic(ctx, func(st Store) error {
		if err := st.UseTicket(ctx, v.Ticket.ID, now); errors.Is(err, errs.ErrNotFound) {
			return ticketError(TicketUsed)
		} else if err != nil {
			return err
		}
		u, err := st.User(ctx, v.User.ID)
		if err != nil {
			return err
		}
		u.EmailVerified, u.UpdatedAt = true, now
		if err := st.UpdateUser(ctx, u); err != nil {
			return err
		}
		out = Redeemed{User: u, ResultURL: v.Ticket.ResultURL, IncludeEmail: v.Ticket.IncludeEmail}
		return s.log(ctx, st, LogEvent{Type: "sv", Description: "Email verified", UserID: u.ID, UserName: u.Email,
			Connection: u.Connection, IP: who.IP, UserAgent: who.UserAgent}, now)
	})
	return out, err
}

// Logs returns tenant log events.
func (s *Service) Logs(ctx context.Context, q LogQuery) ([]LogEvent, int, error) {
	return s.store.Logs(ctx, q)
}
