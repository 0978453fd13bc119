package api

import (
	"net/http"

	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/web"
)

// Signing keys (/api/v2/keys/signing): list, read, rotate and revoke, in
// Auth0's shapes.

// rotatedKey is the answer to a rotation or a revocation: the key's id and certificate.
type rotatedKey struct {
	Cert string `json:"cert"`
	KID  string `json:"kid"`
}

func handleListSigningKeys(keys *oauth.Keys) http.Handler {
	return respond(func(r *http.Request) (any, error) { return keys.List(r.Context()), nil })
}

func handleGetSigningKey(keys *oauth.Keys) http.Handler {
	return respond(func(r *http.Request) (any, error) { return keys.Get(r.Context(), r.PathValue("kid")) })
}

func handleRotateSigningKey(keys *oauth.Keys) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, err := keys.Rotate(r.Context())
		if err != nil {
			mgmtError(w, err)
			return
		}
		web.WriteJSON(w, http.StatusCreated, rotatedKey{Cert: k.Cert, KID: k.KID})
	})
}

func handleRevokeSigningKey(keys *oauth.Keys) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		k, err := keys.Revoke(r.Context(), r.PathValue("kid"))
		return rotatedKey{Cert: k.Cert, KID: k.KID}, err
	})
}
