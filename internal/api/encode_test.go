package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/web"
)

// bodyKinds are request types the Management and Authentication APIs
// decode, each behind withBody as a handler would be.
var bodyKinds = []func() http.Handler{
	func() http.Handler {
		return withBody(http.StatusCreated, func(r *http.Request, in identity.NewUser) (any, error) {
			return in, identity.CheckMetadata(in.AppMetadata, in.UserMetadata)
		})
	},
	func() http.Handler {
		return withBody(http.StatusOK, func(r *http.Request, in identity.UserPatch) (any, error) {
			return in, identity.CheckMetadata(in.AppMetadata.V, in.UserMetadata.V)
		})
	},
	func() http.Handler {
		return withBody(http.StatusOK, func(r *http.Request, in identity.SignupRequest) (any, error) { return in, nil })
	},
	func() http.Handler {
		return withBody(http.StatusCreated, func(r *http.Request, in identity.InvitationRequest) (any, error) {
			return in, identity.CheckMetadata(in.AppMetadata, in.UserMetadata)
		})
	},
	func() http.Handler {
		return withBody(http.StatusOK, func(r *http.Request, in identity.Patch) (any, error) { return in, nil })
	},
}

// FuzzReadJSON sends arbitrary bodies to the JSON decoding every handler
// shares: the answer is the handler's own, a 400 or a 413 in Auth0's error
// shape, never a 500 and never a panic.
func FuzzReadJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		h := bodyKinds[int(kind)%len(bodyKinds)]()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/", bytes.NewReader(body)))
		if w.Code == http.StatusOK || w.Code == http.StatusCreated {
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("answer is not JSON: %q", w.Body.Bytes())
			}
			return
		}
		var e mgmtErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("%d: error body is not JSON: %q", w.Code, w.Body.Bytes())
		}
		if (w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge) || e.StatusCode != w.Code || e.Message == "" || e.ErrorCode == "" {
			t.Fatalf("body %.200q: %d %+v", body, w.Code, e)
		}
		if len(e.Message) > 1000 {
			t.Fatalf("the message repeats %d bytes", len(e.Message))
		}
	})
}

// TestReadJSON covers the bodies the fuzzer starts from, with the answer
// each must get.
func TestReadJSON(t *testing.T) {
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	for _, c := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"connection":"db","email":"a@example.com"}`, 201, ""},
		{``, 400, "invalid_body"},
		{`{"connection":`, 400, "invalid_body"},
		{`{"email":"a@example.com"} {}`, 400, "invalid_body"},
		{`{"email":"a@example.com"}]`, 400, "invalid_body"},
		{`{"favourite":1}`, 400, "invalid_body"},
		{`{"` + strings.Repeat("k", 5000) + `":1}`, 400, "invalid_body"},
		{`{"email":1e400}`, 400, "invalid_body"},
		{`{"app_metadata":{"n":1e400}}`, 400, "invalid_body"},
		{`{"app_metadata":{"n":` + strings.Repeat("9", 100000) + `}}`, 400, "invalid_body"},
		{`{"app_metadata":{"n":` + strings.Repeat("9", 300) + `}}`, 201, ""},
		{`{"app_metadata":{"d":` + deep + `}}`, 400, "invalid_body"},
		{`{"app_metadata":{"d":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`, 400, "invalid_body"},
		{`{"name":"a\u0000b"}`, 400, "invalid_body"},
		{`{"name":"a\\u0000b"}`, 201, ""},
		{`{"name":"` + strings.Repeat("x", maxBody) + `"}`, 413, "payload_too_large"},
	} {
		w := httptest.NewRecorder()
		bodyKinds[0]().ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader(c.body)))
		var e mgmtErrorBody
		json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != c.status || e.ErrorCode != c.code || len(e.Message) > 1000 {
			t.Errorf("%.60q: %d %+v, want %d %s", c.body, w.Code, e, c.status, c.code)
		}
	}
}

// TestMgmtErrorOfABody: a body past its bound, or one that stopped
// arriving, is the client's doing, answered in Auth0's error shape.
func TestMgmtErrorOfABody(t *testing.T) {
	for _, c := range []struct {
		err     error
		status  int
		code    string
		message string
	}{
		{fmt.Errorf("upload: %w", &http.MaxBytesError{Limit: 1 << 30}), 413, "payload_too_large", "Payload content length greater than maximum allowed: 1073741824"},
		{errors.Join(fmt.Errorf("upload: %w", &web.StalledError{Stall: 30 * time.Second})), 408, "request_timeout", "The request body stopped arriving: nothing came for 30s."},
	} {
		w := httptest.NewRecorder()
		mgmtError(w, c.err)
		var e mgmtErrorBody
		json.Unmarshal(w.Body.Bytes(), &e)
		want := mgmtErrorBody{StatusCode: c.status, Error: http.StatusText(c.status), Message: c.message, ErrorCode: c.code}
		if w.Code != c.status || e != want {
			t.Errorf("%v: %d %+v, want %+v", c.err, w.Code, e, want)
		}
	}
}
