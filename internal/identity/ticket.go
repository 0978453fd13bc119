package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// Ticket kinds.
const (
	TicketPasswordChange    = "password_change"
	TicketEmailVerification = "email_verification"
)

// Ticket purposes, when Usher knows why a password-change link was sent.
const (
	PurposeInvite = "invite"
	PurposeReset  = "reset"
)

// Ticket is a single-use link. Only the SHA-256 of its token is stored.
type Ticket struct {
	ID                string // hex SHA-256 of the token
	Kind              string
	UserID            string
	ClientID          string
	ResultURL         string
	MarkEmailVerified bool
	IncludeEmail      bool
	Purpose           string
	CreatedAt         time.Time
	ExpiresAt         time.Time
	UsedAt            time.Time
	RevokedAt         time.Time
}

// TicketState is what a link's holder can still do with it.
type TicketState string

// The states of a ticket.
const (
	TicketValid   TicketState = "valid"
	TicketExpired TicketState = "expired"
	TicketUsed    TicketState = "used"
	TicketRevoked TicketState = "revoked" // replaced by a newer link
	TicketUnknown TicketState = "unknown"
)

// State says whether the ticket can still be used at now.
func (t Ticket) State(now time.Time) TicketState {
	switch {
	case !t.UsedAt.IsZero():
		return TicketUsed
	case !t.RevokedAt.IsZero():
		return TicketRevoked
	case !now.Before(t.ExpiresAt):
		return TicketExpired
	}
	return TicketValid
}

// newTicketToken returns a link token (32 random bytes, base64url) and the
// id it is stored under.
func newTicketToken() (token, id string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, TicketID(token)
}

// TicketID is the stored id of a link token.
func TicketID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
