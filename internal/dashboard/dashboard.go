// Package dashboard is Usher's admin UI at /dashboard/: server-rendered
// pages (html/template) from the same binary, over the domain services.
// Administrators sign in through Usher's own hosted login as a first-party
// client; every request checks the usher:admin permission again, every form
// carries a CSRF token, and the pages run no inline script.
package dashboard

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/cookie"
	"github.com/usherid/usher/internal/csrf"
	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/imports"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/web"
)

//go:embed templates/*.html assets
var files embed.FS

// Options are the dashboard's collaborators.
type Options struct {
	Identity *identity.Service
	// Imports receives, runs and reports users imports.
	Imports *imports.Service
	OAuth   *oauth.Server
	Mail    *mail.Service
	Actions *actions.Service
	// WakeOutbox tells the delivery worker a mail is due (after a retry).
	WakeOutbox func()
	// PublicURL is where people reach Usher, without a trailing slash.
	PublicURL string
	// Links builds the addresses of the hosted pages, for mail previews.
	Links identity.Links
	Log   *slog.Logger
	// UploadStall is how long an import upload may bring nothing before
	// it is dropped (0: web.UploadStall); as long as it keeps coming, the
	// server's read timeout does not end it.
	UploadStall time.Duration
}

// Dashboard serves /dashboard/.
type Dashboard struct {
	ids    *identity.Service
	imp    *imports.Service
	tokens *oauth.Server
	mails  *mail.Service
	acts   *actions.Service
	wake   func()
	root   string // PublicURL + "/dashboard"
	base   string
	links  identity.Links
	jar    cookie.Jar
	guard  *csrf.Guard
	log    *slog.Logger
	pages  map[string]*template.Template
	stall  time.Duration // Options.UploadStall
}

// New returns the dashboard.
func New(o Options) *Dashboard {
	if o.WakeOutbox == nil {
		o.WakeOutbox = func() {}
	}
	jar := cookie.New(o.PublicURL)
	d := &Dashboard{ids: o.Identity, imp: o.Imports, tokens: o.OAuth, mails: o.Mail, acts: o.Actions, wake: o.WakeOutbox,
		root: o.PublicURL + "/dashboard", base: o.PublicURL, links: o.Links, jar: jar, guard: csrf.New(jar, o.PublicURL), log: o.Log,
		pages: map[string]*template.Template{}, stall: o.UploadStall}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/pager.html"))
	names, _ := fs.Glob(files, "templates/*.html")
	for _, name := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if page == "layout" || page == "pager" {
			continue
		}
		d.pages[page] = template.Must(template.Must(layout.Clone()).ParseFS(files, name))
	}
	return d
}

// route is one entry of the dashboard's routes table.
type route struct {
	pattern string
	handler http.Handler
}

// routes is the one table of the dashboard's routes; every one but the
// sign-in steps and the assets is for administrators only.
func (d *Dashboard) routes() []route {
	return []route{
		{"GET /dashboard/{$}", d.home()},
		{"GET /dashboard/users", d.users()},
		{"GET /dashboard/users/{id}", d.user()},
		{"POST /dashboard/users/{id}/metadata", d.saveMetadata()},
		{"POST /dashboard/users/{id}/block", d.setBlocked(true)},
		{"POST /dashboard/users/{id}/unblock", d.setBlocked(false)},
		{"POST /dashboard/users/{id}/delete", d.deleteUser()},
		{"POST /dashboard/users/{id}/admin", d.setAdmin(true)},
		{"POST /dashboard/users/{id}/unadmin", d.setAdmin(false)},
		{"POST /dashboard/users/{id}/password-mail", d.sendPasswordMail()},
		{"GET /dashboard/invitations", d.invitations()},
		{"POST /dashboard/invitations", d.invite()},
		{"GET /dashboard/invitations/{id}", d.invitation()},
		{"POST /dashboard/invitations/{id}/resend", d.resend()},
		{"POST /dashboard/invitations/{id}/revoke", d.revoke()},
		{"GET /dashboard/import", d.imports()},
		{"POST /dashboard/import", d.startImport()},
		{"GET /dashboard/import/{id}", d.importStatus()},
		{"GET /dashboard/import/{id}/errors", d.importErrors()},
		{"GET /dashboard/mail", d.mailSettings()},
		{"POST /dashboard/mail/provider", d.saveProvider()},
		{"POST /dashboard/mail/provider/delete", d.deleteProvider()},
		{"POST /dashboard/mail/test", d.testMail()},
		{"GET /dashboard/mail/templates/{name}", d.template()},
		{"POST /dashboard/mail/templates/{name}", d.saveTemplate()},
		{"GET /dashboard/mail/templates/{name}/preview", d.preview()},
		{"POST /dashboard/mail/templates/{name}/preview", d.preview()},
		{"GET /dashboard/mail/outbox", d.outbox()},
		{"GET /dashboard/mail/outbox/{id}", d.outboxMail()},
		{"GET /dashboard/mail/outbox/{id}/html", d.outboxHTML()},
		{"POST /dashboard/mail/outbox/{id}/retry", d.retryMail()},
		{"GET /dashboard/actions", d.actionList()},
		{"POST /dashboard/actions", d.createAction()},
		{"POST /dashboard/actions/templates", d.useTemplate()},
		{"GET /dashboard/actions/{id}", d.action()},
		{"POST /dashboard/actions/{id}", d.saveAction()},
		{"POST /dashboard/actions/{id}/deploy", d.deployAction()},
		{"POST /dashboard/flows/{trigger}", d.editFlow()},
		{"GET /dashboard/applications", d.applications()},
		{"POST /dashboard/applications", d.createApplication()},
		{"POST /dashboard/applications/{id}/callbacks", d.saveCallbacks()},
		{"GET /dashboard/connection", d.connection()},
		{"POST /dashboard/connection/{id}", d.saveConnection()},
		{"GET /dashboard/logs", d.logs()},

		{"POST /dashboard/signout", d.signOut()},
		{"GET /dashboard/login", d.login()},
		{"GET /dashboard/callback", d.callback()},
		{"GET /dashboard/signed-out", d.signedOut()},
		{"GET /dashboard/assets/", d.assets()},
		{"/dashboard/", d.notFound()},
	}
}

// Open lists the routes that need no usher:admin: signing in and out, the
// assets, and the catch-all (which refuses non-administrators itself).
var Open = []string{"POST /dashboard/signout", "GET /dashboard/login", "GET /dashboard/callback", "GET /dashboard/signed-out", "GET /dashboard/assets/", "/dashboard/"}

// Routes lists the pattern of every route the dashboard serves, so that a
// test can check each one.
func (d *Dashboard) Routes() []string {
	var out []string
	for _, r := range d.routes() {
		out = append(out, r.pattern)
	}
	return out
}

// Handler serves /dashboard/; it is mounted on Usher's mux. Every form
// sent to it from another origin is refused before any route sees it.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range d.routes() {
		mux.Handle(r.pattern, r.handler)
	}
	return d.guard.Protect(mux)
}

// Start makes sure the dashboard's client exists; serve calls it once.
func (d *Dashboard) Start(ctx context.Context) error {
	_, err := d.client(ctx)
	return err
}

// client returns the dashboard's own client, made at first use, whose
// callback and logout URL are the pages routes() serves.
func (d *Dashboard) client(ctx context.Context) (identity.Client, error) {
	return d.ids.DashboardClient(ctx, d.root+"/callback", d.root+"/signed-out")
}

func (d *Dashboard) assets() http.Handler {
	sub, _ := fs.Sub(files, "assets")
	fsrv := web.Files("/dashboard/assets/", sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// view is what every page template is given.
type view struct {
	Root, Title, Nav, CSRF string
	Admin                  *identity.User
	Flash, Error           string
	Data                   any
}

// pagePolicy is the pages' Content-Security-Policy: nothing inline, nothing
// from elsewhere; frames only for the sandboxed mail previews; the script
// may fetch the dashboard's own pages (a running import's page follows it).
const pagePolicy = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-src 'self'; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// render writes page name with v.
func (d *Dashboard) render(w http.ResponseWriter, status int, name string, v view) {
	v.Root = d.root
	var buf bytes.Buffer
	if err := d.pages[name].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		d.fail(w, err)
		return
	}
	htmlHeaders(w, pagePolicy, "DENY", "same-origin")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// htmlHeaders sets the headers of an HTML answer that no cache keeps.
func htmlHeaders(w http.ResponseWriter, policy, framing, referrer string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", policy)
	h.Set("X-Frame-Options", framing)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", referrer)
}

// fail shows a plain sentence, never the error, and logs the error.
func (d *Dashboard) fail(w http.ResponseWriter, err error) {
	if !web.NoteError(w, err) {
		d.log.Error("dashboard page failed", "error", err.Error())
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	w.Write([]byte("Something went wrong on our side. Please try again in a moment."))
}

// problem maps a domain error to a status and a sentence for the page; ok
// is false for an error that is not the person's to fix (it was answered).
func (d *Dashboard) problem(w http.ResponseWriter, err error) (int, string, bool) {
	var de *errs.Error
	var te *mail.Error
	switch {
	case errors.As(err, &de):
		status := map[errs.Kind]int{errs.KindInvalid: 400, errs.KindNotFound: 404, errs.KindConflict: 409, errs.KindDenied: 403}[de.Kind]
		return status, de.Message, true
	case errors.As(err, &te):
		return http.StatusBadRequest, te.Error(), true
	}
	d.fail(w, err)
	return 0, "", false
}

// showError renders the error page for a domain error (or fails).
func (d *Dashboard) showError(w http.ResponseWriter, s *session, err error) {
	if status, msg, ok := d.problem(w, err); ok {
		d.render(w, status, "error", s.view("Cannot do that", "", msg, nil))
	}
}

func (d *Dashboard) notFound() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		d.render(w, http.StatusNotFound, "error", s.view("Not found", "", "There is no such page in the dashboard.", nil))
	})
}

// redirect answers a POST by sending the browser to a dashboard page, with
// a short note to show there.
func (d *Dashboard) redirect(w http.ResponseWriter, r *http.Request, path, note string) {
	target := d.root + path
	if note != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		target += sep + "note=" + note
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// notes are the sentences a redirect can ask the next page to show.
var notes = map[string]string{
	"blocked": "The user is blocked: they cannot log in.", "unblocked": "The user is unblocked.",
	"deleted": "The user is deleted.", "metadata": "Metadata saved.",
	"admin": "They are now an administrator.", "unadmin": "They are no longer an administrator.",
	"revoked":  "The invitation is revoked: its link no longer works.",
	"provider": "Email provider saved.", "provider-deleted": "Email provider removed.",
	"template": "Template saved.", "retried": "The mail is queued to be sent again now.",
	"action": "Action saved.", "deployed": "Action deployed: logins run this version now.", "flow": "Flow saved.",
	"callbacks": "Callbacks saved.", "connection": "Connection saved.",
	"invitation-mailed": "An invitation mail is on its way; any older link of theirs no longer works.",
	"reset-mailed":      "A mail to choose a new password is on its way; any older link of theirs no longer works.",
	"action-template":   "The action is set up: created, deployed and in its trigger's flow.",
}
