package features

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/usherid/usher/internal/errs"
)

// Catalog holds every settings document this package describes, one field
// per Management API endpoint that reads or writes it.
type Catalog struct {
	// Attack protection (/api/v2/attack-protection/…).
	BruteForce, BreachedPasswords, SuspiciousIPs, BotDetection, Captcha Setting
	// Risk assessment (/api/v2/risk-assessments/settings[/new-device]).
	RiskAssessment, NewDevice Setting
	// SupplementalSignals is /api/v2/supplemental-signals.
	SupplementalSignals Setting
	// Prompts is /api/v2/prompts: how the hosted login asks for credentials.
	Prompts Setting
	// ScreenRendering is one screen of /api/v2/prompts/{prompt}/screen/{screen}/rendering.
	ScreenRendering Setting
	// MFAPolicies is /api/v2/guardian/policies.
	MFAPolicies Setting
	// The SMS and voice factors' message templates (/api/v2/guardian/factors/{sms,phone}/templates).
	SMSTemplates, PhoneTemplates Setting
	// The factors' delivery providers (/api/v2/guardian/factors/…/providers/…).
	SMSTwilio, PhoneTwilio, PushSNS, PushAPNS, PushFCM, PushFCMv1 Setting
	// The factors' chosen providers (/api/v2/guardian/factors/…/selected-provider).
	SMSProvider, PhoneProvider, PushProvider Setting
	// PhoneMessageTypes is /api/v2/guardian/factors/phone/message-types.
	PhoneMessageTypes Setting
	// partials are a prompt's custom partials (/api/v2/prompts/{prompt}/partials).
	partials Setting
	// factor is one MFA factor's settings (PUT /api/v2/guardian/factors/{name}).
	factor Setting
}

// factorNames are the MFA factors Auth0 lists, in its order.
var factorNames = []string{"sms", "push-notification", "otp", "email", "duo", "webauthn-roaming", "webauthn-platform", "recovery-code"}

// promptName is the shape of a prompt's name in a path.
var promptName = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

const unchanged = "these settings can only be written back as they read"

// New returns the catalog. maxFailedLogins is how many failed logins for one
// user from one address Usher's brute-force protection allows.
func New(maxFailedLogins int) *Catalog {
	noMFA := "people sign in with a password alone, so no second factor, provider or policy can be set, and " + unchanged
	return &Catalog{
		BruteForce: fixed("Changing brute-force protection",
			fmt.Sprintf("Usher always blocks a user's logins from an address after %d failed ones (until the block is lifted or the password changes), and a database connection may switch it off with options.brute_force_protection; %s", maxFailedLogins, unchanged),
			map[string]any{"enabled": true, "shields": []string{"block"}, "mode": "count_per_identifier_and_ip", "allowlist": []string{}, "max_attempts": maxFailedLogins}),
		BreachedPasswords: fixed("Breached password detection", unchanged,
			map[string]any{"enabled": false, "shields": []string{}, "admin_notification_frequency": []string{}, "method": "standard",
				"stage": map[string]any{"pre-user-registration": map[string]any{"shields": []string{}}, "pre-change-password": map[string]any{"shields": []string{}}}}),
		SuspiciousIPs: fixed("Suspicious IP throttling", "each endpoint has its own limit per address instead, and "+unchanged,
			map[string]any{"enabled": false, "shields": []string{"admin_notification", "block"}, "allowlist": []string{},
				"stage": map[string]any{"pre-login": map[string]any{"max_attempts": 100, "rate": 864000}, "pre-user-registration": map[string]any{"max_attempts": 50, "rate": 1200}}}),
		BotDetection: absent("Bot detection", ""),
		Captcha:      absent("CAPTCHA", ""),

		RiskAssessment:      fixed("Risk assessment", unchanged, map[string]any{"enabled": false}),
		NewDevice:           fixed("Risk assessment", unchanged, map[string]any{"remember_for": 30}),
		SupplementalSignals: fixed("Supplemental signals", unchanged, map[string]any{"akamai_enabled": false}),

		Prompts: fixed("Changing the login experience",
			"the hosted login is Universal Login asking for the email and the password on one page; "+unchanged,
			map[string]any{"universal_login_experience": "new", "identifier_first": false}),
		ScreenRendering: fixed("Advanced customization of the login screens",
			"every screen renders in the standard mode; customize the hosted pages with the Universal Login template (PUT /api/v2/branding/templates/universal-login), the branding and the custom texts",
			map[string]any{"rendering_mode": "standard"}),
		partials: fixed("Custom prompt partials",
			"customize the hosted pages with the Universal Login template (PUT /api/v2/branding/templates/universal-login), the branding and the custom texts",
			map[string]any{}),

		factor:      fixed("Multi-factor authentication", noMFA, map[string]any{"enabled": false}),
		MFAPolicies: fixed("Multi-factor authentication", noMFA, []string{}),
		SMSTemplates: fixed("Multi-factor authentication", noMFA, map[string]any{
			"enrollment_message":   "{{code}} is your code to enroll a phone with {{tenant.friendly_name}}.",
			"verification_message": "{{code}} is your {{tenant.friendly_name}} verification code.",
		}),
		PhoneTemplates: fixed("Multi-factor authentication", noMFA, map[string]any{
			"enrollment_message":   "{{code}} is your code to enroll a phone with {{tenant.friendly_name}}.",
			"verification_message": "{{code}} is your {{tenant.friendly_name}} verification code.",
		}),
		SMSTwilio:         fixed("Multi-factor authentication", noMFA, map[string]any{}),
		PhoneTwilio:       fixed("Multi-factor authentication", noMFA, map[string]any{}),
		PushSNS:           fixed("Multi-factor authentication", noMFA, map[string]any{}),
		PushAPNS:          fixed("Multi-factor authentication", noMFA, map[string]any{}),
		PushFCM:           fixed("Multi-factor authentication", noMFA, map[string]any{}),
		PushFCMv1:         fixed("Multi-factor authentication", noMFA, map[string]any{}),
		SMSProvider:       fixed("Multi-factor authentication", noMFA, map[string]any{"provider": "auth0"}),
		PhoneProvider:     fixed("Multi-factor authentication", noMFA, map[string]any{"provider": "auth0"}),
		PushProvider:      fixed("Multi-factor authentication", noMFA, map[string]any{"provider": "guardian"}),
		PhoneMessageTypes: fixed("Multi-factor authentication", noMFA, map[string]any{"message_types": []string{}}),
	}
}

// Factors lists the MFA factors as Auth0's GET /api/v2/guardian/factors
// does: every one of them, disabled.
func (c *Catalog) Factors() []any {
	out := make([]any, len(factorNames))
	for i, name := range factorNames {
		out[i] = map[string]any{"name": name, "enabled": false, "trial_expired": false}
	}
	return out
}

// Factor returns the settings of the MFA factor name.
func (c *Catalog) Factor(name string) (Setting, error) {
	for _, n := range factorNames {
		if n == name {
			return c.factor, nil
		}
	}
	return Setting{}, errs.Invalid("invalid_uri", "Path validation error: 'No enum match' on property name (allowed: %s).", strings.Join(factorNames, ", "))
}

// Partials returns the custom partials of prompt: none.
func (c *Catalog) Partials(prompt string) (Setting, error) {
	if !promptName.MatchString(prompt) {
		return Setting{}, errs.Invalid("invalid_uri", "Path validation error: 'Invalid value' on property prompt.")
	}
	return c.partials, nil
}
