package oauth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/identity"
)

const cryptoSHA256 = crypto.SHA256

// AccessTokenLifetime is how long an access token is valid (Auth0's default).
const AccessTokenLifetime = 24 * time.Hour

// Claims are the claims of a Usher access token.
type Claims struct {
	Issuer          string           `json:"iss"`
	Subject         string           `json:"sub"`
	Audience        jwt.Audience     `json:"aud"`
	IssuedAt        *jwt.NumericDate `json:"iat"`
	Expiry          *jwt.NumericDate `json:"exp"`
	Scope           string           `json:"scope,omitempty"`
	GrantType       string           `json:"gty,omitempty"`
	AuthorizedParty string           `json:"azp,omitempty"`
}

// Scopes returns the token's scopes.
func (c Claims) Scopes() []string { return strings.Fields(c.Scope) }

// HasAnyScope reports whether the token holds one of want.
func (c Claims) HasAnyScope(want ...string) bool {
	for _, s := range c.Scopes() {
		if slices.Contains(want, s) {
			return true
		}
	}
	return false
}

// Error is an OAuth error in Auth0's shape; Status is the HTTP status Auth0 answers with.
type Error struct {
	Status      int
	Code        string
	Description string
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// TokenResponse is the body of a successful token request.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
}

// Server issues tokens for the tenant.
type Server struct {
	ids     *identity.Service
	keys    *Keys
	store   Store
	issuer  string
	actions Actions
	now     func() time.Time
	cache   *verifiedCache
}

// Actions runs the tenant's Actions bound to a trigger.
type Actions interface {
	Run(ctx context.Context, trigger string, event map[string]any) (actions.Outcome, error)
}

// noActions is the Actions of a Server given none.
type noActions struct{}

func (noActions) Run(context.Context, string, map[string]any) (actions.Outcome, error) {
	return actions.Outcome{}, nil
}

// Options are a Server's collaborators.
type Options struct {
	Identity *identity.Service
	Keys     *Keys
	Store    Store
	// Issuer is the iss of every token: PUBLIC_URL + "/".
	Issuer string
	// Actions runs the post-login Actions; nil runs none.
	Actions Actions
	Now     func() time.Time
}

// NewServer returns a token Server.
func NewServer(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Actions == nil {
		o.Actions = noActions{}
	}
	return &Server{ids: o.Identity, keys: o.Keys, store: o.Store, issuer: o.Issuer, actions: o.Actions, now: o.Now,
		cache: &verifiedCache{m: map[string]verified{}}}
}

// Issuer is the iss claim of every token, with its trailing slash.
func (s *Server) Issuer() string { return s.issuer }

// Keys returns the signing keys.
func (s *Server) Keys() *Keys { return s.keys }

// ClientCredentialsRequest is a client_credentials grant, client already
// taken from the body or the Basic header.
type ClientCredentialsRequest struct {
	ClientID, ClientSecret string
	Audience               string
	Scope                  string
}

// ClientCredentials issues an access token to a machine-to-machine client
// for an audience it holds a client grant for.
func (s *Server) ClientCredentials(ctx context.Context, r ClientCredentialsRequest) (TokenResponse, error) {
	if r.ClientID == "" {
		return TokenResponse{}, &Error{401, "invalid_client", "Client authentication is required"}
	}
	client, ok, err := s.ids.AuthenticateClient(ctx, r.ClientID, r.ClientSecret)
	if err != nil {
		return TokenResponse{}, err
	}
	if !ok {
		return TokenResponse{}, &Error{401, "access_denied", "Unauthorized"}
	}
	if !client.HasGrantType("client_credentials") {
		return TokenResponse{}, &Error{403, "unauthorized_client", "Grant type 'client_credentials' not allowed for the client."}
	}
	if r.Audience == "" {
		return TokenResponse{}, &Error{403, "access_denied", "No audience parameter was provided, and no default audience has been configured"}
	}
	grants, err := s.ids.ClientGrants(ctx, client.ClientID, r.Audience)
	if err != nil {
		return TokenResponse{}, err
	}
	if len(grants) == 0 {
		return TokenResponse{}, &Error{403, "access_denied", fmt.Sprintf("Client is not authorized to access %q. You need to create a \"client-grant\" associated to this API.", r.Audience)}
	}
	scopes := grants[0].Scope
	if r.Scope != "" {
		var narrowed []string
		for _, sc := range strings.Fields(r.Scope) {
			if slices.Contains(scopes, sc) {
				narrowed = append(narrowed, sc)
			}
		}
		scopes = narrowed
	}
	now := s.now()
	claims := Claims{
		Issuer:          s.issuer,
		Subject:         client.ClientID + "@clients",
		Audience:        jwt.Audience{grants[0].Audience},
		IssuedAt:        jwt.NewNumericDate(now),
		Expiry:          jwt.NewNumericDate(now.Add(AccessTokenLifetime)),
		Scope:           strings.Join(scopes, " "),
		GrantType:       "client-credentials",
		AuthorizedParty: client.ClientID,
	}
	tok, err := s.sign(ctx, claims)
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(AccessTokenLifetime.Seconds()), Scope: claims.Scope}, nil
}

// ErrTokenExpired and ErrTokenInvalid are the reasons VerifyAccessToken refuses a token.
var (
	ErrTokenExpired = errors.New("Expired token received for JSON Web Token validation")
	ErrTokenInvalid = errors.New("Invalid signature received for JSON Web Token validation")
	ErrTokenClaims  = errors.New("Bad audience or issuer received for JSON Web Token validation")
)

// VerifyAccessToken checks a token's signature, issuer, expiry and that it
// was issued for audience, and returns its claims. A token whose key has been
// revoked no longer verifies.
func (s *Server) VerifyAccessToken(raw, audience string) (Claims, error) {
	c, err := s.signedClaims(raw)
	if err != nil {
		return Claims{}, err
	}
	if c.Expiry == nil || s.now().After(c.Expiry.Time()) {
		return Claims{}, ErrTokenExpired
	}
	if c.Issuer != s.issuer || !slices.ContainsFunc(c.Audience, func(a string) bool { return s.ids.CanonicalAudience(a) == audience }) {
		return Claims{}, ErrTokenClaims
	}
	return c, nil
}

// IDTokenHint returns the client an ID token Usher signed was issued to, as
// /oidc/logout reads its id_token_hint: expired or not (a logout comes
// late), but signed by a key Usher has and issued by Usher.
func (s *Server) IDTokenHint(raw string) (clientID string, err error) {
	c, err := s.signedClaims(raw)
	if err != nil {
		return "", err
	}
	switch {
	case c.Issuer != s.issuer || len(c.Audience) == 0:
		return "", ErrTokenClaims
	case len(c.Audience) > 1:
		return c.AuthorizedParty, nil
	}
	return c.Audience[0], nil
}

// signedClaims are the claims of a token whose signature one of Usher's
// keys checks, that key not revoked.
func (s *Server) signedClaims(raw string) (Claims, error) {
	// Callers hold no context here; reading the keys again (every KeysTTL)
	// is bounded on its own.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys := s.keys.Set(ctx)
	v, ok := s.cache.get(raw)
	if !ok {
		tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil || len(tok.Headers) != 1 {
			return Claims{}, ErrTokenInvalid
		}
		v.kid = tok.Headers[0].KeyID
		pub := keys.public[v.kid]
		if pub == nil {
			return Claims{}, ErrTokenInvalid
		}
		if err := tok.Claims(pub, &v.claims); err != nil {
			return Claims{}, ErrTokenInvalid
		}
		s.cache.put(raw, v)
	} else if !keys.verifies(v.kid) {
		return Claims{}, ErrTokenInvalid
	}
	return v.claims, nil
}

// verified is a token whose signature checked out: its claims and the key
// that signed it, which may have been revoked since.
type verified struct {
	claims Claims
	kid    string
}

// verifiedCache remembers the claims of tokens whose signature checked out,
// so that a client reusing its token (as the SDKs do) costs one RSA
// verification, not one per request. Expiry and revocation are still checked
// every time.
type verifiedCache struct {
	mu sync.Mutex
	m  map[string]verified
}

const verifiedCacheSize = 4096

func (c *verifiedCache) get(raw string) (verified, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[raw]
	return v, ok
}

func (c *verifiedCache) put(raw string, v verified) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= verifiedCacheSize {
		clear(c.m)
	}
	c.m[raw] = v
}
