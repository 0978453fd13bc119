package mail

// Template is an email template in Auth0's shape (/api/v2/email-templates).
type Template struct {
	Name                   string `json:"template"`
	Body                   string `json:"body"`
	From                   string `json:"from"`
	Subject                string `json:"subject"`
	Syntax                 string `json:"syntax"`
	ResultURL              string `json:"resultUrl,omitempty"`
	URLLifetimeInSeconds   int    `json:"urlLifetimeInSeconds,omitempty"`
	IncludeEmailInRedirect bool   `json:"includeEmailInRedirect"`
	Enabled                bool   `json:"enabled"`
}

// TemplateNames are Auth0's email template names. The change-password link
// mail is reset_email; change_password and password_reset are Auth0's legacy names.
var TemplateNames = []string{
	"verify_email", "verify_email_by_code", "reset_email", "reset_email_by_code", "welcome_email",
	"blocked_account", "stolen_credentials", "enrollment_email", "mfa_oob_code", "user_invitation",
	"change_password", "password_reset", "async_approval",
}

// IsTemplateName reports whether name is one of Auth0's template names.
func IsTemplateName(name string) bool {
	for _, n := range TemplateNames {
		if n == name {
			return true
		}
	}
	return false
}

const (
	fiveDays = 5 * 24 * 60 * 60
)

// layout wraps a default body in a plain, readable HTML page.
//
// Its conditions test "x and x != \"\"": an empty string is true in Liquid,
// and osteele/liquid reads "blank" as an undefined variable (nil), so
// "x != blank" held for an empty support_email. The form used here means
// "set and not empty" in osteele/liquid and in Auth0's LiquidJS alike.
func layout(inner string) string {
	return `<!doctype html>
<html><body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; color: #222; max-width: 560px; margin: 0 auto; padding: 24px;">
` + inner + `
<p style="color:#666;font-size:13px;margin-top:32px;">{% if support_email and support_email != "" %}Questions? Write to <a href="mailto:{{ support_email }}">{{ support_email }}</a>.{% endif %}{% if support_url and support_url != "" %} Help: <a href="{{ support_url }}">{{ support_url }}</a>{% endif %}</p>
</body></html>`
}

// Pieces of the default texts. They test "x and x != \"\"" (see layout),
// and read only variables Auth0 has, or Usher's own (inviter,
// link_expires_at) in a way that reads well where those are missing, so
// that they render sensibly in Auth0 as well.
const (
	// greeting names the person when their name is known: a database
	// user's name is their email until someone sets it, which is no name.
	greeting = `{% if user.name and user.name != "" and user.name != user.email %}Hello {{ user.name }},` +
		`{% elsif user.given_name and user.given_name != "" %}Hello {{ user.given_name }},{% else %}Hello,{% endif %}`
	// invitedBy names who invited, or the tenant when the invitation
	// does not say.
	invitedBy = `{% if inviter.name and inviter.name != "" %}{{ inviter.name }} invited you to an account at {{ friendly_name }}.` +
		`{% else %}{{ friendly_name }} invited you to an account.{% endif %}`
)

// button is a link as a button, the time it works until, and the plain
// address under it for mail readers that show no button.
func button(href, label string) string {
	return `<p><a href="` + href + `" style="display:inline-block;background:#2455c3;color:#fff;padding:10px 18px;border-radius:4px;text-decoration:none;">` + label + `</a></p>
{% if link_expires_at and link_expires_at != "" %}<p>This link works until {{ link_expires_at }}.</p>
{% endif %}<p style="color:#666;font-size:13px;">If the button does not work, copy this address into your browser:<br>` + href + `</p>`
}

// DefaultTemplate returns the text a tenant starts with for name.
func DefaultTemplate(name string) Template {
	t := Template{Name: name, Syntax: "liquid", Enabled: true, IncludeEmailInRedirect: true}
	switch name {
	case "reset_email", "change_password", "password_reset":
		t.Subject = `{% if user.app_metadata.needsInvitation %}{% if inviter.name and inviter.name != "" %}{{ inviter.name }} invited you to {{ friendly_name }}` +
			`{% else %}You are invited to {{ friendly_name }}{% endif %}{% else %}Reset your {{ friendly_name }} password{% endif %}`
		t.URLLifetimeInSeconds = fiveDays
		t.Body = layout(`{% if user.app_metadata.needsInvitation %}<h1>You are invited to {{ friendly_name }}</h1>
<p>` + greeting + `</p>
<p>` + invitedBy + ` Choose a password to start.</p>
` + button(`{{ url }}type=invite`, "Accept the invitation") + `
{% else %}<h1>Reset your password</h1>
<p>` + greeting + `</p>
<p>Someone asked to reset the password of {{ user.email }} at {{ friendly_name }}. If it was you, choose a new password:</p>
` + button(`{{ url }}type=reset`, "Choose a new password") + `
<p>If it was not you, ignore this mail: your password stays as it is.</p>{% endif %}`)
	case "verify_email":
		t.Subject = `Verify your email for {{ friendly_name }}`
		t.URLLifetimeInSeconds = fiveDays
		t.Body = layout(`<h1>Verify your email</h1>
<p>Please confirm that {{ user.email }} is your address.</p>
<p><a href="{{ url }}" style="display:inline-block;background:#2455c3;color:#fff;padding:10px 18px;border-radius:4px;text-decoration:none;">Verify my email</a></p>`)
	case "verify_email_by_code":
		t.Subject = `Your {{ friendly_name }} verification code`
		t.Body = layout(`<p>Your verification code is <strong>{{ code }}</strong>.</p>`)
	case "reset_email_by_code":
		t.Subject = `Your {{ friendly_name }} password reset code`
		t.Body = layout(`<p>Your password reset code is <strong>{{ code }}</strong>.</p>`)
	case "welcome_email":
		t.Subject = `Welcome to {{ friendly_name }}`
		t.Body = layout(`<h1>Welcome</h1><p>Your account {{ user.email }} is ready.</p>`)
	case "blocked_account":
		t.Subject = `Your {{ friendly_name }} account was blocked`
		t.Body = layout(`<p>Your account {{ user.email }} was blocked after too many failed logins. <a href="{{ url }}">Unblock it</a>.</p>`)
	case "stolen_credentials":
		t.Subject = `Your {{ friendly_name }} password may have leaked`
		t.Body = layout(`<p>The password of {{ user.email }} appeared in a breach. Please change it.</p>`)
	case "enrollment_email":
		t.Subject = `Set up two-step verification for {{ friendly_name }}`
		t.Body = layout(`<p><a href="{{ url }}">Set up two-step verification</a>.</p>`)
	case "mfa_oob_code":
		t.Subject = `Your {{ friendly_name }} code`
		t.Body = layout(`<p>Your code is <strong>{{ code }}</strong>.</p>`)
	case "user_invitation":
		t.Subject = `You are invited to {{ friendly_name }}`
		t.URLLifetimeInSeconds = 7 * 24 * 60 * 60
		t.Body = layout(`<h1>You are invited</h1><p><a href="{{ url }}">Accept the invitation</a>.</p>`)
	case "async_approval":
		t.Subject = `A request waits for your approval`
		t.Body = layout(`<p><a href="{{ url }}">Review the request</a>.</p>`)
	}
	return t
}
