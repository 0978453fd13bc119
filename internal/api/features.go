package api

import (
	"net/http"

	"github.com/usherid/usher/internal/features"
)

// handleGetSetting answers a settings document.
func handleGetSetting(s features.Setting) http.Handler {
	return respond(func(r *http.Request) (any, error) { return s.Get() })
}

// handlePatchSetting takes some of a document's properties (PATCH).
func handlePatchSetting(s features.Setting) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, body any) (any, error) { return s.Patch(body) })
}

// handlePutSetting takes a whole document (PUT).
func handlePutSetting(s features.Setting) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, body any) (any, error) { return s.Put(body) })
}

func handleListFactors(c *features.Catalog) http.Handler {
	return respond(func(r *http.Request) (any, error) { return c.Factors(), nil })
}

func handleSetFactor(c *features.Catalog) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, body any) (any, error) {
		s, err := c.Factor(r.PathValue("name"))
		if err != nil {
			return nil, err
		}
		return s.Put(body)
	})
}

func handleGetPartials(c *features.Catalog) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		s, err := c.Partials(r.PathValue("prompt"))
		if err != nil {
			return nil, err
		}
		return s.Get()
	})
}

func handleSetPartials(c *features.Catalog) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, body any) (any, error) {
		s, err := c.Partials(r.PathValue("prompt"))
		if err != nil {
			return nil, err
		}
		return s.Put(body)
	})
}
