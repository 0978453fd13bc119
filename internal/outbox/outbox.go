// Package outbox holds the record of a mail Usher owes someone. The domain
// writes it in the same transaction as the change that caused it; the mail
// package's worker delivers it. It imports nothing of Usher's.
package outbox

import "time"

// The statuses of a mail.
const (
	Queued  = "queued"  // waiting for its first or next attempt
	Sending = "sending" // claimed by a worker; reclaimed if the lease runs out
	Sent    = "sent"
	Failed  = "failed" // the last attempt failed; another is scheduled
	Dead    = "dead"   // given up: permanently refused or out of time
)

// Mail is a message Usher owes someone, written to the outbox in the same
// transaction as the change that caused it.
type Mail struct {
	ID        string
	MessageID string // stable across attempts, so a receiver can drop a duplicate
	Template  string
	UserID    string
	To        string
	From      string
	Subject   string
	HTML      string
	Text      string
	Ticket    string // the link's token while the mail is pending; the stored texts hold mail.HiddenTicket in its place
	Status    string
	// Claim is the token of the claim that last leased the mail ("" for
	// one never claimed): an attempt is recorded only under it.
	Claim       string
	Attempts    int
	LastReply   string
	NextAttempt time.Time
	CreatedAt   time.Time
	SentAt      time.Time
}
