// Package pages serves the hosted pages people click through: accepting an
// invitation or resetting a password (the ticket link), and verifying an
// email. Opening a page never uses its link; only the form's POST does.
package pages

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/usherid/usher/internal/cache"
	"github.com/usherid/usher/internal/cookie"
	"github.com/usherid/usher/internal/csrf"
	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/headers"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/web"
)

//go:embed assets widget.html
var files embed.FS

// Store keeps the tenant's page template.
type Store interface {
	Setting(ctx context.Context, name string) (string, error)
	PutSetting(ctx context.Context, name, value string) error
}

// Pages renders the hosted pages.
type Pages struct {
	ids    *identity.Service
	tokens *oauth.Server
	store  Store
	engine *mail.Engine
	tmpl   *template.Template
	base   string // public URL, no trailing slash
	jar    cookie.Jar
	guard  *csrf.Guard
	log    *slog.Logger

	brandCache *cache.TTL[struct{}, Branding]
}

// New returns the hosted pages for a tenant reached at publicURL.
func New(ids *identity.Service, tokens *oauth.Server, store Store, engine *mail.Engine, publicURL string, log *slog.Logger) *Pages {
	jar := cookie.New(publicURL)
	return &Pages{
		ids: ids, tokens: tokens, store: store, engine: engine, base: publicURL, log: log,
		jar: jar, guard: csrf.New(jar, publicURL), brandCache: cache.New[struct{}, Branding](brandingTTL, 1),
		tmpl: template.Must(template.ParseFS(files, "widget.html")),
	}
}

// Assets serves the pages' stylesheet and script.
func (p *Pages) Assets() http.Handler {
	sub, _ := fs.Sub(files, "assets")
	return web.Files("/u/assets/", sub)
}

// view is what a page template is given.
type view struct {
	Base, CSRF, Ticket, Email, Tenant, Error, Title, Help, PageTitle string
	Query, Action                                                    string
	Fields                                                           map[string]string
	Invite, CanRequest, SignupOpen                                   bool
	Widget                                                           template.HTML
	Texts                                                            Texts

	// SignupURL, LoginURL and ForgotURL link the login, sign-up and
	// reset-password request pages to each other, with the authorization
	// request (see authLink); "" leaves the link out.
	SignupURL, LoginURL, ForgotURL string
	// App is the name of the application the person is logging in to.
	App string
	// Invalid names the form field a server-side check refused: it gets
	// the focus, aria-invalid and the error as its description.
	Invalid string
	// Next is the way on from a page that is done with the person (see nextStep).
	Next link
	// SupportEmail and SupportURL are the tenant's, for the home page.
	SupportEmail, SupportURL string
	// Policy is the password policy of the page's password field.
	Policy passwordPolicy
	// Logo and Favicon are the branding's (the logo falls back to the
	// tenant's picture_url); Theme links /u/theme.css, the branding's colours.
	Logo, Favicon string
	Theme         bool

	// formTargets are where the page's forms may lead besides Usher (see
	// headers.FormTarget): the application a login returns to, a link's
	// result_url.
	formTargets []string
}

// passwordPolicy is what a page shows of a password policy: the sentence
// of identity.PasswordPolicy.Describe, each rule in it a span that the
// page's script ticks as the person types (usher.js).
type passwordPolicy struct {
	Level string // none, low, fair, good, excellent
	Min   int
	For   string // the id of the password field
}

func policyFor(p identity.PasswordPolicy, field string) passwordPolicy {
	return passwordPolicy{Level: p.Strength(), Min: p.Length(), For: field}
}

// appName is the name of the application clientID, or "": also for a
// machine-to-machine client (a script that sent the link), which is no
// application the person will use.
func (p *Pages) appName(ctx context.Context, clientID string) string {
	if clientID == "" {
		return ""
	}
	c, err := p.ids.Client(ctx, clientID)
	if err != nil || c.AppType == "non_interactive" {
		return ""
	}
	return c.Name
}

// T is the tenant's text for a screen's key, with ${email} and
// ${companyName} (and ${clientName}) filled in, or "" when the tenant set none.
func (v view) T(screen, key string) string {
	s := v.Texts[screen][key]
	return strings.NewReplacer("${email}", v.Email, "${companyName}", v.Tenant, "${clientName}", v.App).Replace(s)
}

// session is the hosted login's session cookie of the request, or "".
func (p *Pages) session(r *http.Request) string {
	if v, ok := p.jar.Value(r, sessionCookie); ok {
		return v
	}
	v, _ := p.jar.Value(r, sessionCompatCookie)
	return v
}

// setSession writes the session cookie. Over HTTPS it is SameSite=None, as
// Auth0's is, so that an application on another site reaches the session
// from a hidden iframe (silent authentication, web_message); a second
// cookie without SameSite serves browsers that refuse None. Over plain
// HTTP, where None is not allowed, it is Lax.
func (p *Pages) setSession(w http.ResponseWriter, token string, lifetime time.Duration) {
	if !p.jar.Secure() {
		p.jar.Set(w, sessionCookie, token, lifetime, http.SameSiteLaxMode)
		return
	}
	p.jar.Set(w, sessionCookie, token, lifetime, http.SameSiteNoneMode)
	p.jar.Set(w, sessionCompatCookie, token, lifetime, http.SameSiteDefaultMode)
}

// clearSession drops the session cookies.
func (p *Pages) clearSession(w http.ResponseWriter) {
	if !p.jar.Secure() {
		p.jar.Clear(w, sessionCookie, http.SameSiteLaxMode)
		return
	}
	p.jar.Clear(w, sessionCookie, http.SameSiteNoneMode)
	p.jar.Clear(w, sessionCompatCookie, http.SameSiteDefaultMode)
}

// csrfToken returns the token of the request's forms, bound to its
// session when it has one (see package csrf).
func (p *Pages) csrfToken(w http.ResponseWriter, r *http.Request) string {
	return p.guard.Token(w, r, p.session(r))
}

// checkCSRF reports whether a form's _csrf is the one this browser was given.
func (p *Pages) checkCSRF(r *http.Request) bool { return p.guard.Check(r, p.session(r)) }

// maxForm bounds the body of a hosted page's form: a few short fields.
const maxForm = 16 << 10

// form guards a form's POST handler: one sent from another origin is
// refused, and the body, at most limit bytes, is read before h runs, so
// that h sees only forms that arrived whole. A body past the limit is a
// 413; one that breaks off (a broken chunk, a connection that ends early) a
// 400. Both are plain sentences, written without the database: the client
// that broke off may be gone, and with it the request's context.
func (p *Pages) form(limit int64, h http.HandlerFunc) http.Handler {
	return p.guard.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			status, msg := http.StatusBadRequest, "The form did not arrive whole. Go back to the page and send it again."
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				status, msg = http.StatusRequestEntityTooLarge, "The form is larger than this page takes. Go back to the page and send it again."
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			w.Write([]byte(msg))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	}))
}

var widgetTag = regexp.MustCompile(`\{%-?\s*auth0:(head|widget)\s*-?%\}`)

const universalLoginSetting = "universal_login_template"

// render writes the widget named name, inside the tenant's Universal Login
// template when there is one, else inside Usher's own page.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	v.Base = p.base
	brand := p.brand(r.Context(), &v)
	var widget, head bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&widget, name, v); err != nil {
		p.fail(w, err)
		return
	}
	p.tmpl.ExecuteTemplate(&head, "head", v)
	pageHeaders(w)

	if tpl, err := p.UniversalLogin(r.Context()); err == nil {
		nonce := headers.NewNonce()
		src := headers.AddNonce(widgetTag.ReplaceAllString(tpl, "{{ __usher_$1 }}"), nonce)
		out, err := p.engine.Render("universal-login", src, map[string]any{
			"__usher_head": head.String(), "__usher_widget": widget.String(), "locale": "en",
			"tenant": map[string]any{"friendly_name": v.Tenant}, "application": map[string]any{"name": v.App},
			"branding": brandingData(brand),
			"prompt":   map[string]any{"name": "reset-password", "screen": map[string]any{"name": name}},
		})
		if err != nil {
			p.fail(w, err)
			return
		}
		w.Header().Set("Content-Security-Policy", headers.Custom(nonce, p.pageSources(r.Context()), v.formTargets...))
		w.WriteHeader(status)
		w.Write([]byte(out))
		return
	} else if !errors.Is(err, errs.ErrNotFound) {
		p.fail(w, err)
		return
	}
	// Usher's own page: nothing inline, so the policy can be strict.
	w.Header().Set("Content-Security-Policy", headers.PageShowing([]string{headers.FormTarget(v.Logo), headers.FormTarget(v.Favicon)}, v.formTargets...))
	v.Widget = template.HTML(widget.String())
	w.WriteHeader(status)
	p.tmpl.ExecuteTemplate(w, "page", v)
}

// brand fills in the tenant's name, logo and colours of a page, and
// returns the branding (empty when unreadable: a page shows without it).
func (p *Pages) brand(ctx context.Context, v *view) Branding {
	b, err := p.Branding(ctx)
	if err != nil {
		web.Logger(ctx, p.log).Warn("branding unreadable; showing the page without it", "error", err.Error())
	}
	v.Logo, v.Favicon, v.Theme = b.LogoURL, b.FaviconURL, themeCSS(b) != ""
	if v.Tenant == "" || v.Logo == "" {
		if tenant, err := p.ids.TenantSettings(ctx); err == nil {
			if v.Tenant == "" {
				v.Tenant = tenant.FriendlyName
			}
			if v.Logo == "" && identity.RedirectOK(tenant.PictureURL, false) {
				v.Logo = tenant.PictureURL
			}
		}
	}
	return b
}

// brandingData is the branding as a page template's Liquid sees it.
func brandingData(b Branding) map[string]any {
	colors := map[string]any{}
	if b.Colors != nil {
		colors["primary"], colors["page_background"] = b.Colors.Primary, b.Colors.PageBackground
	}
	return map[string]any{"logo_url": b.LogoURL, "favicon_url": b.FaviconURL, "colors": colors}
}

// pageSources are the origins the tenant declares for its own page
// templates' scripts and styles (none when the settings cannot be read).
func (p *Pages) pageSources(ctx context.Context) []string {
	tenant, err := p.ids.TenantSettings(ctx)
	if err != nil {
		web.Logger(ctx, p.log).Warn("tenant settings unreadable; the page may load from Usher only", "error", err.Error())
	}
	return tenant.PageSources
}

// pageHeaders are the headers of every hosted page; the policy is the
// caller's (Usher's own page or the tenant's).
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // a link's ticket is in the URL
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

// fail shows a plain sentence, never the error itself, and logs the error.
func (p *Pages) fail(w http.ResponseWriter, err error) {
	if !web.NoteError(w, err) {
		p.log.Error("page failed", "error", err.Error())
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	status := http.StatusInternalServerError
	if errors.Is(err, errs.ErrUnavailable) {
		status = http.StatusServiceUnavailable // the database is out of reach for now
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	w.Write([]byte("Something went wrong on our side. Please try again in a moment."))
}

// redirectResult sends the person to result_url with Auth0's parameters;
// false when there is no result_url.
func redirectResult(w http.ResponseWriter, r *http.Request, resultURL string, success bool, message, email string) bool {
	target := resultWith(resultURL, success, message, email)
	if target == "" {
		return false
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return true
}
