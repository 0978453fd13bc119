package web

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/netip"
)

// RequestIDHeader carries a request's id: from a trusted proxy that named
// the request, and back to the client in every answer.
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds the length of an id taken from a proxy.
const maxRequestID = 128

type requestIDKey struct{}

// RequestID returns the id a trusted proxy gave r in X-Request-Id, or ""
// when r's peer is no trusted proxy or the id is not one Usher takes: 1 to
// 128 letters, digits, dots, underscores and hyphens. An id from anyone
// else is never believed: it would let a client write what it likes into
// the log lines of its requests, or pass for another client's request.
func (ps Proxies) RequestID(r *http.Request) string {
	a, err := netip.ParseAddr(peer(r))
	if err != nil || !ps.trusts(a) {
		return ""
	}
	id := r.Header.Get(RequestIDHeader)
	if !validRequestID(id) {
		return ""
	}
	return id
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// NewRequestID makes an id for a request that came without a trusted one:
// 26 random characters of base32.
func NewRequestID() string { return rand.Text() }

// WithRequestID returns ctx carrying the id of the request it serves.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDOf returns the id of the request ctx serves, or "" outside one.
func RequestIDOf(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Logger returns log naming the id of the request ctx serves on every line
// (as request_id), or log itself outside a request: what a handler logs
// through it can be found with the access log line and the id the client
// was answered with.
func Logger(ctx context.Context, log *slog.Logger) *slog.Logger {
	if id := RequestIDOf(ctx); id != "" {
		return log.With("request_id", id)
	}
	return log
}

// NoteError hands err to the access log line of the request w answers,
// which then says why the request failed, and reports whether w took it:
// the API's access log writes such lines; a caller whose w did not take
// the error logs it itself.
func NoteError(w http.ResponseWriter, err error) bool {
	n, ok := w.(interface{ NoteError(error) })
	if ok {
		n.NoteError(err)
	}
	return ok
}
