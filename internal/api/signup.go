package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/web"
)

// dbError writes the /dbconnections error shape Auth0's SDKs read:
// {name, code, description, statusCode}.
func dbError(w http.ResponseWriter, err error) {
	var de *errs.Error
	if !errors.As(err, &de) || de.Kind == errs.KindBusy {
		authError(w, err)
		return
	}
	name := "BadRequestError"
	if de.Code == "invalid_password" {
		name = "PasswordStrengthError"
	}
	web.WriteJSON(w, http.StatusBadRequest, map[string]any{"name": name, "code": de.Code, "description": de.Message, "statusCode": http.StatusBadRequest})
}

func handleSignup(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in identity.SignupRequest
		if err := readJSON(w, r, &in); err != nil {
			dbError(w, err)
			return
		}
		u, err := ids.Signup(r.Context(), in, identity.Requester{IP: web.ClientIP(r), UserAgent: r.UserAgent()})
		if err != nil {
			dbError(w, err)
			return
		}
		out := map[string]any{"_id": strings.TrimPrefix(u.ID, "auth0|"), "email": u.Email, "email_verified": u.EmailVerified}
		for k, v := range map[string]string{"username": u.Username, "given_name": u.Profile.GivenName, "family_name": u.Profile.FamilyName, "name": u.Profile.Name, "nickname": u.Profile.Nickname, "picture": u.Profile.Picture} {
			if v != "" {
				out[k] = v
			}
		}
		web.WriteJSON(w, http.StatusOK, out)
	})
}
