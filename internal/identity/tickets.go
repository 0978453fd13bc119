package identity

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/outbox"
)

// MailSettings are the parts of an email template that shape its link.
type MailSettings struct {
	Enabled      bool
	URLLifetime  time.Duration
	ResultURL    string
	IncludeEmail bool
}

// defaultTicketLifetime is how long a link lives when neither the request
// nor the template says (Auth0's five days).
const defaultTicketLifetime = 5 * 24 * time.Hour

// maxTicketLifetime bounds ttl_sec.
const maxTicketLifetime = 30 * 24 * time.Hour

// PasswordChangeTicketRequest is the body of POST /api/v2/tickets/password-change.
type PasswordChangeTicketRequest struct {
	UserID                 string `json:"user_id"`
	Email                  string `json:"email"`
	ConnectionID           string `json:"connection_id"`
	ResultURL              string `json:"result_url"`
	TTLSec                 int    `json:"ttl_sec"`
	MarkEmailAsVerified    bool   `json:"mark_email_as_verified"`
	IncludeEmailInRedirect bool   `json:"includeEmailInRedirect"`
	ClientID               string `json:"client_id"`
	OrganizationID         string `json:"organization_id"`
}

// EmailVerificationTicketRequest is the body of POST /api/v2/tickets/email-verification.
type EmailVerificationTicketRequest struct {
	UserID                 string         `json:"user_id"`
	ResultURL              string         `json:"result_url"`
	TTLSec                 int            `json:"ttl_sec"`
	IncludeEmailInRedirect bool           `json:"includeEmailInRedirect"`
	ClientID               string         `json:"client_id"`
	OrganizationID         string         `json:"organization_id"`
	Identity               map[string]any `json:"identity"`
}

// ticketSpec is what a new ticket is made of.
type ticketSpec struct {
	kind, clientID, resultURL, purpose string
	ttl                                time.Duration
	markVerified, includeEmail         bool
}

// ticketLink returns the hosted page a token opens, as the edge that
// serves it spells it.
func (s *Service) ticketLink(kind, token string) string { return s.links.Ticket(kind, token) }

// purposeOf tells an invitation from a reset by what Usher knows of the user.
func purposeOf(u User) string {
	if invited, _ := u.AppMetadata["needsInvitation"].(bool); invited || u.PasswordHash == "" {
		return PurposeInvite
	}
	return PurposeReset
}

// CheckLinkOptions checks what a request says of the links it will make:
// where they lead once used (result_url) and how long they live (ttl_sec,
// 0 for the default).
func CheckLinkOptions(resultURL string, ttlSec int) error {
	if err := checkResultURL(resultURL); err != nil {
		return err
	}
	_, err := ttlOf(ttlSec, defaultTicketLifetime)
	return err
}

func checkResultURL(raw string) error {
	return CheckRedirect("result_url", raw)
}

func ttlOf(sec int, fallback time.Duration) (time.Duration, error) {
	switch {
	case sec < 0 || time.Duration(sec)*time.Second > maxTicketLifetime:
		return 0, errs.Invalid("invalid_body", "Payload validation error: 'ttl_sec must be from 0 to %d' on property ttl_sec.", int(maxTicketLifetime.Seconds()))
	case sec == 0:
		return fallback, nil
	}
	return time.Duration(sec) * time.Second, nil
}

// newTicket stores a ticket for u in st, revoking u's open tickets of the
// same kind first: only the newest link works.
func (s *Service) newTicket(ctx context.Context, st TicketStore, u User, spec ticketSpec, id string, now time.Time) error {
	if err := st.RevokeTickets(ctx, u.ID, spec.kind, now); err != nil {
		return err
	}
	return st.CreateTicket(ctx, spec.ticket(u, id, now))
}

// ticket is the record of the link id made for u at now.
func (spec ticketSpec) ticket(u User, id string, now time.Time) Ticket {
	return Ticket{
		ID: id, Kind: spec.kind, UserID: u.ID, ClientID: spec.clientID, ResultURL: spec.resultURL, Purpose: spec.purpose,
		MarkEmailVerified: spec.markVerified, IncludeEmail: spec.includeEmail, CreatedAt: now, ExpiresAt: now.Add(spec.ttl),
	}
}

// PasswordChangeTicket makes a password-change link for a user and returns
// it without sending anything: the caller sends it.
func (s *Service) PasswordChangeTicket(ctx context.Context, r PasswordChangeTicketRequest) (string, error) {
	u, err := s.ticketUser(ctx, r.UserID, r.Email, r.ConnectionID)
	if err != nil {
		return "", err
	}
	spec := ticketSpec{kind: TicketPasswordChange, clientID: r.ClientID, resultURL: r.ResultURL, purpose: purposeOf(u),
		markVerified: r.MarkEmailAsVerified, includeEmail: r.IncludeEmailInRedirect}
	return s.issueLink(ctx, u, spec, r.TTLSec)
}

// EmailVerificationTicket makes an email-verification link for a user.
func (s *Service) EmailVerificationTicket(ctx context.Context, r EmailVerificationTicketRequest) (string, error) {
	if r.UserID == "" {
		return "", errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: user_id'.")
	}
	u, err := s.User(ctx, r.UserID)
	if err != nil {
		return "", err
	}
	spec := ticketSpec{kind: TicketEmailVerification, clientID: r.ClientID, resultURL: r.ResultURL, includeEmail: r.IncludeEmailInRedirect}
	return s.issueLink(ctx, u, spec, r.TTLSec)
}

// issueLink checks what the Management API asked for, stores the ticket and
// returns its link.
func (s *Service) issueLink(ctx context.Context, u User, spec ticketSpec, ttlSec int) (string, error) {
	if err := checkResultURL(spec.resultURL); err != nil {
		return "", err
	}
	if err := s.checkClient(ctx, spec.clientID); err != nil {
		return "", err
	}
	ttl, err := ttlOf(ttlSec, defaultTicketLifetime)
	if err != nil {
		return "", err
	}
	spec.ttl = ttl
	token, id := newTicketToken()
	now := s.now().UTC()
	err = s.store.Atomic(ctx, func(st Store) error {
		if err := s.newTicket(ctx, st, u, spec, id, now); err != nil {
			return err
		}
		return s.noteInvitation(ctx, st, u, spec.ticket(u, id, now), "")
	})
	if err != nil {
		return "", err
	}
	return s.ticketLink(spec.kind, token), nil
}

// noteInvitation counts a password-change link t sent to someone flagged
// app_metadata.needsInvitation (Auth0's way to invite) among the
// invitations, through st: the link renews the person's open invitation
// (newTicket revoked its old link), or, when they have none, makes one of
// Auth0's recipe, whose acceptance leaves the flag to the tenant's Action.
// mailID is the mail that carries the link, "" when the caller sends it.
func (s *Service) noteInvitation(ctx context.Context, st InvitationStore, u User, t Ticket, mailID string) error {
	if t.Kind != TicketPasswordChange || !u.NeedsInvitation() {
		return nil
	}
	event := "resent"
	inv, err := st.OpenInvitation(ctx, u.ID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		inv = Invitation{ID: "inv_" + objectID(), UserID: u.ID, Email: u.Email, ConnectionID: u.ConnectionID, ClientID: t.ClientID,
			ResultURL: t.ResultURL, TTL: t.ExpiresAt.Sub(t.CreatedAt), TicketID: t.ID, Source: InvitationByPasswordChange,
			CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
		if err := st.CreateInvitation(ctx, inv); err != nil {
			return err
		}
		event = "created"
	case err != nil:
		return err
	default:
		inv.TicketID, inv.ExpiresAt = t.ID, t.ExpiresAt
		if err := st.UpdateInvitation(ctx, inv); err != nil {
			return err
		}
	}
	events := []InvitationEvent{{At: t.CreatedAt, Type: event}}
	if mailID != "" {
		events = append(events, InvitationEvent{At: t.CreatedAt, Type: "sent", MailID: mailID})
	}
	return st.AddInvitationEvents(ctx, inv.ID, events...)
}

func (s *Service) ticketUser(ctx context.Context, userID, email, connectionID string) (User, error) {
	if userID != "" {
		return s.User(ctx, userID)
	}
	if email == "" || connectionID == "" {
		return User{}, errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: user_id (or email and connection_id)'.")
	}
	return s.userInConnection(ctx, email, connectionID)
}

func (s *Service) checkClient(ctx context.Context, clientID string) error {
	if clientID == "" {
		return nil
	}
	if _, err := s.store.Client(ctx, clientID); errors.Is(err, errs.ErrNotFound) {
		return errs.Invalid("invalid_body", "The client %q does not exist.", clientID)
	} else if err != nil {
		return err
	}
	return nil
}

// PasswordChangeRequest is the body of POST /dbconnections/change_password.
type PasswordChangeRequest struct {
	ClientID     string `json:"client_id"`
	Email        string `json:"email"`
	Connection   string `json:"connection"`
	Organization string `json:"organization"`
}

// passwordChangeQueue is how many accepted password-change requests may
// wait for RunPasswordChanges; past it a request is answered ErrBusy,
// whatever its email.
const passwordChangeQueue = 1024

// passwordChangeDelay is how long after its answer a request's work may
// start: long enough for the answer to have left, so that its time does not
// include the mail that only a known email costs.
const passwordChangeDelay = 50 * time.Millisecond

// passwordChange is an accepted request to mail a password-change link.
type passwordChange struct {
	req    PasswordChangeRequest
	conn   Connection
	client *Client
	who    Requester
	due    time.Time // not before, see passwordChangeDelay
}

// RequestPasswordChange accepts a request to mail a password-change link
// (the reset_email template) to the user with that email in that
// connection. It checks only what does not depend on the email and leaves
// the rest to RunPasswordChanges, so that the answer, and its time, is the
// same whether or not the email has an account. When there is no such user
// nothing is sent.
func (s *Service) RequestPasswordChange(ctx context.Context, r PasswordChangeRequest, who Requester) error {
	if r.Email == "" {
		return errs.Invalid("invalid_request", "Missing required parameter: email")
	}
	if r.Connection == "" {
		return errs.Invalid("invalid_request", "Missing required parameter: connection")
	}
	conn, err := s.conns.get(ctx, s.store, r.Connection, s.now())
	if errors.Is(err, errs.ErrNotFound) {
		return errs.Invalid("invalid_request", "The connection does not exist.")
	} else if err != nil {
		return err
	}
	client, err := s.optionalClient(ctx, r.ClientID)
	if err != nil {
		return err
	}
	// Whether or not the email has an account, the same budget, kept in the
	// database so that every instance spends from it: a person's mailbox
	// cannot be flooded by asking many instances.
	key := "change_password:" + strings.ToLower(strings.TrimSpace(r.Email))
	if ok, err := s.store.Allow(ctx, key, s.now(), passwordChangeEvery, passwordChangeBurst); err != nil {
		return err
	} else if !ok {
		return errTooManyChanges
	}
	select {
	case s.changes <- passwordChange{req: r, conn: conn, client: client, who: who, due: time.Now().Add(passwordChangeDelay)}:
		return nil
	default:
		return ErrBusy
	}
}

// A person's email may be asked for a password change passwordChangeBurst
// times at once, then once every passwordChangeEvery.
const (
	passwordChangeBurst = 10
	passwordChangeEvery = time.Minute
)

var errTooManyChanges = errs.Busy("too_many_requests", "Too many requests for this email. Try again in a minute.", passwordChangeEvery)

// RunPasswordChanges sends the password-change links RequestPasswordChange
// accepted, one at a time in the order they came (so that of two requests
// for one user, the later link is the one that works), until ctx ends; it
// then sends what was accepted already and returns. onErr hears of a
// request that failed.
func (s *Service) RunPasswordChanges(ctx context.Context, onErr func(error)) {
	work := context.WithoutCancel(ctx)
	send := func(c passwordChange) {
		if err := s.sendPasswordChange(work, c); err != nil {
			onErr(fmt.Errorf("password-change request: %w", err))
		}
	}
	for {
		select {
		case c := <-s.changes:
			// Work started while the request's answer is still being
			// written would slow that answer for known emails only.
			if wait := time.Until(c.due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
			}
			send(c)
		case <-ctx.Done():
			for {
				select {
				case c := <-s.changes:
					send(c)
				default:
					return
				}
			}
		}
	}
}

// sendPasswordChange mails the link of one accepted request.
func (s *Service) sendPasswordChange(ctx context.Context, c passwordChange) error {
	r, conn, client, who := c.req, c.conn, c.client, c.who
	now := s.now().UTC()
	event := LogEvent{Type: "scpr", ClientID: r.ClientID, Connection: conn.Name, IP: who.IP, UserAgent: who.UserAgent, UserName: strings.ToLower(r.Email)}
	if client != nil {
		event.ClientName = client.Name
	}
	u, err := s.userInConnection(ctx, r.Email, conn.ID)
	if err != nil || u.Blocked {
		if err != nil && !errors.Is(err, errNoUser) {
			return err
		}
		event.Type, event.Description = "fcpr", "There is no active user with that email in the connection."
		return s.log(ctx, s.store, event, now)
	}
	event.UserID = u.ID
	err = s.mailPasswordChange(ctx, u, conn.Name, client, r.ClientID, event, now)
	if errors.Is(err, errResetDisabled) {
		event.Type, event.Description = "fcpr", "The reset_email template is disabled."
		return s.log(ctx, s.store, event, now)
	}
	return err
}

var errResetDisabled = errs.Invalid("template_disabled", "The reset_email template is disabled: enable it to send password-change mails.")

// mailPasswordChange writes a new password-change link for u, its
// reset_email mail (an invitation when u is flagged needsInvitation) and
// event in one transaction; errResetDisabled when the template is off.
func (s *Service) mailPasswordChange(ctx context.Context, u User, connection string, client *Client, clientID string, event LogEvent, now time.Time) error {
	settings, err := s.composer.Settings(ctx, "reset_email")
	if err != nil {
		return err
	}
	if !settings.Enabled {
		return errResetDisabled
	}
	token, id := newTicketToken()
	spec := ticketSpec{kind: TicketPasswordChange, clientID: clientID, resultURL: settings.ResultURL, purpose: purposeOf(u),
		ttl: orDefault(settings.URLLifetime, defaultTicketLifetime), includeEmail: settings.IncludeEmail}
	m, err := s.compose(ctx, "reset_email", u, linkMail{url: s.ticketLink(spec.kind, token), expires: now.Add(spec.ttl)}, client, connection, now)
	if err != nil {
		return err
	}
	err = s.store.Atomic(ctx, func(st Store) error {
		if err := s.newTicket(ctx, st, u, spec, id, now); err != nil {
			return err
		}
		if err := st.EnqueueMail(ctx, m); err != nil {
			return err
		}
		if err := s.noteInvitation(ctx, st, u, spec.ticket(u, id, now), m.ID); err != nil {
			return err
		}
		return s.log(ctx, st, event, now)
	})
	if err != nil {
		return err
	}
	s.mailQueued()
	return nil
}

// SendPasswordMail mails u the link to set a password, as an administrator
// asks from the dashboard: a new link for their open invitation when they
// have one (its old link stops working), else the reset_email mail that
// change_password sends, which invites them when they are flagged
// needsInvitation. It returns PurposeInvite or PurposeReset: what the mail is.
func (s *Service) SendPasswordMail(ctx context.Context, userID string, who Requester) (string, error) {
	u, err := s.User(ctx, userID)
	if err != nil {
		return "", err
	}
	if u.Blocked {
		return "", errs.Invalid("user_blocked", "This account is blocked: unblock it before mailing a link.")
	}
	inv, err := s.store.OpenInvitation(ctx, u.ID)
	switch {
	case err == nil:
		if _, err := s.ResendInvitation(ctx, inv.ID); err != nil {
			return "", err
		}
		return PurposeInvite, nil
	case !errors.Is(err, errs.ErrNotFound):
		return "", err
	}
	now := s.now().UTC()
	event := LogEvent{Type: "scpr", Description: "Password-change mail sent by an administrator", UserID: u.ID, UserName: u.Email,
		Connection: u.Connection, IP: who.IP, UserAgent: who.UserAgent}
	if err := s.mailPasswordChange(ctx, u, u.Connection, nil, "", event, now); err != nil {
		return "", err
	}
	if u.NeedsInvitation() {
		return PurposeInvite, nil
	}
	return PurposeReset, nil
}

func orDefault(d, fallback time.Duration) time.Duration {
	if d <= 0 {
		return fallback
	}
	return d
}

func (s *Service) optionalClient(ctx context.Context, id string) (*Client, error) {
	if id == "" {
		return nil, nil
	}
	c, err := s.store.Client(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, errs.Invalid("invalid_request", "Unknown client.")
	}
	return &c, err
}

func (s *Service) userInConnection(ctx context.Context, email, connectionID string) (User, error) {
	users, err := s.store.UsersByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return User{}, err
	}
	for _, u := range users {
		if u.ConnectionID == connectionID {
			return u, nil
		}
	}
	return User{}, errNoUser
}

// linkMail is a mail carrying a link: where it points, until when it
// works, and who sent it when it is an invitation.
type linkMail struct {
	url     string
	expires time.Time
	inviter string
}

// compose renders template for u into a Mail with a fresh id.
func (s *Service) compose(ctx context.Context, template string, u User, link linkMail, client *Client, connection string, now time.Time) (outbox.Mail, error) {
	tenant, err := s.tenant(ctx)
	if err != nil {
		return outbox.Mail{}, err
	}
	m, _, err := s.composer.Compose(ctx, template, MailData{User: u, URL: link.url, Client: client, Connection: connection, Tenant: tenant,
		Inviter: link.inviter, LinkExpires: link.expires})
	if err != nil {
		return outbox.Mail{}, err
	}
	m.ID, m.UserID, m.Template, m.CreatedAt = "mail_"+objectID(), u.ID, template, now
	m.MessageID = randomAlnum(24) + "@" + s.mailDomain()
	return m, nil
}

func (s *Service) mailDomain() string {
	if u, err := url.Parse(s.publicURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "usher.local"
}

// log writes a tenant log event through st.
func (s *Service) log(ctx context.Context, st LogStore, e LogEvent, now time.Time) error {
	e.ID, e.Date = NewLogID(now), now
	return st.AddLog(ctx, e)
}
