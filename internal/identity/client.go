package identity

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"time"

	"github.com/usherid/usher/internal/errs"
)

// Client is an application that asks Usher for tokens.
type Client struct {
	ClientID                string            `json:"client_id"`
	Name                    string            `json:"name"`
	Description             string            `json:"description,omitempty"`
	AppType                 string            `json:"app_type,omitempty"`
	LogoURI                 string            `json:"logo_uri,omitempty"`
	IsFirstParty            bool              `json:"is_first_party"`
	OIDCConformant          bool              `json:"oidc_conformant"`
	Callbacks               []string          `json:"callbacks"`
	AllowedLogoutURLs       []string          `json:"allowed_logout_urls"`
	WebOrigins              []string          `json:"web_origins"`
	AllowedOrigins          []string          `json:"allowed_origins"`
	InitiateLoginURI        string            `json:"initiate_login_uri,omitempty"`
	GrantTypes              []string          `json:"grant_types"`
	TokenEndpointAuthMethod string            `json:"token_endpoint_auth_method"`
	JWTConfiguration        JWTConfiguration  `json:"jwt_configuration"`
	ClientMetadata          map[string]string `json:"client_metadata"`
	SSO                     bool              `json:"sso,omitempty"`
	CrossOriginAuth         bool              `json:"cross_origin_authentication,omitempty"`
	// RefreshToken is nil for a client stored before it existed: such a
	// client's refresh tokens follow DefaultRefreshTokens.
	RefreshToken *RefreshTokens `json:"refresh_token,omitempty"`

	SecretHash string    `json:"-"`
	CreatedAt  time.Time `json:"-"`
}

// JWTConfiguration says how a client's ID tokens are signed and how long they live.
type JWTConfiguration struct {
	Alg               string `json:"alg"`
	LifetimeInSeconds int    `json:"lifetime_in_seconds"`
	SecretEncoded     bool   `json:"secret_encoded"`
}

// RefreshTokens is how a client's refresh tokens live, in Auth0's terms.
type RefreshTokens struct {
	// RotationType "rotating" gives a new refresh token at each use and
	// takes the used one back; using it again after Leeway seconds revokes
	// every token descended from the same login. "non-rotating" tokens are
	// used again and again.
	RotationType string `json:"rotation_type"`
	// ExpirationType "non-expiring" tokens live until revoked; "expiring"
	// ones live TokenLifetime seconds from the login at most, and
	// IdleTokenLifetime seconds after their last use.
	ExpirationType            string `json:"expiration_type"`
	Leeway                    int    `json:"leeway"`
	TokenLifetime             int    `json:"token_lifetime"`
	InfiniteTokenLifetime     bool   `json:"infinite_token_lifetime"`
	IdleTokenLifetime         int    `json:"idle_token_lifetime"`
	InfiniteIdleTokenLifetime bool   `json:"infinite_idle_token_lifetime"`
}

// DefaultRefreshTokens is what a client gets unless it says otherwise:
// tokens used again and again for 30 days from the login, as Usher always
// gave (Auth0's own default never expires them).
var DefaultRefreshTokens = RefreshTokens{RotationType: "non-rotating", ExpirationType: "expiring",
	TokenLifetime: 30 * 24 * 3600, IdleTokenLifetime: 15 * 24 * 3600, InfiniteIdleTokenLifetime: true}

// RefreshTokens is the client's refresh-token policy.
func (c Client) RefreshTokens() RefreshTokens {
	if c.RefreshToken == nil {
		return DefaultRefreshTokens
	}
	return *c.RefreshToken
}

// Lifetimes are how long a refresh token may live from the login that
// began its line (absolute) and from its last use (idle); 0 is forever.
func (r RefreshTokens) Lifetimes() (absolute, idle time.Duration) {
	if r.ExpirationType == "non-expiring" {
		return 0, 0
	}
	if !r.InfiniteTokenLifetime {
		absolute = time.Duration(r.TokenLifetime) * time.Second
	}
	if !r.InfiniteIdleTokenLifetime {
		idle = time.Duration(r.IdleTokenLifetime) * time.Second
	}
	return absolute, idle
}

// check refuses a policy Auth0 would refuse.
func (r RefreshTokens) check() error {
	bad := func(field string, v any) error {
		return errs.Invalid("invalid_body", "Payload validation error: 'Invalid value %v' on property refresh_token.%s.", v, field)
	}
	switch {
	case r.RotationType != "rotating" && r.RotationType != "non-rotating":
		return bad("rotation_type", r.RotationType)
	case r.ExpirationType != "expiring" && r.ExpirationType != "non-expiring":
		return bad("expiration_type", r.ExpirationType)
	case r.RotationType == "rotating" && r.ExpirationType != "expiring":
		return errs.Invalid("invalid_body", "Rotating refresh tokens must be expiring (refresh_token.expiration_type: expiring).")
	case r.Leeway < 0 || r.Leeway > 3600:
		return bad("leeway", r.Leeway)
	case r.TokenLifetime < 1 || r.TokenLifetime > 63072000:
		return bad("token_lifetime", r.TokenLifetime)
	case r.IdleTokenLifetime < 1 || r.IdleTokenLifetime > 63072000:
		return bad("idle_token_lifetime", r.IdleTokenLifetime)
	}
	return nil
}

var appTypes = []string{"native", "spa", "regular_web", "non_interactive", "rms", "box", "cloudbees", "concur", "dropbox", "mscrm", "echosign", "egnyte", "newrelic", "office365", "salesforce", "sentry", "sharepoint", "slack", "springcm", "zendesk", "zoom", "sso_integration", "oag", "resource_server", "express_configuration"}

var grantTypes = []string{"authorization_code", "implicit", "refresh_token", "client_credentials", "password", "http://auth0.com/oauth/grant-type/password-realm", "http://auth0.com/oauth/grant-type/mfa-oob", "http://auth0.com/oauth/grant-type/mfa-otp", "http://auth0.com/oauth/grant-type/mfa-recovery-code", "urn:openid:params:grant-type:ciba", "urn:ietf:params:oauth:grant-type:device_code", "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token", "http://auth0.com/oauth/grant-type/passwordless/otp"}

// HasGrantType reports whether the client may use grant type g at /oauth/token.
func (c Client) HasGrantType(g string) bool { return contains(c.GrantTypes, g) }

// CheckSecret compares secret with the stored hash in constant time.
func (c Client) CheckSecret(secret string) bool {
	if c.SecretHash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(c.SecretHash)) == 1
}

// hashSecret hashes a client secret. Secrets Usher makes carry ~380 bits of
// entropy, so a fast hash suffices and keeps /oauth/token cheap.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// normalize fills Auth0's defaults and checks the rules a client must keep.
func (c *Client) normalize() error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" {
		return errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: name'.")
	}
	if strings.ContainsAny(c.Name, "<>") {
		return errs.Invalid("invalid_body", "Payload validation error: 'String does not match pattern ^[^<>]+$' on property name.")
	}
	if len(c.Description) > 140 {
		return errs.Invalid("invalid_body", "Payload validation error: 'String is too long (%d chars), maximum 140' on property description.", len(c.Description))
	}
	if c.AppType != "" && !contains(appTypes, c.AppType) {
		return errs.Invalid("invalid_body", "Payload validation error: 'No enum match for: %q' on property app_type.", c.AppType)
	}
	if c.GrantTypes == nil {
		c.GrantTypes = defaultGrantTypes(c.AppType)
	}
	for _, g := range c.GrantTypes {
		if !contains(grantTypes, g) {
			return errs.Invalid("invalid_body", "Payload validation error: 'No enum match for: %q' on property grant_types.", g)
		}
	}
	switch c.TokenEndpointAuthMethod {
	case "":
		c.TokenEndpointAuthMethod = "client_secret_post"
		if c.AppType == "spa" || c.AppType == "native" {
			c.TokenEndpointAuthMethod = "none"
		}
	case "none", "client_secret_post", "client_secret_basic":
	default:
		return errs.Invalid("invalid_body", "Payload validation error: 'No enum match for: %q' on property token_endpoint_auth_method.", c.TokenEndpointAuthMethod)
	}
	if c.RefreshToken == nil {
		c.RefreshToken = &RefreshTokens{}
	}
	// What a partial refresh_token leaves out is the default's.
	r, d := c.RefreshToken, DefaultRefreshTokens
	r.RotationType, r.ExpirationType = cmp.Or(r.RotationType, d.RotationType), cmp.Or(r.ExpirationType, d.ExpirationType)
	r.TokenLifetime, r.IdleTokenLifetime = cmp.Or(r.TokenLifetime, d.TokenLifetime), cmp.Or(r.IdleTokenLifetime, d.IdleTokenLifetime)
	if err := r.check(); err != nil {
		return err
	}
	if c.JWTConfiguration.Alg == "" {
		c.JWTConfiguration.Alg = "RS256"
	}
	if c.JWTConfiguration.Alg != "RS256" {
		return errs.Invalid("invalid_body", "Payload validation error: 'No enum match for: %q' on property jwt_configuration.alg (Usher signs with RS256).", c.JWTConfiguration.Alg)
	}
	if c.JWTConfiguration.LifetimeInSeconds == 0 {
		c.JWTConfiguration.LifetimeInSeconds = 36000
	}
	if len(c.ClientMetadata) > 10 {
		return errs.Invalid("invalid_body", "Payload validation error: 'Too many properties (%d), maximum 10' on property client_metadata.", len(c.ClientMetadata))
	}
	// Usher sends browsers to these: only http(s), or a native app's own scheme.
	native := c.AppType == "native"
	if err := checkRedirects("callbacks", c.Callbacks, native); err != nil {
		return err
	}
	if err := checkRedirects("allowed_logout_urls", c.AllowedLogoutURLs, native); err != nil {
		return err
	}
	if err := checkRedirect("initiate_login_uri", c.InitiateLoginURI, false); err != nil {
		return err
	}
	if err := checkOrigins("web_origins", c.WebOrigins); err != nil {
		return err
	}
	if err := checkOrigins("allowed_origins", c.AllowedOrigins); err != nil {
		return err
	}
	for _, list := range []*[]string{&c.Callbacks, &c.AllowedLogoutURLs, &c.WebOrigins, &c.AllowedOrigins} {
		if *list == nil {
			*list = []string{}
		}
	}
	if c.ClientMetadata == nil {
		c.ClientMetadata = map[string]string{}
	}
	return nil
}

func defaultGrantTypes(appType string) []string {
	switch appType {
	case "non_interactive":
		return []string{"client_credentials"}
	case "spa", "native":
		return []string{"authorization_code", "implicit", "refresh_token"}
	}
	return []string{"authorization_code", "implicit", "refresh_token", "client_credentials"}
}

// ClientGrant lets a client obtain tokens for an API audience with some scopes.
type ClientGrant struct {
	ID        string    `json:"id"`
	ClientID  string    `json:"client_id"`
	Audience  string    `json:"audience"`
	Scope     []string  `json:"scope"`
	CreatedAt time.Time `json:"-"`
}
