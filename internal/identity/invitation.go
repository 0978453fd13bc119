package identity

import (
	"time"
)

// Invitation states.
const (
	InvitationPending  = "pending"
	InvitationAccepted = "accepted"
	InvitationExpired  = "expired"
	InvitationRevoked  = "revoked"
)

// Who made an invitation, which decides who lowers the person's
// app_metadata.needsInvitation once it is accepted.
const (
	// InvitationByUsher is an invitation Usher made (its invitations API,
	// an import with invite, the dashboard, the commands): Usher raised the
	// flag, so setting the password through its link lowers it.
	InvitationByUsher = "usher"
	// InvitationByPasswordChange is Auth0's recipe: a password-change link
	// sent to someone flagged needsInvitation. The caller raised the flag;
	// their post-login Action lowers it, as on Auth0.
	InvitationByPasswordChange = "password_change"
)

// Invitation is a first-class invitation: who was invited, through which
// link, and what happened to it. It stays after acceptance.
type Invitation struct {
	ID             string
	UserID         string
	Email          string
	ConnectionID   string
	ClientID       string
	InviterName    string
	ResultURL      string
	TTL            time.Duration
	TicketID       string
	IdempotencyKey string
	Source         string // InvitationByUsher or InvitationByPasswordChange
	CreatedAt      time.Time
	ExpiresAt      time.Time
	AcceptedAt     time.Time
	RevokedAt      time.Time
	Events         []InvitationEvent
}

// InvitationEvent is one step of an invitation's history; a sending carries
// its mail and that mail's delivery status.
type InvitationEvent struct {
	At         time.Time
	Type       string // created, sent, resent, accepted, revoked
	MailID     string
	MailStatus string
	MailReply  string
}

// Status is where the invitation stands at now.
func (i Invitation) Status(now time.Time) string {
	switch {
	case !i.AcceptedAt.IsZero():
		return InvitationAccepted
	case !i.RevokedAt.IsZero():
		return InvitationRevoked
	case !now.Before(i.ExpiresAt):
		return InvitationExpired
	}
	return InvitationPending
}

// Open reports whether the invitation can still be accepted once its link
// is renewed: neither accepted nor revoked, expired or not.
func (i Invitation) Open() bool {
	return i.AcceptedAt.IsZero() && i.RevokedAt.IsZero()
}

// InvitationQuery selects a page of invitations, newest first.
type InvitationQuery struct {
	Status        string
	Email         string
	Page, PerPage int
	IncludeTotals bool
	Now           time.Time
}
