package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// logEntries reads the server's JSON log.
func (s *testServer) logEntries(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(s.Stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// requestLines are the log lines of the request with id.
func (s *testServer) requestLines(t testing.TB, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range s.logEntries(t) {
		if e["request_id"] == id {
			out = append(out, e)
		}
	}
	return out
}

// get sends a GET with extra headers and returns the answer's status and X-Request-Id.
func (s *testServer) getWith(t testing.TB, path string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Request-Id")
}

func TestRequestIDsReachTheAnswerAndTheAccessLog(t *testing.T) {
	t.Parallel()
	// The test's requests come from 127.0.0.1: here, a trusted proxy.
	s := startServer(t, sqliteDSN(t), map[string]string{"USHER_LOG_LEVEL": "debug", "USHER_TRUSTED_PROXIES": "127.0.0.1"})
	status, id := s.getWith(t, "/healthz", http.Header{"X-Request-Id": {"lb-7f3a.1"}})
	if status != 200 || id != "lb-7f3a.1" {
		t.Fatalf("with a proxy's id: %d, X-Request-Id %q", status, id)
	}
	_, forged := s.getWith(t, "/healthz", http.Header{"X-Request-Id": {"x\" level=ERROR msg=forged"}})
	_, none := s.getWith(t, "/api/v2/users", nil) // 401, no token
	if forged == "" || strings.ContainsAny(forged, "\" =") || none == "" || none == forged {
		t.Fatalf("new ids %q and %q", forged, none)
	}
	for _, want := range []struct {
		id, path string
		status   float64
	}{{"lb-7f3a.1", "/healthz", 200}, {forged, "/healthz", 200}, {none, "/api/v2/users", 401}} {
		lines := s.requestLines(t, want.id)
		if len(lines) != 1 || lines[0]["msg"] != "request" || lines[0]["path"] != want.path || lines[0]["status"] != want.status {
			t.Fatalf("at debug, the log lines of request %s: %v\n%s", want.id, lines, s.Stderr.String())
		}
	}

	// At the default level a request that went well leaves no line.
	quiet := startServer(t, sqliteDSN(t), nil)
	_, id = quiet.getWith(t, "/healthz", nil)
	if lines := quiet.requestLines(t, id); id == "" || len(lines) != 0 {
		t.Fatalf("at info, a 200 was logged: %v", lines)
	}
}
