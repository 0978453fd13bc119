package api

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/pages"
)

func handleGetUniversalLogin(p *pages.Pages) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		tpl, err := p.UniversalLogin(r.Context())
		if errors.Is(err, errs.ErrNotFound) {
			return nil, errs.NotFound("inexistent_template", "Template does not exist.")
		}
		return map[string]string{"body": tpl}, err
	})
}

// handleSetUniversalLogin takes the template as Auth0's SDKs send it: a bare
// JSON string (v7), {"template": …} (v4), or text/html. 201 first, 204 after.
func handleSetUniversalLogin(p *pages.Pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := readBody(w, r, maxBody)
		if err != nil {
			mgmtError(w, err)
			return
		}
		tpl := string(data)
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "text/html" {
			trimmed := strings.TrimSpace(tpl)
			if strings.HasPrefix(trimmed, `"`) {
				err = identity.Decode(data, &tpl)
			} else {
				var body struct {
					Template string `json:"template"`
				}
				err = identity.Decode(data, &body)
				tpl = body.Template
			}
			if err != nil {
				mgmtError(w, err)
				return
			}
		}
		created, err := p.SetUniversalLogin(r.Context(), tpl)
		if err != nil {
			mgmtError(w, err)
			return
		}
		if created {
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(map[string]string{"body": tpl})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func handleDeleteUniversalLogin(p *pages.Pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := p.DeleteUniversalLogin(r.Context()); err != nil {
			mgmtError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func handleGetCustomText(p *pages.Pages) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		return p.CustomText(r.Context(), r.PathValue("prompt"), r.PathValue("language"))
	})
}

func handleSetCustomText(p *pages.Pages) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, t pages.Texts) (any, error) {
		return t, p.SetCustomText(r.Context(), r.PathValue("prompt"), r.PathValue("language"), t)
	})
}

func handleGetBranding(p *pages.Pages) http.Handler {
	return respond(func(r *http.Request) (any, error) { return p.Branding(r.Context()) })
}

// handleUpdateBranding sets the fields the body names; null clears one.
func handleUpdateBranding(p *pages.Pages) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, patch map[string]json.RawMessage) (any, error) {
		return p.UpdateBranding(r.Context(), patch)
	})
}
