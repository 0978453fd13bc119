package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
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
	waitFor(t, 30*time.Second, "the invitations delivered and the outbox empty", func() bool {
		// The outbox is read from the database at most once a second.
		return s.metric(t, `usher_mail_deliveries_total{result="sent"}`) == 3 &&
			s.metric(t, `usher_mail_outbox{status="queued"}`) == 0 && s.metric(t, "usher_mail_oldest_due_seconds") == 0
	})

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

// stopping stops s as SIGTERM does, and returns a channel closed once
// run() has returned; s.stop reports an error run() returned.
func stopping(s *testServer) <-chan struct{} {
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.stop()
	}()
	return stopped
}

// A login under way when the server is told to stop is answered: the
// server takes no new connection, finishes the login, and run() returns nil.
func TestShutdownFinishesTheRequestsUnderWay(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	var a actionBody
	if st := s.call(t, "POST", "/api/v2/actions/actions", tok, map[string]any{"name": "Slow", "supported_triggers": []map[string]string{{"id": "post-login"}},
		"code": `exports.onExecutePostLogin = async (event, api) => { await new Promise((r) => setTimeout(r, 1500)); api.idToken.setCustomClaim("https://x/slow", true); };`}, &a); st != 201 {
		t.Fatalf("create action: %d", st)
	}
	s.call(t, "POST", "/api/v2/actions/actions/"+a.ID+"/deploy", tok, nil, nil)
	if st := s.call(t, "PATCH", "/api/v2/actions/triggers/post-login/bindings", tok, map[string]any{"bindings": []map[string]any{
		{"ref": map[string]string{"type": "action_id", "value": a.ID}}}}, nil); st != 200 {
		t.Fatalf("bind: %d", st)
	}
	c := s.app(t, tok, nil)
	s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "lin@example.com", "password": "Str0ng-Passw0rd!"}, nil)

	// The login goes out on a connection of its own; once the server is
	// serving it, the server is told to stop.
	type answer struct {
		status int
		body   map[string]any
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		form := url.Values{"grant_type": {"http://auth0.com/oauth/grant-type/password-realm"}, "client_id": {c.ClientID},
			"client_secret": {c.ClientSecret}, "username": {"lin@example.com"}, "password": {"Str0ng-Passw0rd!"}, "realm": {dbConn}, "scope": {"openid"}}
		req, _ := http.NewRequest("POST", s.URL+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := (&http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		answered <- answer{status: resp.StatusCode, body: body}
	}()
	waitFor(t, 10*time.Second, "the login under way", func() bool {
		return s.metric(t, "usher_http_requests_in_flight") == 2 // the login, and this scrape
	})
	stopped := stopping(s)
	waitFor(t, 10*time.Second, "new connections refused", func() bool {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	select {
	case <-stopped:
		t.Fatal("run() returned with the login under way")
	default:
	}
	got := <-answered
	if got.err != nil || got.status != 200 || got.body["id_token"] == nil {
		t.Fatalf("the login under way at shutdown: %d %v %v\n%s", got.status, got.body, got.err, s.Stderr.String())
	}
	select {
	case <-stopped: // s.stop checked that run() returned nil
	case <-time.After(20 * time.Second):
		t.Fatal("run() did not return after the last request")
	}
}

// The outbox worker's batch under way at shutdown is sent and recorded
// whole before run() returns: no mail of it is left marked failed, or
// claimed for a later worker to send again.
func TestShutdownFinishesTheMailBatchUnderWay(t *testing.T) {
	t.Parallel()
	sink := mailtest.Start(t)
	sink.Delay(200 * time.Millisecond) // each mail's 250 comes a moment after it arrived
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
	tok := s.token(t)
	// One import: its five invitations are queued together, one batch.
	st, job, e := s.postImport(t, tok, usersFile(5, "batch", nil), "users.json", map[string]string{"connection_id": s.connectionID(t, tok), "invite": "true"})
	if st != 202 {
		t.Fatalf("import: %d %+v", st, e)
	}
	s.waitJob(t, tok, job.ID)
	sink.Wait(t, 1, 30*time.Second) // the first mail is on its way
	<-stopping(s)
	if n := len(sink.Messages()); n != 5 {
		t.Fatalf("%d of the batch's 5 mails arrived", n)
	}
	rows, err := openDatabase(t, dsn, true).Query(`SELECT status, count(*) FROM mails GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	statuses := map[string]int{}
	for rows.Next() {
		var status string
		var n int
		rows.Scan(&status, &n)
		statuses[status] = n
	}
	if len(statuses) != 1 || statuses["sent"] != 5 {
		t.Fatalf("after shutdown the outbox holds %v, want the 5 mails sent", statuses)
	}
}
