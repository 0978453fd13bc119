package identity

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/usherid/usher/internal/errs"
)

// User is a person with an account in a database connection.
type User struct {
	ID                string
	ConnectionID      string
	Connection        string // the connection's name, for identities
	Email             string // lower case, as Auth0 stores database users' emails
	EmailVerified     bool
	Username          string
	PhoneNumber       string
	PhoneVerified     bool
	PasswordHash      string
	Blocked           bool
	Profile           Profile
	AppMetadata       map[string]any
	UserMetadata      map[string]any
	LoginsCount       int64
	LastLogin         time.Time
	LastIP            string
	LastPasswordReset time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Profile holds a user's descriptive attributes.
type Profile struct {
	Name       string `json:"name,omitempty"`
	Nickname   string `json:"nickname,omitempty"`
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	Picture    string `json:"picture,omitempty"`
}

// NewUser is the body of POST /api/v2/users.
type NewUser struct {
	Connection    string         `json:"connection"`
	Email         string         `json:"email"`
	Password      string         `json:"password"`
	EmailVerified bool           `json:"email_verified"`
	VerifyEmail   *bool          `json:"verify_email"`
	Username      string         `json:"username"`
	PhoneNumber   string         `json:"phone_number"`
	PhoneVerified bool           `json:"phone_verified"`
	UserID        string         `json:"user_id"`
	Blocked       bool           `json:"blocked"`
	GivenName     string         `json:"given_name"`
	FamilyName    string         `json:"family_name"`
	Name          string         `json:"name"`
	Nickname      string         `json:"nickname"`
	Picture       string         `json:"picture"`
	AppMetadata   map[string]any `json:"app_metadata"`
	UserMetadata  map[string]any `json:"user_metadata"`
}

// UserPatch is the body of PATCH /api/v2/users/{id}.
type UserPatch struct {
	Email             Opt[string]         `json:"email"`
	EmailVerified     Opt[bool]           `json:"email_verified"`
	VerifyEmail       Opt[bool]           `json:"verify_email"`
	Password          Opt[string]         `json:"password"`
	Username          Opt[string]         `json:"username"`
	PhoneNumber       Opt[string]         `json:"phone_number"`
	PhoneVerified     Opt[bool]           `json:"phone_verified"`
	VerifyPhoneNumber Opt[bool]           `json:"verify_phone_number"`
	Blocked           Opt[bool]           `json:"blocked"`
	GivenName         Opt[string]         `json:"given_name"`
	FamilyName        Opt[string]         `json:"family_name"`
	Name              Opt[string]         `json:"name"`
	Nickname          Opt[string]         `json:"nickname"`
	Picture           Opt[string]         `json:"picture"`
	AppMetadata       Opt[map[string]any] `json:"app_metadata"`
	UserMetadata      Opt[map[string]any] `json:"user_metadata"`
	Connection        Opt[string]         `json:"connection"`
	ClientID          Opt[string]         `json:"client_id"`
}

// OnlyMetadata reports whether the patch touches app_metadata or
// user_metadata and nothing else.
func (p UserPatch) OnlyMetadata() bool {
	for _, set := range []bool{p.Email.Set, p.EmailVerified.Set, p.VerifyEmail.Set, p.Password.Set, p.Username.Set,
		p.PhoneNumber.Set, p.PhoneVerified.Set, p.VerifyPhoneNumber.Set, p.Blocked.Set, p.GivenName.Set,
		p.FamilyName.Set, p.Name.Set, p.Nickname.Set, p.Picture.Set, p.Connection.Set, p.ClientID.Set} {
		if set {
			return false
		}
	}
	return true
}

// forbiddenAppMetadata are the app_metadata keys Auth0 reserves.
var forbiddenAppMetadata = []string{"__tenant", "_id", "blocked", "clientID", "created_at", "email_verified", "email", "globalClientID", "global_client_id", "identities", "lastIP", "lastLogin", "loginsCount", "metadata", "multifactor_last_modified", "multifactor", "updated_at", "user_id"}

// NeedsInvitation tells whether u was invited and has not signed in yet:
// app_metadata.needsInvitation, the flag of Auth0's invitation recipe.
func (u User) NeedsInvitation() bool {
	v, _ := u.AppMetadata["needsInvitation"].(bool)
	return v
}

// mergeMetadata applies Auth0's one-level merge: each top-level key replaces
// or adds, a null removes it, and an empty object clears everything.
func mergeMetadata(cur, patch map[string]any) map[string]any {
	if len(patch) == 0 {
		return map[string]any{}
	}
	out := make(map[string]any, len(cur)+len(patch))
	for k, v := range cur {
		out[k] = v
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// maxEmailLength is the longest address SMTP carries (RFC 5321's 256-octet
// path, less its angle brackets).
const maxEmailLength = 254

// NormalizeEmail is an address as Usher stores it (trimmed, in lower case),
// or a validation error saying why it is not one.
func NormalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if len(email) > maxEmailLength {
		return "", errs.Invalid("invalid_body", "Payload validation error: 'String length must be between 1 and %d' on property email (The user's email).", maxEmailLength)
	}
	addr, err := mail.ParseAddress(email)
	at := strings.LastIndex(email, "@")
	// RFC 5321 bounds the local part to 64 octets; U+FFFD stands for bytes
	// that were not UTF-8 (see store.storable), never for a real address.
	if err != nil || addr.Address != email || at > 64 || strings.ContainsRune(email, utf8.RuneError) ||
		!strings.Contains(email[at+1:], ".") && !strings.HasSuffix(email, "@localhost") {
		return "", errs.Invalid("invalid_body", "Payload validation error: 'Object didn't pass validation for format email: %s' on property email (The user's email).", email)
	}
	return email, nil
}

func checkLength(property, v string, min, max int) error {
	n := len([]rune(v))
	if n < min || n > max {
		return errs.Invalid("invalid_body", "Payload validation error: 'String length must be between %d and %d' on property %s.", min, max, property)
	}
	return nil
}

func (p Profile) validate() error {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"name", p.Name, 300}, {"nickname", p.Nickname, 300}, {"given_name", p.GivenName, 150}, {"family_name", p.FamilyName, 150}, {"picture", p.Picture, 2000}} {
		if f.v != "" {
			if err := checkLength(f.name, f.v, 1, f.max); err != nil {
				return err
			}
		}
	}
	return nil
}

// UserQuery selects a page of users.
type UserQuery struct {
	Filter        UserFilter
	Page, PerPage int
	IncludeTotals bool
	SortField     string // created_at, updated_at, email, last_login, logins_count, name
	SortDesc      bool
}

// UserFilter narrows a user search; every set term must hold.
type UserFilter struct {
	Terms []Term
}

// Term is one "field:value" condition of a user search.
type Term struct {
	Field  string // email, user_id, name, nickname, username, email_verified, blocked, connection, app_metadata.KEY, user_metadata.KEY
	Value  string
	Prefix bool   // the value ended in *: match the beginning
	JSON   string // for metadata fields: the value as JSON text (true, 3, "x")
}
