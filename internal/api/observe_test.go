package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usherid/usher/internal/web"
)

// logLines is a JSON log, read back line by line.
type logLines struct{ strings.Builder }

func (l *logLines) entries(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// edgeFor is the edge NewServer puts around its routes, around routes of
// a test's own, logging at level into buf.
func edgeFor(t *testing.T, proxies string, level slog.Level, routes map[string]http.HandlerFunc) (http.Handler, *prometheus.Registry, *logLines) {
	t.Helper()
	ps, err := web.ParseProxies(proxies)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for pattern, h := range routes {
		mux.Handle(pattern, h)
	}
	buf := &logLines{}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level}))
	return edge(mux, log, reg, ps), reg, buf
}

func TestEveryRequestHasAnIDInItsAnswerAndItsLogLines(t *testing.T) {
	t.Parallel()
	routes := map[string]http.HandlerFunc{
		"GET /ok": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
		"GET /fails": func(w http.ResponseWriter, r *http.Request) {
			mgmtError(w, errors.New("the disk is on fire"))
		},
	}
	for _, tc := range []struct {
		name, peer, sent, path string
		kept                   bool // the id sent is the one used
		status                 int
		msg                    string // the log line the request leaves
	}{
		{"from a trusted proxy", "10.0.0.5:5000", "lb-1234.abc", "/ok", true, 204, "request"},
		{"from a trusted proxy, failing", "10.0.0.5:5000", "lb-5678", "/fails", true, 500, "request failed"},
		{"from a trusted proxy, an id with a line break", "10.0.0.5:5000", "lb-1\nforged=1", "/ok", false, 204, "request"},
		{"from a trusted proxy, an id too long", "10.0.0.5:5000", strings.Repeat("x", 129), "/ok", false, 204, "request"},
		{"from a client", "203.0.113.9:5000", "client-chosen", "/ok", false, 204, "request"},
		{"from a client, failing", "203.0.113.9:5000", "client-chosen", "/fails", false, 500, "request failed"},
		{"from a client, no id", "203.0.113.9:5000", "", "/ok", false, 204, "request"},
		{"unmatched", "203.0.113.9:5000", "", "/nowhere", false, 404, "request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, _, logs := edgeFor(t, "10.0.0.0/8", slog.LevelDebug, routes)
			r := httptest.NewRequest("GET", tc.path, nil)
			r.RemoteAddr = tc.peer
			if tc.sent != "" {
				r.Header.Set("X-Request-Id", tc.sent)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			id := w.Header().Get("X-Request-Id")
			switch {
			case tc.kept && id != tc.sent:
				t.Fatalf("answered with id %q, want the proxy's %q", id, tc.sent)
			case !tc.kept && (id == "" || id == tc.sent || strings.ContainsAny(id, " \n\"")):
				t.Fatalf("answered with id %q (sent %q), want a new one", id, tc.sent)
			}
			entries := logs.entries(t)
			if len(entries) != 1 {
				t.Fatalf("%d log lines, want 1:\n%s", len(entries), logs.String())
			}
			e := entries[0]
			if e["msg"] != tc.msg || e["request_id"] != id {
				t.Fatalf("log line %v, want %q with request_id %q", e, tc.msg, id)
			}
			if tc.status == 500 && e["error"] != "the disk is on fire" {
				t.Fatalf("the failing request's line does not say why: %v", e)
			}
			if strings.Contains(w.Body.String(), "fire") {
				t.Fatalf("the internal error reached the client: %s", w.Body.String())
			}
		})
	}
}

func TestAccessLogFollowsTheLevel(t *testing.T) {
	t.Parallel()
	routes := map[string]http.HandlerFunc{
		"GET /ok":      func(w http.ResponseWriter, r *http.Request) {},
		"GET /missing": func(w http.ResponseWriter, r *http.Request) { writeMgmtError(w, 404, "not_found", "Not Found") },
		"GET /broken":  func(w http.ResponseWriter, r *http.Request) { writeMgmtError(w, 503, "unavailable", "Unavailable") },
	}
	for _, tc := range []struct {
		level slog.Level
		want  int // lines for the three requests
	}{
		{slog.LevelDebug, 3},
		{slog.LevelInfo, 1}, // the 503 only
		{slog.LevelError, 0},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			t.Parallel()
			h, _, logs := edgeFor(t, "", tc.level, routes)
			for _, p := range []string{"/ok", "/missing", "/broken"} {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
			}
			if got := len(logs.entries(t)); got != tc.want {
				t.Fatalf("%d access log lines at %s, want %d:\n%s", got, tc.level, tc.want, logs.String())
			}
		})
	}
}

func TestAPanicIsAnswered500LoggedWithItsStackAndCounted(t *testing.T) {
	t.Parallel()
	h, reg, logs := edgeFor(t, "", slog.LevelInfo, map[string]http.HandlerFunc{
		"GET /api/v2/boom/{id}": func(w http.ResponseWriter, r *http.Request) { panic("the handler's own bug") },
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v2/boom/1", nil))
	if w.Code != 500 {
		t.Fatalf("status %d, want 500", w.Code)
	}
	var body mgmtErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.StatusCode != 500 || body.Error != "Internal Server Error" {
		t.Fatalf("body %q is not Auth0's error shape (%v)", w.Body.String(), err)
	}
	if strings.Contains(w.Body.String(), "goroutine") || strings.Contains(w.Body.String(), "handler's own bug") {
		t.Fatalf("the panic reached the client: %s", w.Body.String())
	}
	id := w.Header().Get("X-Request-Id")
	var panicLine map[string]any
	for _, e := range logs.entries(t) {
		if e["msg"] == "panic serving request" {
			panicLine = e
		}
	}
	if panicLine == nil || panicLine["request_id"] != id || panicLine["panic"] != "the handler's own bug" ||
		!strings.Contains(panicLine["stack"].(string), "observe_test.go") {
		t.Fatalf("the panic's log line %v (id %q):\n%s", panicLine, id, logs.String())
	}
	route := "GET /api/v2/boom/{id}"
	if n := counterValue(t, reg, "usher_http_panics_total", map[string]string{"route": route}); n != 1 {
		t.Fatalf("usher_http_panics_total = %v, want 1", n)
	}
	if n := counterValue(t, reg, "usher_http_requests_total", map[string]string{"route": route, "method": "GET", "code": "500"}); n != 1 {
		t.Fatalf("the request was not counted as a 500: %v", n)
	}
}

// A panic after the answer began cannot turn it into a 500: the
// connection is cut, so the client sees a broken answer rather than a
// truncated one it could take for whole, and the request counts as a 500.
func TestAPanicAfterTheAnswerBeganCutsTheConnection(t *testing.T) {
	t.Parallel()
	h, reg, _ := edgeFor(t, "", slog.LevelInfo, map[string]http.HandlerFunc{
		"GET /half": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(200)
			w.Write([]byte("the first part"))
			panic("half way")
		},
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	srv.Config.ErrorLog = slog.NewLogLogger(slog.New(slog.NewTextHandler(io.Discard, nil)).Handler(), slog.LevelError)
	resp, err := srv.Client().Get(srv.URL + "/half")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("the client read a whole answer from a handler that panicked half way")
	}
	if n := counterValue(t, reg, "usher_http_requests_total", map[string]string{"route": "GET /half", "method": "GET", "code": "500"}); n != 1 {
		t.Fatalf("the request was not counted as a 500: %v", n)
	}
}

// counterValue is the value of the counter name with labels in reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}
