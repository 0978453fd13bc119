package pages

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/headers"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/web"
)

// The hosted login's session cookie, and its twin for browsers that refuse
// SameSite=None (see setSession).
const (
	sessionCookie       = "usher_session"
	sessionCompatCookie = "usher_session_compat"
)

// Authorize is GET /authorize: a live session skips the form (unless
// prompt=login); otherwise the hosted login page.
func (p *Pages) Authorize() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ar := oauth.ParseAuthorize(r.URL.Query())
		client, ok := p.checkAuthorize(w, r, ar)
		if !ok {
			return
		}
		if ar.Prompt != "login" {
			if session := p.session(r); session != "" {
				if u, authTime, live := p.tokens.SessionUser(r.Context(), session); live {
					p.finish(w, r, client, u, ar, authTime)
					return
				}
			}
		}
		if ar.Prompt == "none" {
			p.answer(w, r, ar, url.Values{"error": {"login_required"}, "error_description": {"The user is not logged in."}})
			return
		}
		p.loginPage(w, r, http.StatusOK, r.URL.RawQuery, ar.LoginHint, "")
	})
}

// checkAuthorize validates the request; an error it cannot send back to the
// application is shown on a page. ok is false when the answer was written.
func (p *Pages) checkAuthorize(w http.ResponseWriter, r *http.Request, ar oauth.AuthorizeRequest) (client identity.Client, ok bool) {
	client, err := p.tokens.CheckAuthorize(r.Context(), ar)
	var oe *oauth.Error
	switch {
	case errors.Is(err, oauth.ErrBadRedirect) && errors.As(err, &oe):
		p.render(w, r, http.StatusBadRequest, "message", view{Title: "Cannot log in", Error: oe.Description, PageTitle: "Cannot log in"})
		return client, false
	case errors.As(err, &oe):
		p.answer(w, r, ar, url.Values{"error": {oe.Code}, "error_description": {oe.Description}})
		return client, false
	case err != nil:
		p.fail(w, err)
		return client, false
	}
	return client, true
}

func (p *Pages) loginPage(w http.ResponseWriter, r *http.Request, status int, query, email, problem string) {
	tenant, err := p.ids.TenantSettings(r.Context())
	if err != nil {
		p.fail(w, err)
		return
	}
	v := view{CSRF: p.csrfToken(w, r), Query: query, Email: email, Error: problem, Tenant: tenant.FriendlyName,
		SignupOpen: p.ids.SignupAllowed(r.Context(), tenant.DefaultDirectory), PageTitle: "Log in", Texts: p.texts(r, "login"),
		SignupURL: p.authLink("/u/signup", query), ForgotURL: p.forgotLink(r.Context(), tenant.DefaultDirectory, query),
	}
	p.withLogin(r, &v, query)
	if problem != "" {
		v.Invalid = "password"
	}
	p.render(w, r, status, "login", v)
}

// authLink is the address of the page at path (/authorize, /u/signup)
// carrying the authorization request in query, its parameters encoded
// anew: the links between the login pages keep the request whole.
func (p *Pages) authLink(path, query string) string {
	values, _ := url.ParseQuery(query)
	if len(values) == 0 {
		return p.base + path
	}
	return p.base + path + "?" + values.Encode()
}

// authForm is a login or sign-up form's POST: the authorization request it
// carries (q) and what answering it needs.
type authForm struct {
	query  string
	email  string
	ar     oauth.AuthorizeRequest
	client identity.Client
	tenant identity.TenantSettings
}

// readForm reads and checks a login or sign-up POST: the authorization
// request again (it came back through the form), then the CSRF token. On a
// stale form it shows the page again with page; ok is false when the answer
// was written.
func (p *Pages) readForm(w http.ResponseWriter, r *http.Request, emailField string,
	page func(w http.ResponseWriter, r *http.Request, status int, query, email, problem string)) (authForm, bool) {
	f := authForm{query: r.PostFormValue("q"), email: r.PostFormValue(emailField)}
	values, _ := url.ParseQuery(f.query)
	f.ar = oauth.ParseAuthorize(values)
	var ok bool
	if f.client, ok = p.checkAuthorize(w, r, f.ar); !ok {
		return f, false
	}
	if !p.checkCSRF(r) {
		page(w, r, http.StatusForbidden, f.query, f.email, "This form expired. Please try again.")
		return f, false
	}
	var err error
	if f.tenant, err = p.ids.TenantSettings(r.Context()); err != nil {
		p.fail(w, err)
		return f, false
	}
	return f, true
}

// LoginSubmit is the hosted login form's POST.
func (p *Pages) LoginSubmit() http.Handler {
	return p.form(maxForm, func(w http.ResponseWriter, r *http.Request) {
		f, ok := p.readForm(w, r, "username", p.loginPage)
		if !ok {
			return
		}
		client, tenant, ar, query, email := f.client, f.tenant, f.ar, f.query, f.email
		u, err := p.tokens.Authenticate(r.Context(), client, tenant.DefaultDirectory, email, r.PostFormValue("password"), who(r))
		var de *errs.Error
		switch {
		case errors.Is(err, identity.ErrTooManyAttempts):
			p.loginPage(w, r, http.StatusTooManyRequests, query, email, "Too many failed attempts: this account is blocked from here. Reset your password, or ask your administrator, to unblock it.")
			return
		case errors.Is(err, identity.ErrBusy):
			w.Header().Set("Retry-After", "1")
			p.loginPage(w, r, http.StatusTooManyRequests, query, email, busyMessage)
			return
		case errors.Is(err, identity.ErrUserBlocked): // said only to someone who gave the right password
			p.loginPage(w, r, http.StatusUnauthorized, query, email, "This account is blocked. Ask your administrator.")
			return
		case errors.As(err, &de):
			p.loginPage(w, r, http.StatusUnauthorized, query, email, "Wrong email or password.")
			return
		case err != nil:
			p.fail(w, err)
			return
		}
		p.startSession(w, r, u, tenant)
		p.finish(w, r, client, u, ar, p.ids.Now())
	})
}

// busyMessage is what a page says when the server has too many passwords to
// hash at the moment.
const busyMessage = "Too many people are signing in right now. Please try again in a moment."

// busyText is what a page says of work turned away: the server's load in
// its own words, or the error's own sentence (a budget of one email spent).
func busyText(err error) string {
	var de *errs.Error
	if errors.Is(err, identity.ErrBusy) || !errors.As(err, &de) {
		return busyMessage
	}
	return de.Message
}

func who(r *http.Request) identity.Requester {
	return identity.Requester{IP: web.ClientIP(r), UserAgent: r.UserAgent()}
}

func (p *Pages) startSession(w http.ResponseWriter, r *http.Request, u identity.User, tenant identity.TenantSettings) {
	lifetime := time.Duration(tenant.SessionLifetime * float64(time.Hour))
	token, err := p.tokens.NewSession(r.Context(), u, lifetime)
	if err != nil {
		web.Logger(r.Context(), p.log).Error("session not started", "error", err.Error())
		return // the login still completes; the next /authorize asks again
	}
	p.setSession(w, token, lifetime)
}

// finish runs the post-login flow and sends the code to the application.
func (p *Pages) finish(w http.ResponseWriter, r *http.Request, client identity.Client, u identity.User, ar oauth.AuthorizeRequest, authTime time.Time) {
	result, err := p.tokens.BrowserLogin(r.Context(), client, u, ar, who(r), authTime)
	var oe *oauth.Error
	switch {
	case errors.As(err, &oe):
		p.answer(w, r, ar, url.Values{"error": {oe.Code}, "error_description": {oe.Description}})
	case err != nil:
		p.fail(w, err)
	default:
		p.answer(w, r, ar, result)
	}
}

// answer returns to the application's redirect_uri with params and the
// state, the way the request's response mode says: in the query or the
// fragment of a redirect, as a form post, or as a message to the window of
// the redirect_uri's origin that framed or opened this one (web_message,
// silent authentication).
func (p *Pages) answer(w http.ResponseWriter, r *http.Request, ar oauth.AuthorizeRequest, params url.Values) {
	if ar.State != "" {
		params.Set("state", ar.State)
	}
	fields := map[string]string{}
	for k := range params {
		fields[k] = params.Get(k)
	}
	target, err := url.Parse(ar.RedirectURI)
	if err != nil {
		p.fail(w, err)
		return
	}
	switch ar.Mode() {
	case "form_post":
		p.render(w, r, http.StatusOK, "form_post", view{Action: ar.RedirectURI, Fields: fields, PageTitle: "Signing you in",
			formTargets: []string{headers.FormTarget(ar.RedirectURI)}})
	case "web_message":
		message, err := json.Marshal(map[string]any{"type": "authorization_response", "response": fields})
		if err != nil {
			p.fail(w, err)
			return
		}
		webMessage(w, target.Scheme+"://"+target.Host, string(message))
	case "fragment":
		target.Fragment, target.RawFragment = "", ""
		http.Redirect(w, r, target.String()+"#"+params.Encode(), http.StatusFound)
	default:
		q := target.Query()
		for k := range params {
			q.Set(k, params.Get(k))
		}
		target.RawQuery = q.Encode()
		http.Redirect(w, r, target.String(), http.StatusFound)
	}
}

// webMessageDoc posts its message to the window that framed or opened it,
// at origin only (web_message.js); it shows nothing.
var webMessageDoc = template.Must(template.New("web_message").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Signing you in</title></head>
<body><div id="usher-web-message" data-origin="{{.Origin}}" data-message="{{.Message}}"></div>
<script src="/u/assets/web_message.js"></script></body></html>
`))

// webMessage answers a web_message request. Only a page of origin (the
// redirect_uri's) may frame it, and only a window of that origin receives
// the message.
func webMessage(w http.ResponseWriter, origin, message string) {
	pageHeaders(w)
	w.Header().Del("X-Frame-Options") // frame-ancestors says who may frame it
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; base-uri 'none'; frame-ancestors "+headers.FormTarget(origin))
	webMessageDoc.Execute(w, struct{ Origin, Message string }{origin, message})
}

// SignupForm is the hosted sign-up page, refused when the connection takes
// no public sign-ups.
func (p *Pages) SignupForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.signupPage(w, r, http.StatusOK, r.URL.RawQuery, "", "")
	})
}

func (p *Pages) signupPage(w http.ResponseWriter, r *http.Request, status int, query, email, problem string) {
	invalid := ""
	if problem != "" {
		invalid = "email"
	}
	p.signupForm(w, r, status, query, email, problem, invalid)
}

// signupForm is signupPage with the field in error named.
func (p *Pages) signupForm(w http.ResponseWriter, r *http.Request, status int, query, email, problem, invalid string) {
	tenant, err := p.ids.TenantSettings(r.Context())
	if err != nil {
		p.fail(w, err)
		return
	}
	if !p.ids.SignupAllowed(r.Context(), tenant.DefaultDirectory) {
		p.render(w, r, http.StatusForbidden, "message", view{Title: "Sign-up is closed", Error: "This service takes new accounts by invitation only.", PageTitle: "Sign-up is closed",
			Next: link{p.authLink("/authorize", query), "Back to log in"}})
		return
	}
	conn, _ := p.connection(r.Context(), tenant.DefaultDirectory)
	policy := policyFor(conn.PasswordPolicy(), "password")
	v := view{CSRF: p.csrfToken(w, r), Query: query, Email: email, Error: problem, Policy: policy, PageTitle: "Sign up", Tenant: tenant.FriendlyName,
		LoginURL: p.authLink("/authorize", query), Invalid: invalid}
	p.withLogin(r, &v, query)
	p.render(w, r, status, "signup", v)
}

// SignupSubmit creates the account and logs the person in.
func (p *Pages) SignupSubmit() http.Handler {
	return p.form(maxForm, func(w http.ResponseWriter, r *http.Request) {
		f, ok := p.readForm(w, r, "email", p.signupPage)
		if !ok {
			return
		}
		client, tenant, ar, query, email := f.client, f.tenant, f.ar, f.query, f.email
		u, err := p.ids.Signup(r.Context(), identity.SignupRequest{ClientID: client.ClientID, Email: email, Password: r.PostFormValue("password"), Connection: tenant.DefaultDirectory}, who(r))
		var de *errs.Error
		switch {
		case errors.Is(err, identity.ErrSignupDisabled):
			p.signupPage(w, r, http.StatusForbidden, query, email, "")
			return
		case errors.Is(err, identity.ErrBusy):
			w.Header().Set("Retry-After", "1")
			p.signupPage(w, r, http.StatusTooManyRequests, query, email, busyMessage)
			return
		case errors.As(err, &de):
			msg, field := "We could not create this account. If you already have one, log in instead.", "email"
			if de.Code == "invalid_password" {
				msg, field = "That password is too weak.", "password"
			}
			p.signupForm(w, r, http.StatusBadRequest, query, email, msg, field)
			return
		case err != nil:
			p.fail(w, err)
			return
		}
		p.startSession(w, r, u, tenant)
		p.finish(w, r, client, u, ar, p.ids.Now())
	})
}

// Logout is GET /v2/logout, Auth0's own: it ends the session and returns to
// returnTo when that is an Allowed Logout URL.
func (p *Pages) Logout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p.logout(w, r, q.Get("client_id"), q.Get("returnTo"), nil)
	})
}

// OIDCLogout is GET /oidc/logout, OpenID Connect's RP-initiated logout:
// the client is the id_token_hint's audience (an ID token Usher issued,
// expired or not) or client_id; post_logout_redirect_uri must be one of
// its Allowed Logout URLs, and gets the state back.
func (p *Pages) OIDCLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		refuse := func(msg string) {
			p.render(w, r, http.StatusBadRequest, "message", view{Title: "Cannot log out here", Error: msg, PageTitle: "Log out"})
		}
		clientID := q.Get("client_id")
		if hint := q.Get("id_token_hint"); hint != "" {
			aud, err := p.tokens.IDTokenHint(hint)
			switch {
			case err != nil:
				refuse("The id_token_hint is not an ID token issued here.")
				return
			case clientID != "" && clientID != aud:
				refuse("The client_id is not the audience of the id_token_hint.")
				return
			}
			clientID = aud
		}
		returnTo := q.Get("post_logout_redirect_uri")
		if returnTo != "" && clientID == "" {
			refuse("A post_logout_redirect_uri needs the client_id or an id_token_hint.")
			return
		}
		var back url.Values
		if state := q.Get("state"); state != "" {
			back = url.Values{"state": {state}}
		}
		p.logout(w, r, clientID, returnTo, back)
	})
}

// logout ends the request's session, then returns to returnTo (with the
// parameters back added) if it is one of the client's (or, without a
// client, the tenant's) Allowed Logout URLs, or says the person is logged
// out.
func (p *Pages) logout(w http.ResponseWriter, r *http.Request, clientID, returnTo string, back url.Values) {
	if err := p.tokens.LogoutRedirect(r.Context(), clientID, returnTo); err != nil {
		var oe *oauth.Error
		if errors.As(err, &oe) {
			p.render(w, r, http.StatusBadRequest, "message", view{Title: "Cannot log out here", Error: oe.Description, PageTitle: "Log out"})
			return
		}
		p.fail(w, err)
		return
	}
	if session := p.session(r); session != "" {
		if err := p.tokens.EndSession(r.Context(), session); err != nil {
			p.fail(w, err)
			return
		}
	}
	p.clearSession(w)
	if returnTo == "" {
		p.render(w, r, http.StatusOK, "message", view{Title: "Logged out", Help: "You are logged out.", PageTitle: "Logged out",
			Next: p.nextStep(r.Context(), clientID, "", nil)})
		return
	}
	if len(back) > 0 {
		target, err := url.Parse(returnTo)
		if err != nil {
			p.fail(w, err)
			return
		}
		q := target.Query()
		for k := range back {
			q.Set(k, back.Get(k))
		}
		target.RawQuery = q.Encode()
		returnTo = target.String()
	}
	http.Redirect(w, r, returnTo, http.StatusFound)
}
