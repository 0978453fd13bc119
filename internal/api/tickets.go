package api

import (
	"errors"
	"net/http"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/web"
)

func handlePasswordChangeTicket(ids *identity.Service) http.Handler {
	return withBody(http.StatusCreated, func(r *http.Request, in identity.PasswordChangeTicketRequest) (any, error) {
		link, err := ids.PasswordChangeTicket(r.Context(), in)
		return map[string]string{"ticket": link}, err
	})
}

func handleEmailVerificationTicket(ids *identity.Service) http.Handler {
	return withBody(http.StatusCreated, func(r *http.Request, in identity.EmailVerificationTicketRequest) (any, error) {
		link, err := ids.EmailVerificationTicket(r.Context(), in)
		return map[string]string{"ticket": link}, err
	})
}

// changePasswordSent is Auth0's answer to /dbconnections/change_password,
// the same whether or not the email has an account.
const changePasswordSent = "We've just sent you an email to reset your password."

// handleChangePassword is POST /dbconnections/change_password. Each email
// may ask 10 times at once and then once a minute (the service keeps that
// budget for every instance); past that, 429.
func handleChangePassword(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in identity.PasswordChangeRequest
		if err := readJSON(w, r, &in); err != nil {
			authError(w, err)
			return
		}
		who := identity.Requester{IP: web.ClientIP(r), UserAgent: r.UserAgent()}
		if err := ids.RequestPasswordChange(r.Context(), in, who); err != nil {
			authError(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(changePasswordSent))
	})
}

// authError maps an error to the Authentication API's {error, error_description}.
func authError(w http.ResponseWriter, err error) {
	var de *errs.Error
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &de) && de.Kind == errs.KindInvalid:
		code := de.Code
		if code == "invalid_body" {
			code = "invalid_request"
		}
		writeOAuthError(w, http.StatusBadRequest, code, de.Message)
	case errors.As(err, &de) && de.Kind == errs.KindBusy:
		w.Header().Set("Retry-After", errs.RetryAfter(err))
		writeOAuthError(w, http.StatusTooManyRequests, de.Code, de.Message)
	case errors.As(err, &tooBig):
		writeOAuthError(w, http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large.")
	default:
		oauthServerError(w, err, "Something went wrong. Try again later.")
	}
}
