package oauth

import (
	"context"
	"time"
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
}

// Session is a browser's login, behind an HttpOnly cookie.
type Session struct {
	ID        string // SHA-256 of the cookie value
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Store keeps signing keys, grants and sessions.
type Store interface {
	KeyStore
	CreateGrant(ctx context.Context, g Grant) error
	Grant(ctx context.Context, id string) (Grant, error)
	// UseGrant marks an unused, unexpired grant used at now; otherwise
	// identity.ErrNotFound, so that a code is exchanged once.
	UseGrant(ctx context.Context, id string, now time.Time) error
	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, id string) (Session, error)
	DeleteSession(ctx context.Context, id string) error
}
