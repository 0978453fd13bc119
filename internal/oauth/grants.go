package oauth

import (
	"context"
	"time"

	"github.com/usherid/usher/internal/identity"
)

// Grant kinds.
const (
	GrantCode    = "code"
	GrantRefresh = "refresh_token"
)

// Grant is an authorization code or a refresh token; only the SHA-256 of
// the value the client holds is stored.
type Grant struct {
	ID        string
	Kind      string
	ClientID  string
	UserID    string
	Details   GrantDetails
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
	// Family is, for a refresh token, the id of the first token of its line:
	// the one the login gave, which rotation replaces token by token.
	Family string
}

// GrantDetails is what a grant was given for.
type GrantDetails struct {
	Scope               string         `json:"scope"`
	Audience            string         `json:"audience,omitempty"`
	RedirectURI         string         `json:"redirect_uri,omitempty"`
	Nonce               string         `json:"nonce,omitempty"`
	CodeChallenge       string         `json:"code_challenge,omitempty"`
	CodeChallengeMethod string         `json:"code_challenge_method,omitempty"`
	AuthTime            int64          `json:"auth_time,omitempty"`
	IDClaims            map[string]any `json:"id_claims,omitempty"`
	AccessClaims        map[string]any `json:"access_claims,omitempty"`
	// PasswordStamp is the password the login proved (see passwordStamp);
	// nil in grants made before it was recorded.
	PasswordStamp *int64 `json:"password_stamp,omitempty"`
	// LineEnds is when the refresh tokens of the login's line stop, by the
	// client's absolute lifetime (ms; 0 for never).
	LineEnds int64 `json:"line_ends,omitempty"`
}

// Session is a browser's login, behind an HttpOnly cookie.
type Session struct {
	ID        string // SHA-256 of the cookie value
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	// PasswordStamp is the password the login proved (see passwordStamp);
	// nil in sessions started before it was recorded.
	PasswordStamp *int64
}

// passwordStamp names the password a login proved by when it was set (ms,
// 0 for never). A password change deletes the user's sessions, codes and
// refresh tokens in its own transaction; the stamp also refuses one made by
// a login that was under way at that moment, or by a change that deleted
// nothing (an import). Stamps are only compared for equality, so the clocks
// of different instances never matter.
func passwordStamp(u identity.User) *int64 {
	var ms int64
	if !u.LastPasswordReset.IsZero() {
		ms = u.LastPasswordReset.UnixMilli()
	}
	return &ms
}

// sameAsStamp reports whether a login that recorded stamp proved u's
// current password. One recorded before stamps existed passes: any password
// change since deleted it.
func sameAsStamp(stamp *int64, u identity.User) bool {
	return stamp == nil || *stamp == *passwordStamp(u)
}

// Store keeps signing keys, grants and sessions.
type Store interface {
	KeyStore
	CreateGrant(ctx context.Context, g Grant) error
	Grant(ctx context.Context, id string) (Grant, error)
	// UseGrant marks an unused, unexpired grant used at now; otherwise
	// errs.ErrNotFound, so that a code is exchanged once.
	UseGrant(ctx context.Context, id string, now time.Time) error
	// RotateGrant marks the grant id used at now, as UseGrant does, and
	// stores next in the same transaction; nothing when id was used already.
	RotateGrant(ctx context.Context, id string, now time.Time, next Grant) error
	// ExtendGrant moves a grant's expiry to expires.
	ExtendGrant(ctx context.Context, id string, expires time.Time) error
	// DeleteGrantFamily removes every refresh token of a line.
	DeleteGrantFamily(ctx context.Context, family string) error
	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, id string) (Session, error)
	DeleteSession(ctx context.Context, id string) error
}
