package identity

import (
	"time"

	"github.com/usherid/usher/internal/errs"
)

// DefaultConnection is the database connection every tenant starts with.
const DefaultConnection = "Username-Password-Authentication"

// Connection is a source of users. Usher has database connections (strategy
// "auth0"): users with an email and a password stored here.
type Connection struct {
	ID                 string            `json:"id"`
	Name               string            `json:"name"`
	DisplayName        string            `json:"display_name,omitempty"`
	Strategy           string            `json:"strategy"`
	Options            map[string]any    `json:"options"`
	EnabledClients     []string          `json:"enabled_clients"`
	Realms             []string          `json:"realms"`
	IsDomainConnection bool              `json:"is_domain_connection"`
	ShowAsButton       bool              `json:"show_as_button,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	CreatedAt          time.Time         `json:"-"`
}

// DefaultConnectionOptions are the options a new database connection gets.
func DefaultConnectionOptions() map[string]any {
	return map[string]any{
		"disable_signup":              false,
		"brute_force_protection":      true,
		"passwordPolicy":              "good",
		"password_complexity_options": map[string]any{"min_length": float64(8)},
		"strategy_version":            float64(2),
	}
}

// PasswordPolicy is the connection's rule for new passwords.
func (c Connection) PasswordPolicy() PasswordPolicy {
	p := PasswordPolicy{Level: "none"}
	if s, ok := c.Options["passwordPolicy"].(string); ok {
		p.Level = s
	}
	if o, ok := c.Options["password_complexity_options"].(map[string]any); ok {
		if n, ok := o["min_length"].(float64); ok {
			p.MinLength = int(n)
		}
	}
	return p
}

// DisableSignup reports whether public sign-up is closed: people get in by invitation.
func (c Connection) DisableSignup() bool { return c.boolOption("disable_signup") }

// RequiresUsername reports whether users of this connection have usernames.
func (c Connection) RequiresUsername() bool { return c.boolOption("requires_username") }

// BruteForceProtection reports whether repeated failed logins block a user and address.
func (c Connection) BruteForceProtection() bool { return c.boolOption("brute_force_protection") }

func (c Connection) boolOption(name string) bool {
	v, _ := c.Options[name].(bool)
	return v
}

// validateConnectionOptions checks the options Usher acts on; other options are
// kept as sent, as Auth0 keeps them.
func validateConnectionOptions(o map[string]any) error {
	for _, name := range []string{"disable_signup", "brute_force_protection", "requires_username", "disable_self_service_change_password"} {
		if v, ok := o[name]; ok && v != nil {
			if _, ok := v.(bool); !ok {
				return errs.Invalid("invalid_body", "Payload validation error: 'Expected type boolean' on property options.%s.", name)
			}
		}
	}
	if v, ok := o["passwordPolicy"]; ok && v != nil {
		s, _ := v.(string)
		if _, known := policyMinLength[s]; !known {
			return errs.Invalid("invalid_body", "Payload validation error: 'No enum match for: %v' on property options.passwordPolicy (allowed: none, low, fair, good, excellent).", v)
		}
	}
	if v, ok := o["password_complexity_options"]; ok && v != nil {
		pco, ok := v.(map[string]any)
		if !ok {
			return errs.Invalid("invalid_body", "Payload validation error: 'Expected type object' on property options.password_complexity_options.")
		}
		if n, ok := pco["min_length"]; ok {
			f, isNum := n.(float64)
			if !isNum || f != float64(int(f)) || f < 1 || f > 128 {
				return errs.Invalid("invalid_body", "Payload validation error: 'min_length must be an integer from 1 to 128' on property options.password_complexity_options.min_length.")
			}
		}
	}
	return nil
}
