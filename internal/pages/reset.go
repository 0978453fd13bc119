package pages

import (
	"errors"
	"net/http"
	"strings"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/headers"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/web"
)

// problemView explains a link that cannot be used and how to get a new one.
func problemView(state identity.TicketState, invite bool) view {
	v := view{Title: "Invalid link", Error: "This link is not valid.", CanRequest: true,
		Help: "Enter your email and we will send you a new link."}
	switch state {
	case identity.TicketExpired:
		v.Title, v.Error = "Link expired", "This link has expired."
	case identity.TicketUsed:
		v.Title, v.Error = "Link already used", "This link was already used."
		v.Help = "If you set your password with it, you can log in. Otherwise, enter your email and we will send you a new link."
	case identity.TicketRevoked:
		v.Title, v.Error = "Link replaced", "A newer link was sent after this one; only the newest one works."
		v.Help = "Use the link in the most recent mail, or enter your email and we will send you a new one."
	}
	if invite && state != identity.TicketUsed {
		v.Help = "Ask the person who invited you to send a new invitation, or enter your email and we will send you a new link."
	}
	return v
}

func problemStatus(state identity.TicketState) int {
	if state == identity.TicketUnknown {
		return http.StatusNotFound
	}
	return http.StatusGone
}

// ResetForm is GET (and HEAD) of the ticket link: it shows the invitation or
// the reset experience and changes nothing.
func (p *Pages) ResetForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("ticket")
		tv, err := p.ids.InspectTicket(r.Context(), token)
		if err != nil {
			p.fail(w, err)
			return
		}
		tenant, err := p.ids.TenantSettings(r.Context())
		if err != nil {
			p.fail(w, err)
			return
		}
		csrf := p.csrfToken(w, r)
		if tv.State != identity.TicketValid || tv.Ticket.Kind != identity.TicketPasswordChange {
			v := problemView(tv.State, tv.Invite)
			v.CSRF, v.Ticket, v.Tenant, v.PageTitle = csrf, token, tenant.FriendlyName, v.Title
			v.App = p.appName(r.Context(), tv.Ticket.ClientID)
			v.Next = p.nextStep(r.Context(), tv.Ticket.ClientID, tv.Ticket.ResultURL, &tv.User)
			p.render(w, r, problemStatus(tv.State), "problem", v)
			return
		}
		invite := tv.Invite
		switch r.URL.Query().Get("type") { // the query form of Auth0's marker; the fragment is read by the page's script
		case "invite":
			invite = true
		case "reset":
			invite = false
		}
		if cp := tenant.ChangePassword; cp != nil && cp.Enabled && cp.HTML != "" {
			p.classicPage(w, r, cp.HTML, tv, tenant, csrf, token)
			return
		}
		p.render(w, r, http.StatusOK, "reset", view{Texts: p.resetTexts(r.Context()), CSRF: csrf, Ticket: token, Email: tv.User.Email, Tenant: tenant.FriendlyName,
			Policy: policyFor(tv.Policy, "newPassword"), Invite: invite, App: p.appName(r.Context(), tv.Ticket.ClientID), PageTitle: map[bool]string{true: "Accept your invitation", false: "Reset your password"}[invite],
			formTargets: []string{headers.FormTarget(tv.Ticket.ResultURL)}})
	})
}

// classicPage renders the tenant's own password-reset page (Auth0's classic
// custom page), which posts to /lo/reset itself.
func (p *Pages) classicPage(w http.ResponseWriter, r *http.Request, src string, tv identity.TicketView, tenant identity.TenantSettings, csrf, token string) {
	minLength := tv.Policy.MinLength
	nonce := headers.NewNonce()
	out, err := p.engine.Render("change_password", headers.AddNonce(src, nonce), map[string]any{
		"email": tv.User.Email, "ticket": token, "csrf_token": csrf, "lang": "en",
		"password_policy":             tv.Policy.Level,
		"password_complexity_options": map[string]any{"min_length": minLength},
		"tenant": map[string]any{"name": tenant.FriendlyName, "friendly_name": tenant.FriendlyName, "picture_url": tenant.PictureURL,
			"support_email": tenant.SupportEmail, "support_url": tenant.SupportURL},
	})
	if err != nil {
		p.fail(w, err)
		return
	}
	pageHeaders(w)
	w.Header().Set("Content-Security-Policy", headers.Custom(nonce, tenant.PageSources, headers.FormTarget(tv.Ticket.ResultURL)))
	w.Write([]byte(out))
}

// wantsJSON tells a script's request (a classic custom page) from a form post.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json") || r.Header.Get("X-Requested-With") != ""
}

// ResetSubmit is the POST that sets the password and uses the link.
func (p *Pages) ResetSubmit() http.Handler {
	return p.form(64<<10, func(w http.ResponseWriter, r *http.Request) {
		token, pw := r.PostFormValue("ticket"), r.PostFormValue("newPassword")
		jsonMode := wantsJSON(r)
		again := func(status int, name, msg string) {
			if jsonMode {
				web.WriteJSON(w, status, map[string]string{"name": name, "message": msg})
				return
			}
			tv, err := p.ids.InspectTicket(r.Context(), token)
			if err != nil {
				p.fail(w, err)
				return
			}
			tenant, _ := p.ids.TenantSettings(r.Context())
			invite := tv.Invite
			if e := r.PostFormValue("experience"); e != "" {
				invite = e == "invite"
			}
			field := "newPassword"
			if name == "PasswordMismatchError" {
				field = "confirmNewPassword"
			}
			p.render(w, r, status, "reset", view{Texts: p.resetTexts(r.Context()), CSRF: p.csrfToken(w, r), Ticket: token, Email: tv.User.Email, Tenant: tenant.FriendlyName,
				Policy: policyFor(tv.Policy, "newPassword"), Invite: invite, Error: msg, Invalid: field, App: p.appName(r.Context(), tv.Ticket.ClientID),
				PageTitle: "Choose a password", formTargets: []string{headers.FormTarget(tv.Ticket.ResultURL)}})
		}
		if !p.checkCSRF(r) {
			again(http.StatusForbidden, "CsrfError", "This form expired. Please enter your password again.")
			return
		}
		if pw != r.PostFormValue("confirmNewPassword") {
			again(http.StatusBadRequest, "PasswordMismatchError", "The two passwords do not match.")
			return
		}
		who := identity.Requester{IP: web.ClientIP(r), UserAgent: r.UserAgent()}
		res, err := p.ids.SetPasswordWithTicket(r.Context(), token, pw, who)
		var de *errs.Error
		switch {
		case errors.Is(err, identity.ErrBusy):
			w.Header().Set("Retry-After", "1")
			again(http.StatusTooManyRequests, "TooManyRequests", busyMessage)
			return
		case errors.As(err, &de) && de.Code == "password_strength_error":
			msg := strings.TrimPrefix(de.Message, "PasswordStrengthError: ") + "."
			if jsonMode { // a classic page has no policy of its own to show
				msg += " " + policyOf(p, r, token)
			}
			again(http.StatusBadRequest, "PasswordStrengthError", msg)
			return
		case errors.As(err, &de) && de.Kind == errs.KindInvalid:
			if jsonMode {
				web.WriteJSON(w, http.StatusBadRequest, map[string]string{"name": "TicketError", "message": de.Message})
				return
			}
			tv, _ := p.ids.InspectTicket(r.Context(), token)
			v := problemView(tv.State, tv.Invite)
			if de.Code == "user_blocked" {
				v = view{Title: "Account blocked", Error: de.Message, Help: "Contact your administrator."}
			}
			v.CSRF, v.Ticket, v.PageTitle = p.csrfToken(w, r), token, v.Title
			v.Next = p.nextStep(r.Context(), tv.Ticket.ClientID, tv.Ticket.ResultURL, &tv.User)
			p.render(w, r, http.StatusBadRequest, "problem", v)
			return
		case err != nil:
			p.fail(w, err)
			return
		}
		email := ""
		if res.IncludeEmail {
			email = res.User.Email
		}
		if jsonMode {
			web.WriteJSON(w, http.StatusOK, map[string]any{"result_url": resultWith(res.ResultURL, true, "You can now login to the application with the new password.", email)})
			return
		}
		if redirectResult(w, r, res.ResultURL, true, "You can now login to the application with the new password.", email) {
			return
		}
		// The success page goes on with the experience the person was shown
		// (the page's script sets it from the link's fragment), as the form
		// does when it shows an error.
		invite := res.Invite
		if e := r.PostFormValue("experience"); e != "" {
			invite = e == "invite"
		}
		tv, _ := p.ids.InspectTicket(r.Context(), token) // used now, and still says which application sent it
		p.render(w, r, http.StatusOK, "done", view{Texts: p.resetTexts(r.Context()), Email: res.User.Email, Invite: invite, PageTitle: "All set",
			App:  p.appName(r.Context(), tv.Ticket.ClientID),
			Next: p.nextStep(r.Context(), tv.Ticket.ClientID, "", &res.User)})
	})
}

func policyOf(p *Pages, r *http.Request, token string) string {
	tv, err := p.ids.InspectTicket(r.Context(), token)
	if err != nil {
		return ""
	}
	return tv.Policy.Describe()
}

// RequestLink sends a fresh link to whoever asks from a page whose link no
// longer works; it answers the same whether or not the email has an account.
func (p *Pages) RequestLink() http.Handler {
	return p.form(maxForm, func(w http.ResponseWriter, r *http.Request) {
		if !p.checkCSRF(r) {
			p.render(w, r, http.StatusForbidden, "problem", view{Title: "Form expired", Error: "This form expired.", Help: "Open the link from your mail again.", PageTitle: "Form expired"})
			return
		}
		connection := ""
		tv, err := p.ids.InspectTicket(r.Context(), r.PostFormValue("ticket"))
		if err == nil && tv.User.Connection != "" {
			connection = tv.User.Connection
		} else if tenant, err := p.ids.TenantSettings(r.Context()); err == nil {
			connection = tenant.DefaultDirectory
		}
		who := identity.Requester{IP: web.ClientIP(r), UserAgent: r.UserAgent()}
		err = p.ids.RequestPasswordChange(r.Context(), identity.PasswordChangeRequest{Email: r.PostFormValue("email"), Connection: connection}, who)
		if errs.KindOf(err) == errs.KindBusy {
			w.Header().Set("Retry-After", errs.RetryAfter(err))
			p.render(w, r, http.StatusTooManyRequests, "problem", view{Title: "Please try again", Error: busyText(err), PageTitle: "Please try again"})
			return
		}
		if err != nil && errs.KindOf(err) != errs.KindInvalid {
			p.fail(w, err)
			return
		}
		p.render(w, r, http.StatusOK, "requested", view{PageTitle: "Check your mail", Next: p.nextStep(r.Context(), tv.Ticket.ClientID, "", nil)})
	})
}

// VerifyForm is GET of an email-verification link: a button, not the verification itself.
func (p *Pages) VerifyForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("ticket")
		tv, err := p.ids.InspectTicket(r.Context(), token)
		if err != nil {
			p.fail(w, err)
			return
		}
		csrf := p.csrfToken(w, r)
		if tv.State != identity.TicketValid || tv.Ticket.Kind != identity.TicketEmailVerification {
			v := problemView(tv.State, false)
			v.CanRequest, v.Help = false, "Log in to the application to get a new verification mail."
			v.PageTitle = v.Title
			v.Next = p.nextStep(r.Context(), tv.Ticket.ClientID, tv.Ticket.ResultURL, &tv.User)
			p.render(w, r, problemStatus(tv.State), "problem", v)
			return
		}
		p.render(w, r, http.StatusOK, "verify", view{CSRF: csrf, Ticket: token, Email: tv.User.Email, PageTitle: "Confirm your email",
			formTargets: []string{headers.FormTarget(tv.Ticket.ResultURL)}})
	})
}

// VerifySubmit is the POST that verifies the email.
func (p *Pages) VerifySubmit() http.Handler {
	return p.form(maxForm, func(w http.ResponseWriter, r *http.Request) {
		if !p.checkCSRF(r) {
			p.render(w, r, http.StatusForbidden, "problem", view{Title: "Form expired", Error: "This form expired.", Help: "Open the link from your mail again.", PageTitle: "Form expired"})
			return
		}
		token := r.PostFormValue("ticket")
		res, err := p.ids.VerifyEmailWithTicket(r.Context(), token, identity.Requester{IP: web.ClientIP(r), UserAgent: r.UserAgent()})
		tv, _ := p.ids.InspectTicket(r.Context(), token) // says which application sent the link, used or not
		var de *errs.Error
		if errors.As(err, &de) {
			v := problemView(identity.TicketUsed, false)
			v.Error, v.CanRequest, v.Help, v.PageTitle = de.Message, false, "Log in to the application to get a new verification mail.", v.Title
			v.Next = p.nextStep(r.Context(), tv.Ticket.ClientID, tv.Ticket.ResultURL, &tv.User)
			p.render(w, r, http.StatusBadRequest, "problem", v)
			return
		} else if err != nil {
			p.fail(w, err)
			return
		}
		email := ""
		if res.IncludeEmail {
			email = res.User.Email
		}
		if redirectResult(w, r, res.ResultURL, true, "Your email was verified. You can continue using the application.", email) {
			return
		}
		p.render(w, r, http.StatusOK, "verified", view{Email: res.User.Email, PageTitle: "Email verified", Next: p.nextStep(r.Context(), tv.Ticket.ClientID, "", &res.User)})
	})
}
