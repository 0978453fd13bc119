package pages

import (
	"context"
	"net/http"
	"net/url"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/headers"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/oauth"
)

// forgotPath is where the login page's "Forgot password?" leads, named as
// Auth0 names its reset-password prompt: /u/reset-password/request/{connection}.
const forgotPath = "/u/reset-password/request/"

// forgotLink is the address of the reset-password request page for the
// connection, carrying the login's authorization request so that the
// person can come back to it; "" when the connection lets nobody reset a
// password from the login page (disable_self_service_change_password).
func (p *Pages) forgotLink(ctx context.Context, connection, query string) string {
	conn, ok := p.connection(ctx, connection)
	if !ok || selfServiceClosed(conn) {
		return ""
	}
	return p.authLink(forgotPath+url.PathEscape(connection), query)
}

// connection is the connection named name.
func (p *Pages) connection(ctx context.Context, name string) (identity.Connection, bool) {
	conns, err := p.ids.Connections(ctx)
	if err != nil {
		return identity.Connection{}, false
	}
	for _, c := range conns {
		if c.Name == name {
			return c, true
		}
	}
	return identity.Connection{}, false
}

// selfServiceClosed reports whether Auth0's
// disable_self_service_change_password hides "Forgot password?".
func selfServiceClosed(c identity.Connection) bool {
	v, _ := c.Options["disable_self_service_change_password"].(bool)
	return v
}

// ForgotForm is GET /u/reset-password/request/{connection}: the form that
// asks for the email to send a reset link to.
func (p *Pages) ForgotForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values, _ := url.ParseQuery(r.URL.RawQuery)
		p.forgotPage(w, r, http.StatusOK, r.PathValue("connection"), r.URL.RawQuery, values.Get("login_hint"), "")
	})
}

// forgotPage shows the reset-password request form, or a page saying
// that passwords cannot be reset here.
func (p *Pages) forgotPage(w http.ResponseWriter, r *http.Request, status int, connection, query, email, problem string) {
	conn, ok := p.connection(r.Context(), connection)
	if !ok || selfServiceClosed(conn) {
		p.render(w, r, http.StatusNotFound, "message", view{Title: "Password reset is not available", PageTitle: "Password reset is not available",
			Error: "Passwords cannot be reset from this page. Ask your administrator for a new link."})
		return
	}
	tenant, err := p.ids.TenantSettings(r.Context())
	if err != nil {
		p.fail(w, err)
		return
	}
	v := view{CSRF: p.csrfToken(w, r), Query: query, Email: email, Error: problem, Tenant: tenant.FriendlyName,
		PageTitle: "Reset your password", Texts: p.resetTexts(r.Context()), Action: p.base + forgotPath + url.PathEscape(connection)}
	if problem != "" {
		v.Invalid = "email"
	}
	p.withLogin(r, &v, query)
	p.render(w, r, status, "forgot", v)
}

// withLogin fills in what the pages of a login know of its authorization
// request in query, once checked (an unchecked one widens nothing): the
// way back to the login form, the application's name, and its
// redirect_uri as a place a form's answer may lead.
func (p *Pages) withLogin(r *http.Request, v *view, query string) {
	values, _ := url.ParseQuery(query)
	if len(values) == 0 {
		return
	}
	ar := oauth.ParseAuthorize(values)
	if client, err := p.tokens.CheckAuthorize(r.Context(), ar); err == nil {
		v.LoginURL, v.App = p.authLink("/authorize", query), client.Name
		v.formTargets = append(v.formTargets, headers.FormTarget(ar.RedirectURI))
	}
}

// ForgotSubmit sends a reset link, as /dbconnections/change_password does,
// and says to check the mail: the same page, as fast, whether or not the
// email has an account.
func (p *Pages) ForgotSubmit() http.Handler {
	return p.form(maxForm, func(w http.ResponseWriter, r *http.Request) {
		connection, query, email := r.PathValue("connection"), r.PostFormValue("q"), r.PostFormValue("email")
		if !p.checkCSRF(r) {
			p.forgotPage(w, r, http.StatusForbidden, connection, query, email, "This form expired. Please try again.")
			return
		}
		if conn, ok := p.connection(r.Context(), connection); !ok || selfServiceClosed(conn) {
			p.forgotPage(w, r, http.StatusNotFound, connection, query, email, "")
			return
		}
		if email == "" {
			p.forgotPage(w, r, http.StatusBadRequest, connection, query, email, "Enter the email address of your account.")
			return
		}
		// The mail names the application the person was logging in to.
		clientID := ""
		if values, _ := url.ParseQuery(query); len(values) > 0 {
			if client, err := p.tokens.CheckAuthorize(r.Context(), oauth.ParseAuthorize(values)); err == nil {
				clientID = client.ClientID
			}
		}
		err := p.ids.RequestPasswordChange(r.Context(), identity.PasswordChangeRequest{ClientID: clientID, Email: email, Connection: connection}, who(r))
		switch {
		case errs.KindOf(err) == errs.KindBusy:
			w.Header().Set("Retry-After", errs.RetryAfter(err))
			p.forgotPage(w, r, http.StatusTooManyRequests, connection, query, email, busyText(err))
			return
		case errs.KindOf(err) == errs.KindInvalid:
			p.forgotPage(w, r, http.StatusBadRequest, connection, query, email, "Enter the email address of your account.")
			return
		case err != nil:
			p.fail(w, err)
			return
		}
		tenant, err := p.ids.TenantSettings(r.Context())
		if err != nil {
			p.fail(w, err)
			return
		}
		v := view{Email: email, Tenant: tenant.FriendlyName, PageTitle: "Check your email", Texts: p.resetTexts(r.Context())}
		p.withLogin(r, &v, query)
		p.render(w, r, http.StatusOK, "forgot_sent", v)
	})
}
