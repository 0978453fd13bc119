package identity

import (
	"context"
	"time"
)

// Mail statuses in the outbox.
const (
	MailQueued  = "queued"  // waiting for its first or next attempt
	MailSending = "sending" // claimed by a worker; reclaimed if the lease runs out
	MailSent    = "sent"
	MailFailed  = "failed" // the last attempt failed; another is scheduled
	MailDead    = "dead"   // given up: permanently refused or out of time
)

// Mail is a message Usher owes someone, written to the outbox in the same
// transaction as the change that caused it.
type Mail struct {
	ID          string
	MessageID   string // stable across attempts, so a receiver can drop a duplicate
	Template    string
	UserID      string
	To          string
	From        string
	Subject     string
	HTML        string
	Text        string
	Ticket      string // the link's token while the mail is pending; the stored texts hold mail.HiddenTicket in its place
	Status      string
	Attempts    int
	LastReply   string
	NextAttempt time.Time
	CreatedAt   time.Time
	SentAt      time.Time
}

// MailData is what a template is rendered with.
type MailData struct {
	User       User
	URL        string
	Client     *Client
	Connection string
	Tenant     TenantSettings
	// Inviter is who invited the person, as the invitation records it
	// ("" when unknown or not an invitation).
	Inviter string
	// LinkExpires is when URL stops working (zero when there is no link).
	LinkExpires time.Time
}

// Composer renders a tenant's email template into a Mail ready for the outbox.
// ok is false when the tenant disabled the template: nothing is to be sent.
type Composer interface {
	// Settings returns the template's link settings (lifetime, result URL).
	Settings(ctx context.Context, template string) (MailSettings, error)
	Compose(ctx context.Context, template string, d MailData) (m Mail, ok bool, err error)
}
