package identity

import (
	"encoding/json"

	"github.com/usherid/usher/internal/errs"
)

// TenantSettings are the tenant-wide settings of /api/v2/tenants/settings.
type TenantSettings struct {
	FriendlyName          string              `json:"friendly_name,omitempty"`
	PictureURL            string              `json:"picture_url,omitempty"`
	SupportEmail          string              `json:"support_email,omitempty"`
	SupportURL            string              `json:"support_url,omitempty"`
	DefaultDirectory      string              `json:"default_directory,omitempty"`
	DefaultAudience       string              `json:"default_audience,omitempty"`
	DefaultRedirectionURI string              `json:"default_redirection_uri,omitempty"`
	SessionLifetime       float64             `json:"session_lifetime"`
	IdleSessionLifetime   float64             `json:"idle_session_lifetime"`
	AllowedLogoutURLs     []string            `json:"allowed_logout_urls"`
	EnabledLocales        []string            `json:"enabled_locales"`
	Flags                 map[string]bool     `json:"flags"`
	ChangePassword        *ChangePasswordPage `json:"change_password,omitempty"`
	ErrorPage             *ErrorPage          `json:"error_page,omitempty"`
	SandboxVersion        string              `json:"sandbox_version,omitempty"`
	DeviceFlow            map[string]any      `json:"device_flow,omitempty"`
	SessionCookie         map[string]any      `json:"session_cookie,omitempty"`
	Sessions              map[string]any      `json:"sessions,omitempty"`
	GuardianMFAPage       *ChangePasswordPage `json:"guardian_mfa_page,omitempty"`
	DefaultTokenQuota     map[string]any      `json:"default_token_quota,omitempty"`
	ACRValuesSupported    []string            `json:"acr_values_supported,omitempty"`
	MTLS                  map[string]any      `json:"mtls,omitempty"`
	// PageSources are the origins (a CDN) from which the tenant's own page
	// templates (Universal Login, the classic password-reset page) may load
	// scripts, styles, fonts and connections. Usher's own setting: Auth0
	// has none.
	PageSources []string `json:"usher_page_sources,omitempty"`
}

// ChangePasswordPage is the classic custom password-reset page: a Liquid template.
type ChangePasswordPage struct {
	Enabled bool   `json:"enabled"`
	HTML    string `json:"html"`
}

// ErrorPage sends people to the tenant's own error page.
type ErrorPage struct {
	HTML        string `json:"html"`
	ShowLogLink bool   `json:"show_log_link"`
	URL         string `json:"url"`
}

// DefaultTenantSettings are a new tenant's settings.
func DefaultTenantSettings() TenantSettings {
	return TenantSettings{
		FriendlyName:        "Usher",
		SessionLifetime:     168,
		IdleSessionLifetime: 72,
		AllowedLogoutURLs:   []string{},
		EnabledLocales:      []string{"en"},
		Flags:               map[string]bool{},
		DefaultDirectory:    DefaultConnection,
	}
}

func (s *TenantSettings) validate() error {
	if s.SessionLifetime < 1 || s.SessionLifetime > 8760 {
		return errs.Invalid("invalid_body", "Payload validation error: 'session_lifetime must be between 1 and 8760 hours' on property session_lifetime.")
	}
	if s.IdleSessionLifetime < 1 || s.IdleSessionLifetime > s.SessionLifetime {
		return errs.Invalid("invalid_body", "Payload validation error: 'idle_session_lifetime must be between 1 hour and session_lifetime' on property idle_session_lifetime.")
	}
	if s.SupportEmail != "" {
		if _, err := NormalizeEmail(s.SupportEmail); err != nil {
			return errs.Invalid("invalid_body", "Payload validation error: 'Object didn't pass validation for format email: %s' on property support_email.", s.SupportEmail)
		}
	}
	if err := checkRedirects("allowed_logout_urls", s.AllowedLogoutURLs, false); err != nil {
		return err
	}
	if err := checkRedirect("default_redirection_uri", s.DefaultRedirectionURI, false); err != nil {
		return err
	}
	if err := checkOrigins("usher_page_sources", s.PageSources); err != nil {
		return err
	}
	if err := checkRedirect("support_url", s.SupportURL, false); err != nil {
		return err
	}
	if s.ErrorPage != nil {
		if err := checkRedirect("error_page.url", s.ErrorPage.URL, false); err != nil {
			return err
		}
	}
	if s.AllowedLogoutURLs == nil {
		s.AllowedLogoutURLs = []string{}
	}
	if s.EnabledLocales == nil {
		s.EnabledLocales = []string{"en"}
	}
	if s.Flags == nil {
		s.Flags = map[string]bool{}
	}
	return nil
}

// sessionMinutes turns the session lifetimes in minutes, which Auth0's PATCH
// also takes (and the Deploy CLI sends), into the hours the settings hold.
func (p Patch) sessionMinutes() error {
	for _, name := range []string{"session_lifetime", "idle_session_lifetime"} {
		raw, ok := p[name+"_in_minutes"]
		if !ok {
			continue
		}
		var minutes float64
		if err := json.Unmarshal(raw, &minutes); err != nil {
			return errs.Invalid("invalid_body", "Payload validation error: 'Expected type number' on property %s_in_minutes.", name)
		}
		if _, both := p[name]; both {
			return errs.Invalid("invalid_body", "Payload validation error: 'Give %s or %s_in_minutes, not both'.", name, name)
		}
		hours, err := json.Marshal(minutes / 60)
		if err != nil {
			return errs.Invalid("invalid_body", "Payload validation error: 'Expected a finite number' on property %s_in_minutes.", name)
		}
		p[name] = hours
		delete(p, name+"_in_minutes")
	}
	return nil
}
