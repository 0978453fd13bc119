package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/usherid/usher/internal/cache"
	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/outbox"
	"github.com/usherid/usher/internal/secretbox"
)

// Tx is what a transaction of the Store reads and changes: the templates
// and the settings (the email provider is one).
type Tx interface {
	EmailTemplate(ctx context.Context, name string) (Template, error)
	SaveEmailTemplate(ctx context.Context, t Template) error
	Setting(ctx context.Context, name string) (string, error)
	PutSetting(ctx context.Context, name, value string) error
}

// Store keeps the tenant's email templates, its email provider and the outbox.
type Store interface {
	Tx
	// AtomicMail runs fn in one transaction; what fn reads, a template or a
	// setting, stored or not yet, is held until the transaction ends.
	AtomicMail(ctx context.Context, fn func(Tx) error) error
	CompareAndPutSetting(ctx context.Context, name, old, value string) (bool, error)

	Mails(ctx context.Context, q Query) ([]outbox.Mail, int, error)
	Mail(ctx context.Context, id string) (outbox.Mail, error)
	MailAttempts(ctx context.Context, id string) ([]Attempt, error)
	RetryMail(ctx context.Context, id string, now time.Time) error
}

// Query selects outbox mails, newest first.
type Query struct {
	Status, To    string
	Page, PerPage int
}

// Attempt is one delivery attempt of a mail.
type Attempt struct {
	At     time.Time
	Status string
	Reply  string
}

// Outbox returns a page of the outbox and how many mails match, as
// OutboxMail shows each.
func (s *Service) Outbox(ctx context.Context, q Query) ([]outbox.Mail, int, error) {
	mails, total, err := s.store.Mails(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	for i := range mails {
		if mails[i], err = s.shown(ctx, mails[i]); err != nil {
			return nil, 0, err
		}
	}
	return mails, total, nil
}

// OutboxMail returns one mail with every attempt to deliver it. Its link
// shows only in the development mailbox (see Mailbox), while the mail is
// pending; everywhere else it reads HiddenTicket.
func (s *Service) OutboxMail(ctx context.Context, id string) (outbox.Mail, []Attempt, error) {
	m, err := s.store.Mail(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return m, nil, errs.NotFound("inexistent_mail", "The mail does not exist.")
	} else if err != nil {
		return m, nil, err
	}
	if m, err = s.shown(ctx, m); err != nil {
		return m, nil, err
	}
	attempts, err := s.store.MailAttempts(ctx, id)
	return m, attempts, err
}

// shown is m as it may be shown: with its link in the development mailbox,
// and never with its ticket apart.
func (s *Service) shown(ctx context.Context, m outbox.Mail) (outbox.Mail, error) {
	if m.Ticket == "" {
		return m, nil
	}
	mailbox, err := s.Mailbox(ctx)
	if err != nil {
		return outbox.Mail{}, err
	}
	if mailbox {
		m = WithTicket(m)
	}
	m.Ticket = ""
	return m, nil
}

// Mailbox reports whether Usher is the development mailbox: no SMTP server
// is set up at all (neither USHER_SMTP_URL nor an email provider, enabled or
// not), so mail can only be read where it waits, and the outbox shows the
// links of pending mail. Once a server is set up, mail goes to the people
// it is for, and no link shows.
func (s *Service) Mailbox(ctx context.Context) (bool, error) {
	if s.envSMTP != nil {
		return false, nil
	}
	_, err := s.cachedProvider(ctx)
	switch {
	case err == nil:
		return false, nil
	case errs.KindOf(err) == errs.KindNotFound:
		return true, nil
	}
	return false, err
}

// RetryMail queues a dead or failed mail for delivery now. A mail whose
// link was dropped when it was given up cannot go again: its link is gone.
func (s *Service) RetryMail(ctx context.Context, id string) error {
	err := s.store.RetryMail(ctx, id, time.Now())
	if !errors.Is(err, errs.ErrNotFound) {
		return err
	}
	if m, err := s.store.Mail(ctx, id); err == nil && m.Status == outbox.Dead && m.Ticket == "" && HidesLink(m) {
		return errs.Invalid("not_retryable", "The link in this mail was removed when it was given up: send a new link instead (resend the invitation, or ask for a new password-change mail).")
	}
	return errs.Invalid("not_retryable", "Only a failed or dead mail can be retried.")
}

// Service manages email templates and the email provider, and renders mail.
type Service struct {
	store       Store
	engine      *Engine
	defaultFrom string
	envSMTP     *SMTP          // from USHER_SMTP_URL; the provider set through the API wins
	box         *secretbox.Box // seals the provider's password at rest; nil: kept as given
	// Every mail needs its template and the provider's From address, and
	// both change rarely: mail is rendered with them from these caches.
	templates *cache.TTL[string, Template]
	provider  *cache.TTL[struct{}, string] // the stored document, "null" for none
}

// settingsTTL bounds how long another instance's change to a template or to
// the provider can go unseen here; changes made through this instance are
// seen at once.
const settingsTTL = 2 * time.Second

// NewService returns a mail Service. defaultFrom is USHER_MAIL_FROM; envSMTP
// is USHER_SMTP_URL, nil when unset; box seals the provider's SMTP password
// (nil, for commands that never send mail nor set the provider: it is
// written as given and only a plain one opens).
func NewService(store Store, engine *Engine, defaultFrom string, envSMTP *SMTP, box *secretbox.Box) *Service {
	return &Service{store: store, engine: engine, defaultFrom: defaultFrom, envSMTP: envSMTP, box: box,
		templates: cache.New[string, Template](settingsTTL, len(TemplateNames)), provider: cache.New[struct{}, string](settingsTTL, 1)}
}

var errNoTemplate = errs.NotFound("inexistent_template", "Template not found.")

// Template returns the tenant's template, or its default text when the
// tenant never changed it.
func (s *Service) Template(ctx context.Context, name string) (Template, error) {
	return template(ctx, s.store, name)
}

// template is Template read through st: in a transaction, it holds the
// template until the transaction ends.
func template(ctx context.Context, st Tx, name string) (Template, error) {
	if !IsTemplateName(name) {
		return Template{}, errNoTemplate
	}
	t, err := st.EmailTemplate(ctx, name)
	if errors.Is(err, errs.ErrNotFound) {
		return DefaultTemplate(name), nil
	}
	return t, err
}

// cachedTemplate is Template from the cache, for rendering mail.
func (s *Service) cachedTemplate(ctx context.Context, name string) (Template, error) {
	return s.templates.Get(name, time.Now(), func() (Template, error) { return s.Template(ctx, name) })
}

// TemplatePatch is the body of PATCH /api/v2/email-templates/{name}.
type TemplatePatch struct {
	Template               *string `json:"template"`
	Body                   *string `json:"body"`
	From                   *string `json:"from"`
	Subject                *string `json:"subject"`
	Syntax                 *string `json:"syntax"`
	ResultURL              *string `json:"resultUrl"`
	URLLifetimeInSeconds   *int    `json:"urlLifetimeInSeconds"`
	IncludeEmailInRedirect *bool   `json:"includeEmailInRedirect"`
	Enabled                *bool   `json:"enabled"`
}

// CreateTemplate saves a template with POST's semantics: a template the
// tenant already set is a conflict; one still at its default is replaced.
func (s *Service) CreateTemplate(ctx context.Context, t Template) (Template, error) {
	if !IsTemplateName(t.Name) {
		return Template{}, errs.Invalid("invalid_body", "Payload validation error: 'No enum match for: %q' on property template.", t.Name)
	}
	defer s.templates.Forget()
	return t, s.store.AtomicMail(ctx, func(st Tx) error {
		if _, err := st.EmailTemplate(ctx, t.Name); err == nil {
			return errs.Conflict("template_conflict", "Template ("+t.Name+") already exists.")
		} else if !errors.Is(err, errs.ErrNotFound) {
			return err
		}
		return s.save(ctx, st, t)
	})
}

// ReplaceTemplate saves t whole (PUT).
func (s *Service) ReplaceTemplate(ctx context.Context, name string, t Template) (Template, error) {
	if !IsTemplateName(name) {
		return Template{}, errNoTemplate
	}
	if t.Name != "" && t.Name != name {
		return Template{}, errs.Invalid("invalid_body", "The template property provided in payload must match template in the URL.")
	}
	t.Name = name
	defer s.templates.Forget()
	return t, s.save(ctx, s.store, t)
}

// UpdateTemplate changes the properties named in p (PATCH), in one
// transaction with the read of the others: concurrent PATCHes of different
// properties all keep their change.
func (s *Service) UpdateTemplate(ctx context.Context, name string, p TemplatePatch) (Template, error) {
	if !IsTemplateName(name) {
		return Template{}, errNoTemplate
	}
	if p.Template != nil && *p.Template != name {
		return Template{}, errs.Invalid("invalid_body", "The template property provided in payload must match template in the URL.")
	}
	var t Template
	defer s.templates.Forget()
	err := s.store.AtomicMail(ctx, func(st Tx) error {
		var err error
		if t, err = template(ctx, st, name); err != nil {
			return err
		}
		p.apply(&t)
		return s.save(ctx, st, t)
	})
	return t, err
}

// apply sets on t the properties p names.
func (p TemplatePatch) apply(t *Template) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&t.Body, p.Body)
	set(&t.From, p.From)
	set(&t.Subject, p.Subject)
	set(&t.Syntax, p.Syntax)
	set(&t.ResultURL, p.ResultURL)
	if p.URLLifetimeInSeconds != nil {
		t.URLLifetimeInSeconds = *p.URLLifetimeInSeconds
	}
	if p.IncludeEmailInRedirect != nil {
		t.IncludeEmailInRedirect = *p.IncludeEmailInRedirect
	}
	if p.Enabled != nil {
		t.Enabled = *p.Enabled
	}
}

// save validates a template, Liquid included, and stores it through st: a
// broken template is refused now rather than failing when a mail is sent.
// The caller forgets the cached templates once the change is stored.
func (s *Service) save(ctx context.Context, st Tx, t Template) error {
	if t.Syntax == "" {
		t.Syntax = "liquid"
	}
	switch {
	case t.Syntax != "liquid":
		return errs.Invalid("invalid_body", "Payload validation error: 'No enum match for: %q' on property syntax (allowed: liquid).", t.Syntax)
	case strings.TrimSpace(t.Body) == "":
		return errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: body'.")
	case t.URLLifetimeInSeconds < 0:
		return errs.Invalid("invalid_body", "Payload validation error: 'urlLifetimeInSeconds must be at least 0'.")
	}
	if err := identity.CheckRedirect("resultUrl", t.ResultURL); err != nil {
		return err
	}
	for _, part := range []struct{ name, src string }{{"body", t.Body}, {"subject", t.Subject}, {"from", t.From}} {
		if err := s.engine.Check(t.Name, part.src); err != nil {
			return errs.Invalid("invalid_template", "The %s of %s is not valid Liquid: %v", part.name, t.Name, err)
		}
	}
	return st.SaveEmailTemplate(ctx, t)
}

// Settings returns the link settings of a template.
func (s *Service) Settings(ctx context.Context, name string) (identity.MailSettings, error) {
	t, err := s.cachedTemplate(ctx, name)
	if err != nil {
		return identity.MailSettings{}, err
	}
	return identity.MailSettings{Enabled: t.Enabled, URLLifetime: time.Duration(t.URLLifetimeInSeconds) * time.Second,
		ResultURL: t.ResultURL, IncludeEmail: t.IncludeEmailInRedirect}, nil
}

// Vars are the Liquid variables Auth0 gives email templates.
func Vars(d identity.MailData) map[string]any {
	u := d.User
	vars := map[string]any{
		"user": map[string]any{
			"user_id": u.ID, "email": u.Email, "email_verified": u.EmailVerified, "username": u.Username,
			"name": u.Profile.Name, "nickname": u.Profile.Nickname, "given_name": u.Profile.GivenName,
			"family_name": u.Profile.FamilyName, "picture": u.Profile.Picture, "phone_number": u.PhoneNumber,
			"app_metadata": u.AppMetadata, "user_metadata": u.UserMetadata,
		},
		"url":              d.URL,
		"connection":       map[string]any{"name": d.Connection},
		"tenant":           d.Tenant.FriendlyName,
		"friendly_name":    d.Tenant.FriendlyName,
		"support_email":    d.Tenant.SupportEmail,
		"support_url":      d.Tenant.SupportURL,
		"request_language": "en",
		// Usher's own, beside Auth0's: who invited (Auth0's name for it in
		// invitation mail) and until when the link works. A template
		// written for Auth0 never names them; one that does reads them as
		// empty where they are unknown.
		"inviter":         map[string]any{"name": d.Inviter},
		"link_expires_at": ExpiryText(d.LinkExpires),
	}
	if c := d.Client; c != nil {
		app := map[string]any{"name": c.Name, "clientID": c.ClientID, "client_id": c.ClientID}
		if len(c.Callbacks) > 0 {
			if cb, err := url.Parse(c.Callbacks[0]); err == nil {
				app["callback_domain"] = cb.Scheme + "://" + cb.Host
			}
		}
		vars["application"], vars["client"] = app, app
	}
	return vars
}

// Compose renders a template for d, ready for the outbox: the token of
// d.URL's ticket is kept apart (HideTicket). ok is false when the template
// is disabled.
func (s *Service) Compose(ctx context.Context, name string, d identity.MailData) (outbox.Mail, bool, error) {
	t, err := s.cachedTemplate(ctx, name)
	if err != nil || !t.Enabled {
		return outbox.Mail{}, false, err
	}
	m, err := s.render(ctx, t, d)
	if err != nil {
		return m, false, err
	}
	return HideTicket(m, ticketOf(d.URL)), true, nil
}

// ticketOf is the ticket token in a link Usher made (…?ticket=TOKEN#), or
// "" when link carries none. Only a token of a ticket's shape counts: a
// short one would be replaced wherever its letters happen to appear.
func ticketOf(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	token := u.Query().Get("ticket")
	if len(token) < 32 || strings.Trim(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return ""
	}
	return token
}

// Preview renders t as it would be sent for d, whether or not t is saved
// or enabled: the dashboard shows a template while it is being edited.
func (s *Service) Preview(ctx context.Context, t Template, d identity.MailData) (outbox.Mail, error) {
	return s.render(ctx, t, d)
}

func (s *Service) render(ctx context.Context, t Template, d identity.MailData) (outbox.Mail, error) {
	name, vars := t.Name, Vars(d)
	var m outbox.Mail
	var err error
	// Only the body is HTML: the subject and From are headers, where an
	// escaped "&amp;" would show as such.
	if m.HTML, err = s.engine.RenderHTML(name, t.Body, vars); err != nil {
		return m, err
	}
	if m.Subject, err = s.engine.Render(name, t.Subject, vars); err != nil {
		return m, err
	}
	from := t.From
	if from == "" {
		from = s.defaultFromAddress(ctx)
	}
	if m.From, err = s.engine.Render(name, from, vars); err != nil {
		return m, err
	}
	if t.From == "" {
		m.From = NamedFrom(m.From, d.Tenant.FriendlyName)
	}
	m.To, m.Text = d.User.Email, TextOf(m.HTML)
	m.Subject = strings.TrimSpace(m.Subject)
	return m, nil
}

// ExpiryText is when a link stops working, as a mail says it: a date and
// time in UTC that reads the same to everyone ("" for no time).
func ExpiryText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("Monday 2 January 2006, 15:04 UTC")
}

// NamedFrom gives a default From that is only an address (USHER_MAIL_FROM
// or the provider's default_from_address) the tenant's name, so that mail
// shows who it is from; a From with a name, or one that is not an address,
// is left as it is.
func NamedFrom(from, name string) string {
	name = strings.Join(strings.FieldsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }), " ")
	name = strings.TrimSpace(name)
	a, err := netmail.ParseAddress(from)
	if err != nil || a.Name != "" || name == "" {
		return from
	}
	if strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 !#$%&'*+-/=?^_`{|}~") != "" {
		name = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
	}
	return name + " <" + a.Address + ">"
}

// SendTest sends a short mail to to through the email provider now, not
// through the outbox, and returns the server's reply: an administrator
// checking the settings wants the answer at once.
func (s *Service) SendTest(ctx context.Context, to, messageDomain string) (Result, error) {
	tr, err := s.Transport(ctx)
	if err != nil {
		return Result{}, err
	}
	if tr == nil {
		return Result{}, errs.Invalid("no_email_provider", "No email provider is set up (nor USHER_SMTP_URL): mail waits in the outbox.")
	}
	html := "<p>This is a test mail from Usher. If you can read it, mail gets through.</p>"
	m := outbox.Mail{ID: "test", MessageID: fmt.Sprintf("test-%d@%s", time.Now().UnixNano(), messageDomain), Template: "test",
		To: to, From: NamedFrom(s.defaultFromAddress(ctx), "Usher"), Subject: "Usher test mail", HTML: html, Text: TextOf(html)}
	return tr.Send(ctx, []outbox.Mail{m})[0], nil
}

// Provider is the tenant's email provider (/api/v2/emails/provider).
type Provider struct {
	Name               string         `json:"name"`
	Enabled            *bool          `json:"enabled,omitempty"`
	DefaultFromAddress string         `json:"default_from_address,omitempty"`
	Credentials        *Credentials   `json:"credentials,omitempty"`
	Settings           map[string]any `json:"settings,omitempty"`
}

// Credentials are the provider's SMTP credentials. The password is write-only.
type Credentials struct {
	SMTPHost string `json:"smtp_host,omitempty"`
	SMTPPort int    `json:"smtp_port,omitempty"`
	SMTPUser string `json:"smtp_user,omitempty"`
	SMTPPass string `json:"smtp_pass,omitempty"`
}

const providerSetting = "email_provider"

// passwordLabel is what the provider's password is sealed for.
const passwordLabel = "settings/" + providerSetting + "/smtp_pass"

// EmailProvider returns the configured provider, secrets included; callers
// showing it must drop the password.
func (s *Service) EmailProvider(ctx context.Context) (Provider, error) {
	return s.emailProvider(ctx, s.store)
}

// emailProvider is EmailProvider read through st: in a transaction, it
// holds the provider until the transaction ends.
func (s *Service) emailProvider(ctx context.Context, st Tx) (Provider, error) {
	p, err := parseProvider(st.Setting(ctx, providerSetting))
	if err != nil {
		return p, err
	}
	return p, s.openPassword(&p)
}

// openPassword opens p's sealed password in place.
func (s *Service) openPassword(p *Provider) error {
	if p.Credentials == nil || p.Credentials.SMTPPass == "" {
		return nil
	}
	c := *p.Credentials
	var err error
	if c.SMTPPass, err = s.box.Open(c.SMTPPass, passwordLabel); err != nil {
		return fmt.Errorf("email provider password: %w", err)
	}
	p.Credentials = &c
	return nil
}

// SealPassword seals the provider's password when a database written before
// encryption keeps it in plain text, and reports whether it did. A change
// made meanwhile through another instance is never overwritten.
func (s *Service) SealPassword(ctx context.Context) (bool, error) {
	doc, err := s.store.Setting(ctx, providerSetting)
	p, perr := parseProvider(doc, err)
	if errs.KindOf(perr) == errs.KindNotFound {
		return false, nil
	} else if perr != nil {
		return false, perr
	}
	if p.Credentials == nil || p.Credentials.SMTPPass == "" || secretbox.IsSealed(p.Credentials.SMTPPass) {
		return false, nil
	}
	sealed, err := s.sealed(p)
	if err != nil {
		return false, err
	}
	defer s.provider.Forget()
	return s.store.CompareAndPutSetting(ctx, providerSetting, doc, sealed)
}

// sealed is p's stored document, its password sealed.
func (s *Service) sealed(p Provider) (string, error) {
	if p.Credentials != nil && p.Credentials.SMTPPass != "" && s.box != nil {
		c := *p.Credentials
		var err error
		if c.SMTPPass, err = s.box.Seal(c.SMTPPass, passwordLabel); err != nil {
			return "", fmt.Errorf("email provider password: %w", err)
		}
		p.Credentials = &c
	}
	doc, err := json.Marshal(p)
	return string(doc), err
}

// cachedProvider is the provider from the cache, for sending mail; its
// password stays sealed until Transport needs it, so that rendering mail
// (which needs only the From address) works without the key.
func (s *Service) cachedProvider(ctx context.Context) (Provider, error) {
	doc, err := s.provider.Get(struct{}{}, time.Now(), func() (string, error) {
		doc, err := s.store.Setting(ctx, providerSetting)
		if errors.Is(err, errs.ErrNotFound) {
			return "null", nil
		}
		return doc, err
	})
	return parseProvider(doc, err)
}

// parseProvider reads the provider's stored document.
func parseProvider(doc string, err error) (Provider, error) {
	if errors.Is(err, errs.ErrNotFound) || doc == "null" {
		return Provider{}, errs.NotFound("inexistent_email_provider", "Email provider has not been configured.")
	} else if err != nil {
		return Provider{}, err
	}
	var p Provider
	return p, json.Unmarshal([]byte(doc), &p)
}

// CreateEmailProvider configures the provider; a second one is a conflict,
// also when two are created at once.
func (s *Service) CreateEmailProvider(ctx context.Context, p Provider) (Provider, error) {
	return s.changeProvider(ctx, func(cur *Provider, missing error) error {
		if missing == nil {
			return errs.Conflict("email_provider_conflict", "Email provider is already configured.")
		}
		*cur = p.withDefaults()
		return nil
	})
}

// UpdateEmailProvider changes the properties set in p; credentials are
// replaced whole.
func (s *Service) UpdateEmailProvider(ctx context.Context, p Provider) (Provider, error) {
	return s.changeProvider(ctx, func(cur *Provider, missing error) error {
		if missing != nil {
			return missing
		}
		p.apply(cur)
		return nil
	})
}

// SetEmailProvider is the dashboard's form: it configures the provider
// when there is none, else changes the properties set in p, and a password
// left empty keeps the one saved.
func (s *Service) SetEmailProvider(ctx context.Context, p Provider) (Provider, error) {
	return s.changeProvider(ctx, func(cur *Provider, missing error) error {
		if missing != nil {
			*cur = p.withDefaults()
			return nil
		}
		if p.Credentials != nil && p.Credentials.SMTPPass == "" && cur.Credentials != nil {
			c := *p.Credentials
			c.SMTPPass = cur.Credentials.SMTPPass
			p.Credentials = &c
		}
		p.apply(cur)
		return nil
	})
}

// changeProvider stores what change makes of the provider (missing is the
// error that says there is none, else nil), read in the same transaction:
// concurrent changes of different properties all keep theirs.
func (s *Service) changeProvider(ctx context.Context, change func(cur *Provider, missing error) error) (Provider, error) {
	var out Provider
	defer s.provider.Forget()
	err := s.store.AtomicMail(ctx, func(st Tx) error {
		cur, missing := s.emailProvider(ctx, st)
		if missing != nil && errs.KindOf(missing) != errs.KindNotFound {
			return missing
		}
		if err := change(&cur, missing); err != nil {
			return err
		}
		out = cur
		return s.saveProvider(ctx, st, cur)
	})
	return out, err
}

// withDefaults is a new provider p: enabled unless it says otherwise.
func (p Provider) withDefaults() Provider {
	if p.Enabled == nil {
		on := true
		p.Enabled = &on
	}
	return p
}

// apply sets on cur the properties p sets.
func (p Provider) apply(cur *Provider) {
	if p.Name != "" {
		cur.Name = p.Name
	}
	if p.Enabled != nil {
		cur.Enabled = p.Enabled
	}
	if p.DefaultFromAddress != "" {
		cur.DefaultFromAddress = p.DefaultFromAddress
	}
	if p.Credentials != nil {
		cur.Credentials = p.Credentials
	}
	if p.Settings != nil {
		cur.Settings = p.Settings
	}
}

// DeleteEmailProvider removes the provider; mail falls back to USHER_SMTP_URL.
func (s *Service) DeleteEmailProvider(ctx context.Context) error {
	defer s.provider.Forget()
	return s.store.PutSetting(ctx, providerSetting, "null")
}

// saveProvider validates p and stores it through st; the caller forgets
// the cached provider once the change is stored.
func (s *Service) saveProvider(ctx context.Context, st Tx, p Provider) error {
	if p.Name != "smtp" {
		return errs.Invalid("invalid_body", "Usher delivers mail over SMTP: the provider name must be \"smtp\", not %q.", p.Name)
	}
	c := p.Credentials
	if c == nil || c.SMTPHost == "" || c.SMTPPort <= 0 || c.SMTPPort > 65535 {
		return errs.Invalid("invalid_body", "Payload validation error: 'credentials need smtp_host and smtp_port (and smtp_user, smtp_pass for servers that ask)'.")
	}
	doc, err := s.sealed(p)
	if err != nil {
		return err
	}
	return st.PutSetting(ctx, providerSetting, doc)
}

// DefaultFrom is the From of mail whose template names none: the email
// provider's default From address, else USHER_MAIL_FROM.
func (s *Service) DefaultFrom(ctx context.Context) string { return s.defaultFromAddress(ctx) }

func (s *Service) defaultFromAddress(ctx context.Context) string {
	if p, err := s.cachedProvider(ctx); err == nil && p.DefaultFromAddress != "" {
		return p.DefaultFromAddress
	}
	return s.defaultFrom
}

// Transport returns where mail goes now: the provider set through the API
// when it is enabled, else USHER_SMTP_URL, else nil (mail waits in the outbox).
func (s *Service) Transport(ctx context.Context) (Transport, error) {
	p, err := s.cachedProvider(ctx)
	if err != nil && errs.KindOf(err) != errs.KindNotFound {
		return nil, err
	}
	if err == nil && p.Name != "" {
		if p.Enabled == nil || !*p.Enabled || p.Credentials == nil {
			return nil, nil
		}
		if err := s.openPassword(&p); err != nil {
			return nil, err
		}
		c := p.Credentials
		return SMTP{Host: c.SMTPHost, Port: c.SMTPPort, Implicit: c.SMTPPort == 465, User: c.SMTPUser, Password: c.SMTPPass}, nil
	}
	if s.envSMTP != nil {
		return *s.envSMTP, nil
	}
	return nil, nil
}
