package identity

import (
	"context"
	"time"

	"github.com/usherid/usher/internal/outbox"
)

// Store is the persistence the identity service needs: one interface per
// aggregate, composed, and Atomic to change several in one transaction. A
// store returns errs.ErrNotFound for a missing row and errs.ErrDuplicate for
// a unique-key clash.
type Store interface {
	// Atomic runs fn in one transaction: everything fn does through the
	// Store it is given lands together or not at all.
	Atomic(ctx context.Context, fn func(Store) error) error

	UserStore
	ConnectionStore
	ClientStore
	TicketStore
	OutboxStore
	LoginStore
	LimitStore
	InvitationStore
	JobStore
	PermissionStore
	LogStore
	SettingStore
}

// UserStore keeps users, looked up by id, by email and by search.
type UserStore interface {
	CreateUser(ctx context.Context, u User) error
	User(ctx context.Context, id string) (User, error)
	UpdateUser(ctx context.Context, u User) error
	DeleteUser(ctx context.Context, id string) error
	// Users returns a page of users and, when q.IncludeTotals, how many match.
	Users(ctx context.Context, q UserQuery) ([]User, int, error)
	UsersByEmail(ctx context.Context, email string) ([]User, error)
}

// ConnectionStore keeps database connections.
type ConnectionStore interface {
	CreateConnection(ctx context.Context, c Connection) error
	Connection(ctx context.Context, id string) (Connection, error)
	ConnectionByName(ctx context.Context, name string) (Connection, error)
	Connections(ctx context.Context) ([]Connection, error)
	UpdateConnection(ctx context.Context, c Connection) error
	DeleteConnection(ctx context.Context, id string) error
}

// ClientStore keeps applications and the grants that let them call APIs.
type ClientStore interface {
	CreateClient(ctx context.Context, c Client) error
	Client(ctx context.Context, id string) (Client, error)
	Clients(ctx context.Context) ([]Client, error)
	UpdateClient(ctx context.Context, c Client) error
	DeleteClient(ctx context.Context, id string) error

	CreateClientGrant(ctx context.Context, g ClientGrant) error
	ClientGrant(ctx context.Context, id string) (ClientGrant, error)
	ClientGrants(ctx context.Context) ([]ClientGrant, error)
	UpdateClientGrant(ctx context.Context, g ClientGrant) error
	DeleteClientGrant(ctx context.Context, id string) error
}

// TicketStore keeps single-use links.
type TicketStore interface {
	CreateTicket(ctx context.Context, t Ticket) error
	Ticket(ctx context.Context, id string) (Ticket, error)
	// UseTicket marks a valid ticket used at now; a ticket that is used,
	// revoked or expired gives ErrNotFound, so only one caller ever wins.
	UseTicket(ctx context.Context, id string, now time.Time) error
	// RevokeTickets revokes the user's open tickets of kind ("" for every kind).
	RevokeTickets(ctx context.Context, userID, kind string, now time.Time) error
}

// OutboxStore keeps the mail Usher owes, which the mail package's worker delivers.
type OutboxStore interface {
	EnqueueMail(ctx context.Context, m outbox.Mail) error
}

// LoginStore keeps failed-login counts and what a login made (sessions, codes, refresh tokens).
type LoginStore interface {
	// ReserveLoginAttempt counts one more login attempt of a user from an
	// address before its password is checked, atomically, and returns the
	// count with it; 0 when limit attempts are counted already (the pair is
	// blocked, nothing is counted). Reaching limit records when the block began.
	ReserveLoginAttempt(ctx context.Context, userID, ip string, now time.Time, limit int) (int, error)
	// ReleaseLoginAttempt takes back one reserved attempt whose password
	// was right.
	ReleaseLoginAttempt(ctx context.Context, userID, ip string, limit int) error
	// ClearLoginFailures forgets a user's failures from ip ("" for every address).
	ClearLoginFailures(ctx context.Context, userID, ip string) error
	// LoginBlocks lists the addresses with at least blockAt failures.
	LoginBlocks(ctx context.Context, userID string, blockAt int) ([]LoginBlock, error)
	// RevokeLogins ends the user's browser sessions and removes their
	// authorization codes and refresh tokens.
	RevokeLogins(ctx context.Context, userID string) error
}

// LimitStore keeps rate limits that hold for every instance on the database
// together, such as those that protect an account.
type LimitStore interface {
	// Allow takes one request from key's budget of burst at once, refilled
	// by one every every, and reports whether there was one.
	Allow(ctx context.Context, key string, now time.Time, every time.Duration, burst int) (bool, error)
}

// InvitationStore keeps invitations with their history.
type InvitationStore interface {
	CreateInvitation(ctx context.Context, inv Invitation) error
	// Invitation returns an invitation with its history.
	Invitation(ctx context.Context, id string) (Invitation, error)
	InvitationByIdempotencyKey(ctx context.Context, key string) (Invitation, error)
	Invitations(ctx context.Context, q InvitationQuery) ([]Invitation, int, error)
	// UpdateInvitation saves the ticket, expiry and revocation of an invitation.
	UpdateInvitation(ctx context.Context, inv Invitation) error
	// AcceptInvitation marks accepted the open invitation whose link is
	// ticketID and returns it; ErrNotFound when the link is no open
	// invitation's.
	AcceptInvitation(ctx context.Context, ticketID string, now time.Time) (Invitation, error)
	// OpenInvitation returns the user's newest invitation that is neither
	// accepted nor revoked (it may have expired); ErrNotFound when none is.
	OpenInvitation(ctx context.Context, userID string) (Invitation, error)
	// LatestInvitations returns, by user id, the newest invitation of each
	// of the users who have one.
	LatestInvitations(ctx context.Context, userIDs []string) (map[string]Invitation, error)
	// AddInvitationEvents adds to an invitation's history.
	AddInvitationEvents(ctx context.Context, invitationID string, events ...InvitationEvent) error
	// InvitationStats counts invitations per UTC day, from the day of from
	// to the day of now: sent (created), accepted, and expired by now.
	InvitationStats(ctx context.Context, from, now time.Time) (InvitationStats, error)
}

// JobStore keeps jobs. Identity makes the verification-email ones; the
// imports package keeps its own jobs through its own Store.
type JobStore interface {
	CreateJob(ctx context.Context, j Job) error
}

// PermissionStore keeps the permissions granted to users directly.
type PermissionStore interface {
	// UserPermissions lists the permissions granted directly to a user.
	UserPermissions(ctx context.Context, userID string) ([]Permission, error)
	// AddUserPermissions grants permissions; one the user holds stays as it is.
	AddUserPermissions(ctx context.Context, userID string, ps []Permission, now time.Time) error
	// RemoveUserPermissions takes permissions back; one the user lacks is no error.
	RemoveUserPermissions(ctx context.Context, userID string, ps []Permission) error
	// HasUserPermission reports whether the user holds p.
	HasUserPermission(ctx context.Context, userID string, p Permission) (bool, error)
}

// LogStore keeps the tenant log.
type LogStore interface {
	AddLog(ctx context.Context, e LogEvent) error
	Logs(ctx context.Context, q LogQuery) ([]LogEvent, int, error)
}

// SettingStore keeps the tenant's settings and small named values.
type SettingStore interface {
	TenantSettings(ctx context.Context) (TenantSettings, error)
	SaveTenantSettings(ctx context.Context, s TenantSettings) error

	// Setting and PutSetting keep small named values, such as which client
	// was made at first start.
	Setting(ctx context.Context, name string) (string, error)
	PutSetting(ctx context.Context, name, value string) error
}

// mailedLinkStore is what writing a link with the mail that carries it needs.
type mailedLinkStore interface {
	TicketStore
	OutboxStore
}

// invitationLinkStore is what writing an invitation's new link needs.
type invitationLinkStore interface {
	mailedLinkStore
	InvitationStore
}

// Clock tells the time; tests pass a fixed one.
type Clock func() time.Time
