package dashboard

import (
	"errors"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/outbox"
)

// mailData is the mail settings page.
type mailData struct {
	Provider   mail.Provider
	HasProvide bool
	Delivering bool // some SMTP server is set up (the provider or USHER_SMTP_URL)
	InUse      inUse
	Templates  []templateRow
	TestTo     string
	TestReply  string
	TestOK     bool
}

// templateRow is a template as the Mail page lists it: what Usher sends it
// for, and how long the links it carries live.
type templateRow struct {
	mail.Template
	SentFor, Lifetime string
}

// sentFor says what Usher mails each template for; it sends no other (the
// others are kept so that Auth0's API and tools find them).
var sentFor = map[string]string{
	"reset_email":  "Invitations and password resets",
	"verify_email": "Email verification",
}

// linkLifetime is how long the links of template t live, for a person; ""
// for a template Usher does not send. Invitation and reset links follow one
// setting, the one identity uses: the reset_email template's.
func (d *Dashboard) linkLifetime(r *http.Request, t mail.Template) (string, error) {
	switch t.Name {
	case "reset_email":
		life, err := d.ids.LinkLifetime(r.Context())
		return lifetime(life), err
	case "verify_email":
		life := identity.DefaultLinkLifetime
		if t.URLLifetimeInSeconds > 0 {
			life = time.Duration(t.URLLifetimeInSeconds) * time.Second
		}
		return lifetime(life), nil
	}
	return "", nil
}

// inUse is the SMTP server mail goes through now, as serve's delivery
// worker finds it: never its password, only whether there is one.
type inUse struct {
	// By says where the server was set up: "provider" (the email provider
	// saved on this page or through the Management API), "environment"
	// (USHER_SMTP_URL or --smtp-url), "off" (a provider turned off), or
	// "" (none: mail waits in the outbox).
	By          string
	Host        string
	Port        int
	User        string
	HasPassword bool
	ImplicitTLS bool
	From        string
}

// mailInUse describes tr, the transport the delivery worker uses now.
func (d *Dashboard) mailInUse(r *http.Request, tr mail.Transport, hasProvider bool, p mail.Provider) inUse {
	u := inUse{From: d.mails.DefaultFrom(r.Context())}
	switch smtp, ok := tr.(mail.SMTP); {
	case tr == nil && hasProvider:
		u.By = "off"
	case tr == nil:
	case !ok:
		u.By = "environment"
	default:
		u.By = "environment"
		if hasProvider && p.Enabled != nil && *p.Enabled {
			u.By = "provider"
		}
		u.Host, u.Port, u.User, u.HasPassword, u.ImplicitTLS = smtp.Host, smtp.Port, smtp.User, smtp.Password != "", smtp.Implicit
	}
	return u
}

func (d *Dashboard) loadMail(r *http.Request) (mailData, error) {
	var data mailData
	p, err := d.mails.EmailProvider(r.Context())
	switch {
	case err == nil:
		data.Provider, data.HasProvide = p, true
		if p.Credentials != nil {
			p.Credentials.SMTPPass = "" // never shown
		}
	case errs.KindOf(err) != errs.KindNotFound:
		return data, err
	}
	tr, err := d.mails.Transport(r.Context())
	if err != nil {
		return data, err
	}
	data.Delivering = tr != nil
	data.InUse = d.mailInUse(r, tr, data.HasProvide, data.Provider)
	for _, name := range mail.TemplateNames {
		t, err := d.mails.Template(r.Context(), name)
		if err != nil {
			return data, err
		}
		life, err := d.linkLifetime(r, t)
		if err != nil {
			return data, err
		}
		data.Templates = append(data.Templates, templateRow{Template: t, SentFor: sentFor[t.Name], Lifetime: life})
	}
	return data, nil
}

func (d *Dashboard) mailSettings() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		data, err := d.loadMail(r)
		if err != nil {
			d.fail(w, err)
			return
		}
		data.TestTo = s.user.Email
		d.render(w, http.StatusOK, "mail", s.view("Mail", "mail", "", data))
	})
}

// saveProvider sets the SMTP server; an empty password keeps the one saved.
func (d *Dashboard) saveProvider() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		port, _ := strconv.Atoi(strings.TrimSpace(r.PostFormValue("port")))
		enabled := r.PostFormValue("enabled") == "on"
		p := mail.Provider{Name: "smtp", Enabled: &enabled, DefaultFromAddress: strings.TrimSpace(r.PostFormValue("from")),
			Credentials: &mail.Credentials{SMTPHost: strings.TrimSpace(r.PostFormValue("host")), SMTPPort: port,
				SMTPUser: strings.TrimSpace(r.PostFormValue("user")), SMTPPass: r.PostFormValue("password")}}
		if _, err := d.mails.SetEmailProvider(r.Context(), p); err != nil {
			status, msg, ok := d.problem(w, err)
			if !ok {
				return
			}
			data, lerr := d.loadMail(r)
			if lerr != nil {
				d.fail(w, lerr)
				return
			}
			p.Credentials.SMTPPass = ""
			data.Provider, data.HasProvide, data.TestTo = p, true, s.user.Email
			d.render(w, status, "mail", s.view("Mail", "mail", msg, data))
			return
		}
		d.redirect(w, r, "/mail", "provider")
	})
}

func (d *Dashboard) deleteProvider() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		if err := d.mails.DeleteEmailProvider(r.Context()); err != nil {
			d.showError(w, s, err)
			return
		}
		d.redirect(w, r, "/mail", "provider-deleted")
	})
}

// testMail sends a mail now and shows the server's answer.
func (d *Dashboard) testMail() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		data, err := d.loadMail(r)
		if err != nil {
			d.fail(w, err)
			return
		}
		data.TestTo = strings.TrimSpace(r.PostFormValue("to"))
		host := "usher"
		if u, err := url.Parse(d.base); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		res, err := d.mails.SendTest(r.Context(), data.TestTo, host)
		status := http.StatusOK
		switch {
		case err != nil:
			var msg string
			var ok bool
			if status, msg, ok = d.problem(w, err); !ok {
				return
			}
			data.TestReply = msg
		case res.Err != nil:
			status, data.TestReply = http.StatusBadGateway, res.Reply
			if data.TestReply == "" {
				data.TestReply = res.Err.Error()
			}
		default:
			data.TestOK, data.TestReply = true, res.Reply
		}
		d.render(w, status, "mail", s.view("Mail", "mail", "", data))
	})
}

// templateData is a template's editor.
type templateData struct {
	Template    mail.Template
	PreviewUser string
	Saved       bool
	// SentFor and Lifetime are as the Mail page lists them, for the saved template.
	SentFor, Lifetime string
}

// editTemplate is the editor's data for t, the saved template named name
// telling what it is sent for and how long its links live.
func (d *Dashboard) editTemplate(r *http.Request, name string, t mail.Template, previewUser string, saved bool) (templateData, error) {
	data := templateData{Template: t, PreviewUser: previewUser, Saved: saved, SentFor: sentFor[name]}
	cur, err := d.mails.Template(r.Context(), name)
	if errs.KindOf(err) == errs.KindNotFound {
		return data, nil
	} else if err != nil {
		return data, err
	}
	data.Lifetime, err = d.linkLifetime(r, cur)
	return data, err
}

func (d *Dashboard) template() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		t, err := d.mails.Template(r.Context(), r.PathValue("name"))
		if err != nil {
			d.showError(w, s, err)
			return
		}
		data, err := d.editTemplate(r, t.Name, t, s.user.Email, true)
		if err != nil {
			d.fail(w, err)
			return
		}
		d.render(w, http.StatusOK, "template", s.view("Template "+t.Name, "mail", "", data))
	})
}

// templateFrom reads the template editor's form.
func templateFrom(r *http.Request, name string) mail.Template {
	life, _ := strconv.Atoi(strings.TrimSpace(r.PostFormValue("lifetime")))
	return mail.Template{Name: name, Body: r.PostFormValue("body"), Subject: r.PostFormValue("subject"), From: r.PostFormValue("from"),
		Syntax: "liquid", ResultURL: strings.TrimSpace(r.PostFormValue("result_url")), URLLifetimeInSeconds: life,
		IncludeEmailInRedirect: r.PostFormValue("include_email") == "on", Enabled: r.PostFormValue("enabled") == "on"}
}

func (d *Dashboard) saveTemplate() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		name := r.PathValue("name")
		t := templateFrom(r, name)
		if _, err := d.mails.ReplaceTemplate(r.Context(), name, t); err != nil {
			status, msg, ok := d.problem(w, err)
			if !ok {
				return
			}
			data, err := d.editTemplate(r, name, t, r.PostFormValue("preview_user"), false)
			if err != nil {
				d.fail(w, err)
				return
			}
			d.render(w, status, "template", s.view("Template "+name, "mail", "Not saved: "+msg, data))
			return
		}
		d.redirect(w, r, "/mail/templates/"+url.PathEscape(name), "template")
	})
}

// previewPolicy confines a rendered mail shown inside the dashboard: no
// script, no forms, nothing loaded but images over HTTPS and inline styles,
// links opening outside the sandbox.
const previewPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; font-src https:; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"

// writeMailHTML shows a mail's HTML for a sandboxed frame of the dashboard.
func writeMailHTML(w http.ResponseWriter, status int, subject, body string) {
	htmlHeaders(w, previewPolicy, "SAMEORIGIN", "no-referrer")
	w.WriteHeader(status)
	w.Write([]byte(`<!doctype html><meta charset="utf-8"><base target="_blank">`))
	if subject != "" {
		w.Write([]byte(`<p style="font:13px/1.4 sans-serif;color:#444;margin:0 0 8px;padding:6px 8px;background:#f1f3f7;border-radius:4px">Subject: <strong>` +
			html.EscapeString(subject) + `</strong></p>`))
	}
	w.Write([]byte(body))
}

// preview renders a template for the preview frames: the saved one (GET) or
// the one being edited (POST), as an invitation or as a reset, for a chosen
// person (or a sample one).
func (d *Dashboard) preview() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		name := r.PathValue("name")
		t, err := d.mails.Template(r.Context(), name)
		if err != nil {
			writeMailHTML(w, http.StatusNotFound, "", "<p>No such template.</p>")
			return
		}
		if r.Method == http.MethodPost {
			t = templateFrom(r, name)
		}
		who := r.FormValue("preview_user")
		u, err := d.previewUser(r, who)
		if err != nil {
			d.fail(w, err)
			return
		}
		meta := map[string]any{}
		for k, v := range u.AppMetadata {
			meta[k] = v
		}
		if r.FormValue("branch") == "reset" {
			delete(meta, "needsInvitation")
		} else {
			meta["needsInvitation"] = true
		}
		u.AppMetadata = meta
		tenant, err := d.ids.TenantSettings(r.Context())
		if err != nil {
			d.fail(w, err)
			return
		}
		m, err := d.mails.Preview(r.Context(), t, identity.MailData{User: u, URL: d.links.Ticket(identity.TicketPasswordChange, "PREVIEW"), Connection: u.Connection, Tenant: tenant})
		if err != nil {
			var te *mail.Error
			msg := "This template does not render."
			if errors.As(err, &te) {
				msg = te.Error()
			}
			writeMailHTML(w, http.StatusOK, "", `<p style="font:14px sans-serif;color:#b3261e">`+html.EscapeString(msg)+`</p>`)
			return
		}
		writeMailHTML(w, http.StatusOK, m.Subject, m.HTML)
	})
}

// previewUser is the person named by email, else a sample person.
func (d *Dashboard) previewUser(r *http.Request, email string) (identity.User, error) {
	if email = strings.TrimSpace(email); email != "" {
		users, err := d.ids.UsersByEmail(r.Context(), email)
		if err != nil {
			return identity.User{}, err
		}
		if len(users) > 0 {
			return users[0], nil
		}
	}
	return identity.User{ID: "auth0|0123456789abcdef01234567", Email: "ada@example.com", Connection: identity.DefaultConnection,
		Profile:     identity.Profile{Name: "Ada Lovelace", Nickname: "ada", GivenName: "Ada", FamilyName: "Lovelace"},
		AppMetadata: map[string]any{}, UserMetadata: map[string]any{}}, nil
}

// outboxData is the outbox page.
type outboxData struct {
	Status, To string
	Mails      []outbox.Mail
	Pager      pager
	Delivering bool
	Mailbox    bool // no SMTP server is set up at all: pending mail shows its link
}

func (d *Dashboard) outbox() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		q := r.URL.Query()
		data := outboxData{Status: q.Get("status"), To: strings.TrimSpace(q.Get("to"))}
		page := pageOf(r)
		mails, total, err := d.mails.Outbox(r.Context(), mail.Query{Status: data.Status, To: data.To, Page: page, PerPage: perPage})
		if err != nil {
			d.showError(w, s, err)
			return
		}
		tr, err := d.mails.Transport(r.Context())
		if err != nil {
			d.fail(w, err)
			return
		}
		if data.Mailbox, err = d.mails.Mailbox(r.Context()); err != nil {
			d.fail(w, err)
			return
		}
		data.Mails, data.Delivering, data.Pager = mails, tr != nil, d.newPager("/mail/outbox", q, page, len(mails), total)
		d.render(w, http.StatusOK, "outbox", s.view("Outbox", "outbox", "", data))
	})
}

// outboxMailData is one mail of the outbox.
type outboxMailData struct {
	Mail     outbox.Mail
	Attempts []mail.Attempt
	// HiddenLink: the mail's link shows as mail.HiddenTicket. A pending
	// mail's link is only in the copy sent; a sent or dead mail's is gone,
	// and a dead one cannot be sent again.
	HiddenLink bool
}

func (d *Dashboard) outboxMail() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		m, attempts, err := d.mails.OutboxMail(r.Context(), r.PathValue("id"))
		if err != nil {
			d.showError(w, s, err)
			return
		}
		d.render(w, http.StatusOK, "outbox_mail", s.view(m.Subject, "outbox", "", outboxMailData{Mail: m, Attempts: attempts, HiddenLink: mail.HidesLink(m)}))
	})
}

// outboxHTML is a mail's HTML for the sandboxed frame of its page.
func (d *Dashboard) outboxHTML() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		m, _, err := d.mails.OutboxMail(r.Context(), r.PathValue("id"))
		if err != nil {
			writeMailHTML(w, http.StatusNotFound, "", "<p>No such mail.</p>")
			return
		}
		writeMailHTML(w, http.StatusOK, "", m.HTML)
	})
}

func (d *Dashboard) retryMail() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		id := r.PathValue("id")
		if err := d.mails.RetryMail(r.Context(), id); err != nil {
			d.showError(w, s, err)
			return
		}
		d.wake()
		d.redirect(w, r, "/mail/outbox/"+url.PathEscape(id), "retried")
	})
}
