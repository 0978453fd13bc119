package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/web"
)

// maxBody bounds every JSON request body.
const maxBody = 1 << 20

// mgmtErrorBody is the Management API's error shape.
type mgmtErrorBody struct {
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	ErrorCode  string `json:"errorCode,omitempty"`
}

func writeMgmtError(w http.ResponseWriter, status int, code, message string) {
	web.WriteJSON(w, status, mgmtErrorBody{StatusCode: status, Error: http.StatusText(status), Message: message, ErrorCode: code})
}

// mgmtError maps a domain error to its status once; anything else is a 500
// whose detail goes to the log, never to the client.
func mgmtError(w http.ResponseWriter, err error) {
	var de *errs.Error
	if errors.As(err, &de) {
		status := map[errs.Kind]int{
			errs.KindInvalid:  http.StatusBadRequest,
			errs.KindNotFound: http.StatusNotFound,
			errs.KindConflict: http.StatusConflict,
			errs.KindDenied:   http.StatusForbidden,
			errs.KindBusy:     http.StatusTooManyRequests,
		}[de.Kind]
		if de.Kind == errs.KindBusy {
			w.Header().Set("Retry-After", errs.RetryAfter(err))
		}
		writeMgmtError(w, status, de.Code, de.Message)
		return
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeMgmtError(w, http.StatusRequestEntityTooLarge, "payload_too_large", "Payload content length greater than maximum allowed: "+strconv.FormatInt(tooBig.Limit, 10))
		return
	}
	var stalled *web.StalledError
	if errors.As(err, &stalled) {
		writeMgmtError(w, http.StatusRequestTimeout, "request_timeout", "The request body stopped arriving: nothing came for "+stalled.Stall.String()+".")
		return
	}
	noteError(w, err)
	if unavailable(w, err) {
		writeMgmtError(w, http.StatusServiceUnavailable, "temporarily_unavailable", unavailableText)
		return
	}
	writeMgmtError(w, http.StatusInternalServerError, "internal_error", "Internal Server Error")
}

// unavailableText tells a caller the database is out of reach for now.
const unavailableText = "The service is unavailable for a moment; try again."

// unavailable reports an error of the database's reach, which a retry a
// few seconds later may not meet, and says so in Retry-After.
func unavailable(w http.ResponseWriter, err error) bool {
	if !errors.Is(err, errs.ErrUnavailable) {
		return false
	}
	w.Header().Set("Retry-After", "5")
	return true
}

// oauthServerError answers an unexpected error of an Authentication API
// endpoint: 503 while the database is out of reach, else 500.
func oauthServerError(w http.ResponseWriter, err error, description string) {
	noteError(w, err)
	if unavailable(w, err) {
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", unavailableText)
		return
	}
	writeOAuthError(w, http.StatusInternalServerError, "server_error", description)
}

// writeOAuthError writes the Authentication API's error shape.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// readJSON reads a bounded body and decodes it with Auth0's validation.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := readBody(w, r, maxBody)
	if err != nil {
		return err
	}
	return identity.Decode(data, v)
}

// readBody reads a body of at most limit bytes. Past the limit the error is
// the *http.MaxBytesError mgmtError answers 413; a body that breaks off (a
// broken chunk, a connection that ends early) is the caller's 400.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if err != nil && !errors.As(err, &tooBig) {
		return nil, errs.Invalid("invalid_body", "The request body could not be read: it ends early or its chunked encoding is broken.")
	}
	return data, err
}

// maxIdempotencyKey bounds an Idempotency-Key header: room for the keys
// Usher's own commands make ("usher-invite:" and an address), and far
// below what a database index entry holds.
const maxIdempotencyKey = 512

// idempotencyKey reads a request's Idempotency-Key header ("" when there
// is none): text without control characters, at most maxIdempotencyKey
// bytes. Bytes that are not text would be stored as U+FFFD, making two
// different keys one.
func idempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey || !utf8.ValidString(key) || strings.IndexFunc(key, unicode.IsControl) >= 0 {
		return "", errs.Invalid("invalid_idempotency_key", "The Idempotency-Key header must be text of at most %d bytes, without control characters.", maxIdempotencyKey)
	}
	return key, nil
}

// withBody is the shape of every Management write: read a JSON body of type
// In, call fn, write its answer with status.
func withBody[In any](status int, fn func(r *http.Request, in In) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in In
		if err := readJSON(w, r, &in); err != nil {
			mgmtError(w, err)
			return
		}
		out, err := fn(r, in)
		if err != nil {
			mgmtError(w, err)
			return
		}
		web.WriteJSON(w, status, out)
	})
}

// respond writes fn's answer with 200, or its error.
func respond(fn func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := fn(r)
		if err != nil {
			mgmtError(w, err)
			return
		}
		web.WriteJSON(w, http.StatusOK, out)
	})
}

// deleted calls del with the {id} of the path and answers 204.
func deleted(del func(ctx context.Context, id string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := del(r.Context(), r.PathValue("id")); err != nil {
			mgmtError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// fieldSelection applies Auth0's fields/include_fields query parameters.
type fieldSelection struct {
	fields  map[string]bool
	include bool
}

func selection(r *http.Request) fieldSelection {
	s := fieldSelection{include: r.URL.Query().Get("include_fields") != "false"}
	if f := r.URL.Query().Get("fields"); f != "" {
		s.fields = map[string]bool{}
		for _, name := range strings.Split(f, ",") {
			s.fields[strings.TrimSpace(name)] = true
		}
	}
	return s
}

// apply returns v with only the selected top-level properties.
func (s fieldSelection) apply(v any) any {
	if s.fields == nil {
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return v
	}
	for k := range m {
		if s.fields[k] != s.include {
			delete(m, k)
		}
	}
	return m
}

func (s fieldSelection) applyAll(items []any) []any {
	for i := range items {
		items[i] = s.apply(items[i])
	}
	return items
}

// maxPage bounds the page parameter, so that page*per_page (an SQL offset)
// stays far from overflowing; it is past the end of any real list.
const maxPage = 10_000_000

// paging is Auth0's offset paging: page (from 0), per_page, include_totals.
type paging struct {
	Page, PerPage int
	IncludeTotals bool
}

func readPaging(r *http.Request, defaultPerPage int) (paging, error) {
	q := r.URL.Query()
	p := paging{PerPage: defaultPerPage, IncludeTotals: q.Get("include_totals") == "true"}
	var err error
	if v := q.Get("page"); v != "" {
		if p.Page, err = strconv.Atoi(v); err != nil || p.Page < 0 || p.Page > maxPage {
			return p, errs.Invalid("invalid_query_string", "Query validation error: 'page must be an integer from 0 to %d' on property page.", maxPage)
		}
	}
	if v := q.Get("per_page"); v != "" {
		if p.PerPage, err = strconv.Atoi(v); err != nil || p.PerPage < 0 || p.PerPage > 100 {
			return p, errs.Invalid("invalid_query_string", "Query validation error: 'per_page must be an integer from 0 to 100' on property per_page.")
		}
	}
	return p, nil
}

// window returns the slice of n items that p selects.
func (p paging) window(n int) (from, to int) {
	from = min(p.Page*p.PerPage, n)
	return from, min(from+p.PerPage, n)
}

// checkpoint applies Auth0's checkpoint paging when the request asks for it
// (take, from): at most take items starting at the one whose id is from, and
// the id to ask for next when more remain.
func checkpoint[T any](r *http.Request, items []T, id func(T) string) (page []T, next string, asked bool, err error) {
	q := r.URL.Query()
	if !q.Has("take") && !q.Has("from") {
		return nil, "", false, nil
	}
	take := 50
	if v := q.Get("take"); v != "" {
		if take, err = strconv.Atoi(v); err != nil || take < 1 || take > 100 {
			return nil, "", true, errs.Invalid("invalid_query_string", "Query validation error: 'take must be an integer from 1 to 100' on property take.")
		}
	}
	start := 0
	if from := q.Get("from"); from != "" {
		start = -1
		for i, it := range items {
			if id(it) == from {
				start = i
				break
			}
		}
		if start < 0 {
			return nil, "", true, errs.Invalid("invalid_query_string", "Query validation error: 'from is not a valid checkpoint' on property from.")
		}
	}
	end := min(start+take, len(items))
	if end < len(items) {
		next = id(items[end])
	}
	return items[start:end], next, true, nil
}

// checkpointBody is a checkpoint page: {key: items, next}.
func checkpointBody(key string, items []any, next string) map[string]any {
	body := map[string]any{key: items}
	if next != "" {
		body["next"] = next
	}
	return body
}

func toAny[T any](items []T, f func(T) any) []any {
	out := make([]any, len(items))
	for i, v := range items {
		out[i] = f(v)
	}
	return out
}
