package main

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/mail/mailtest"
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

// TestMetricsAProductionTeamNeeds follows an import with invitations
// through /metrics: the rows by result, the invitations waiting in the
// outbox and for how long, their delivery once there is somewhere to send
// them, and a login's Action run and password hashing.
func TestMetricsAProductionTeamNeeds(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil) // no SMTP: mail waits in the outbox
	tok := s.token(t)
	file := usersFile(4, "metrics", map[int]string{2: `{"email":"not-an-email"}`})
	st, job, e := s.postImport(t, tok, file, "users.json", map[string]string{"connection_id": s.connectionID(t, tok), "invite": "true"})
	if st != 202 {
		t.Fatalf("import: %d %+v", st, e)
	}
	if job = s.waitJob(t, tok, job.ID); job.Status != "completed" {
		t.Fatalf("import ended %+v", job)
	}
	for result, want := range map[string]float64{"inserted": 3, "invited": 3, "failed": 1, "updated": 0, "skipped": 0} {
		if got := s.metric(t, `usher_import_rows_total{result="`+result+`"}`); got != want {
			t.Errorf("usher_import_rows_total{result=%q} = %v, want %v", result, got, want)
		}
	}
	if got := s.metric(t, `usher_mail_outbox{status="queued"}`); got != 3 {
		t.Errorf("%v mails queued in the outbox, want the 3 invitations", got)
	}
	s.Clock.Advance(time.Hour)
	if age := s.metric(t, "usher_mail_oldest_due_seconds"); age < 3600 || age > 3700 {
		t.Errorf("an hour later the oldest invitation has been due %vs", age)
	}

	// Somewhere to send them: the worker delivers the three.
	sink := mailtest.Start(t)
	host, port, _ := net.SplitHostPort(sink.Addr)
	portN, _ := strconv.Atoi(port)
	if st := s.call(t, "POST", "/api/v2/emails/provider", tok, map[string]any{"name": "smtp", "enabled": true,
		"credentials": map[string]any{"smtp_host": host, "smtp_port": portN}}, nil); st != 201 {
		t.Fatalf("email provider: %d", st)
	}
	waitFor(t, 30*time.Second, "the invitations delivered", func() bool {
		return s.metric(t, `usher_mail_deliveries_total{result="sent"}`) == 3
	})
	if q, age := s.metric(t, `usher_mail_outbox{status="queued"}`), s.metric(t, "usher_mail_oldest_due_seconds"); q != 0 || age != 0 {
		t.Errorf("after delivery: %v queued, the oldest due for %vs; want none", q, age)
	}

	// A login runs the post-login Action and checks a password.
	var a actionBody
	if st := s.call(t, "POST", "/api/v2/actions/actions", tok, map[string]any{"name": "Clear invitation flag",
		"supported_triggers": []map[string]string{{"id": "post-login"}}, "code": invitationAction}, &a); st != 201 {
		t.Fatalf("create action: %d", st)
	}
	if st := s.call(t, "POST", "/api/v2/actions/actions/"+a.ID+"/deploy", tok, nil, nil); st != 202 {
		t.Fatalf("deploy: %d", st)
	}
	if st := s.call(t, "PATCH", "/api/v2/actions/triggers/post-login/bindings", tok, map[string]any{"bindings": []map[string]any{
		{"ref": map[string]string{"type": "action_id", "value": a.ID}}}}, nil); st != 200 {
		t.Fatalf("bind: %d", st)
	}
	hashesBefore := s.metric(t, "usher_password_hash_wait_seconds_count")
	c := s.app(t, tok, nil)
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "lin@example.com", "password": "Str0ng-Passw0rd!"}, nil)
	if st, body := s.passwordRealm(t, c, "lin@example.com", "Str0ng-Passw0rd!", "openid"); st != 200 {
		t.Fatalf("login: %d %v", st, body)
	}
	if got := s.metric(t, `usher_action_runs_total{result="ok",trigger="post-login"}`); got != 1 {
		t.Errorf("usher_action_runs_total for the login = %v, want 1", got)
	}
	if got := s.metric(t, `usher_action_run_duration_seconds_count{trigger="post-login"}`); got != 1 {
		t.Errorf("usher_action_run_duration_seconds_count = %v, want 1", got)
	}
	if got := s.metric(t, "usher_password_hash_wait_seconds_count") - hashesBefore; got != 2 {
		t.Errorf("%v password hashes timed waiting for a slot, want 2 (the new password, the login)", got)
	}
}
