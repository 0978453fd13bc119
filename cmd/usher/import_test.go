package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// importJob is a job as GET /api/v2/jobs/{id} shows it.
type importJob struct {
	ID             string `json:"id"`
	Type           string `json:"type"`
	Status         string `json:"status"`
	ConnectionID   string `json:"connection_id"`
	PercentageDone int    `json:"percentage_done"`
	StatusDetails  string `json:"status_details"`
	Summary        struct {
		Total, Inserted, Updated, Failed, Skipped, Invited int
	} `json:"summary"`
}

type jobRowError struct {
	Line   int             `json:"line"`
	Row    int             `json:"row"`
	User   json.RawMessage `json:"user"`
	Errors []struct{ Code, Message, Path string }
}

// usersFile builds Auth0's bulk-import JSON with one record per line; bad
// maps a 1-based row number to the record that replaces the good one.
func usersFile(n int, prefix string, bad map[int]string) []byte {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i := 1; i <= n; i++ {
		rec := fmt.Sprintf(`{"email":"%s%05d@example.com","given_name":"Person %d","user_metadata":{"row":%d}}`, prefix, i, i, i)
		if r, ok := bad[i]; ok {
			rec = r
		}
		b.WriteString(rec)
		if i < n {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// postImport sends a users file the way Auth0's SDK does and returns the
// status and the job (or the error body).
func (s *testServer) postImport(t testing.TB, tok string, file []byte, filename string, fields map[string]string) (int, importJob, mgmtErr) {
	t.Helper()
	return s.postImportKeyed(t, tok, "", file, filename, fields)
}

// postImportKeyed is postImport with an Idempotency-Key ("" for none).
func (s *testServer) postImportKeyed(t testing.TB, tok, key string, file []byte, filename string, fields map[string]string) (int, importJob, mgmtErr) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if file != nil {
		fw, _ := mw.CreateFormFile("users", filename)
		fw.Write(file)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", s.URL+"/api/v2/jobs/users-imports", &body)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var job importJob
	var e mgmtErr
	json.Unmarshal(data, &job)
	json.Unmarshal(data, &e)
	return resp.StatusCode, job, e
}

// waitJob polls a job until it ends.
func (s *testServer) waitJob(t testing.TB, tok, id string) importJob {
	t.Helper()
	var job importJob
	waitFor(t, 60*time.Second, "job "+id+" to end", func() bool {
		if st := s.call(t, "GET", "/api/v2/jobs/"+id, tok, nil, &job); st != 200 {
			t.Fatalf("GET job: %d", st)
		}
		return job.Status == "completed" || job.Status == "failed"
	})
	return job
}

func (s *testServer) connectionID(t testing.TB, tok string) string {
	var conns []struct{ ID, Name string }
	s.call(t, "GET", "/api/v2/connections", tok, nil, &conns)
	for _, c := range conns {
		if c.Name == dbConn {
			return c.ID
		}
	}
	t.Fatal("no database connection")
	return ""
}

// TestImportJobReportsBadRowsByLine imports 10,000 rows, 1% of them bad in
// the ways files go bad, and checks that the good ones land and each bad
// one is reported with its line and Auth0's error code.
func TestImportJobReportsBadRowsByLine(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		conn := s.connectionID(t, tok)
		hash, _ := bcrypt.GenerateFromPassword([]byte("Imported-Secret-1"), bcrypt.MinCost)
		bad := map[int]string{}
		wantCode := map[int]string{}
		kinds := []struct{ rec, code string }{
			{`{"email":"not-an-email"}`, "FORMAT"},
			{`{"given_name":"No Email"}`, "OBJECT_REQUIRED"},
			{`{"email":"dup%05d@example.com","password_hash":"plaintext"}`, "PATTERN"},
			{`{"email":"type%05d@example.com","email_verified":"yes"}`, "INVALID_TYPE"},
			{`{"email":"extra%05d@example.com","favourite_colour":"blue"}`, "OBJECT_ADDITIONAL_PROPERTIES"},
			{`{"email":"row00001@example.com"}`, "DUPLICATED_USER"},
		}
		for i := 0; i < 100; i++ {
			row := 50 + i*99
			k := kinds[i%len(kinds)]
			rec := k.rec
			if strings.Contains(rec, "%05d") {
				rec = fmt.Sprintf(rec, row)
			}
			bad[row], wantCode[row] = rec, k.code
		}
		bad[1] = fmt.Sprintf(`{"email":"row00001@example.com","password_hash":%q}`, hash)
		file := usersFile(10000, "row", bad)

		st, job, e := s.postImport(t, tok, file, "users.json", map[string]string{"connection_id": conn, "upsert": "false", "send_completion_email": "false", "external_id": "crm-7"})
		if st != 202 || job.Status != "pending" || job.Type != "users_import" || !strings.HasPrefix(job.ID, "job_") {
			t.Fatalf("import: %d %+v %+v", st, job, e)
		}
		job = s.waitJob(t, tok, job.ID)
		if job.Status != "completed" || job.Summary.Total != 10000 || job.Summary.Inserted != 9900 || job.Summary.Failed != 100 || job.PercentageDone != 100 {
			t.Fatalf("job: %+v", job)
		}
		var errs []jobRowError
		if st := s.call(t, "GET", "/api/v2/jobs/"+job.ID+"/errors", tok, nil, &errs); st != 200 || len(errs) != 100 {
			t.Fatalf("errors: %d, %d rows", st, len(errs))
		}
		for _, e := range errs {
			// Row n sits on line n+1: the array's "[" has the first line.
			if e.Line != e.Row+1 || wantCode[e.Row] == "" || e.Errors[0].Code != wantCode[e.Row] || string(e.User) != bad[e.Row] {
				t.Fatalf("error row %d line %d: %+v, want code %s for %s", e.Row, e.Line, e, wantCode[e.Row], bad[e.Row])
			}
		}
		var users struct{ Total int }
		s.call(t, "GET", "/api/v2/users?per_page=1&include_totals=true", tok, nil, &users)
		if users.Total != 9900 {
			t.Fatalf("users: %d, want 9900", users.Total)
		}
		// The imported bcrypt hash keeps working at login.
		app := s.app(t, tok, nil)
		if st, body := s.passwordRealm(t, app, "row00001@example.com", "Imported-Secret-1", "openid"); st != 200 {
			t.Fatalf("login with the imported hash: %d %v", st, body)
		}
		// Running the same file again finds every good row taken.
		st, again, _ := s.postImport(t, tok, file, "users.json", map[string]string{"connection_id": conn})
		if st != 202 {
			t.Fatalf("second import: %d", st)
		}
		again = s.waitJob(t, tok, again.ID)
		if again.Summary.Inserted != 0 || again.Summary.Failed != 10000 {
			t.Fatalf("second import: %+v", again.Summary)
		}
	})
}

// TestImportJobOptions covers upsert, invitations, dry runs, CSV, the
// verification-email job and the request errors.
func TestImportJobOptions(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		m := mgmtAPI{t, s, tok}
		conn := s.connectionID(t, tok)

		// A dry run reports and writes nothing.
		file := usersFile(30, "inv", map[int]string{7: `{"email":"bad"}`})
		st, job, _ := s.postImport(t, tok, file, "users.json", map[string]string{"connection_id": conn, "dry_run": "true", "invite": "true"})
		if st != 202 {
			t.Fatalf("dry run: %d", st)
		}
		job = s.waitJob(t, tok, job.ID)
		var users struct{ Total int }
		m.must("GET", "/api/v2/users?per_page=1&include_totals=true", nil, 200, &users)
		if job.Summary.Inserted != 29 || job.Summary.Failed != 1 || users.Total != 0 || s.outboxTotal(t, tok, "") != 0 {
			t.Fatalf("dry run: %+v, %d users, %d mails", job.Summary, users.Total, s.outboxTotal(t, tok, ""))
		}

		// invite: every user without a password gets an invitation and one mail.
		file = usersFile(30, "inv", map[int]string{3: `{"email":"inv00003@example.com","password_hash":"$2a$04$abcdefghijklmnopqrstuuQ2ylNPrgoxcjmIHQBLGnMXqVKe4fS5S"}`})
		st, job, _ = s.postImport(t, tok, file, "users.json", map[string]string{"connection_id": conn, "invite": "true"})
		job = s.waitJob(t, tok, job.ID)
		if st != 202 || job.Summary.Inserted != 30 || job.Summary.Invited != 29 {
			t.Fatalf("invite import: %d %+v", st, job)
		}
		var invs struct{ Total int }
		m.must("GET", "/usher/v1/invitations?status=pending&per_page=1", nil, 200, &invs)
		if invs.Total != 29 || s.outboxTotal(t, tok, "") != 29 {
			t.Fatalf("%d invitations and %d mails, want 29 each", invs.Total, s.outboxTotal(t, tok, ""))
		}
		// No errors: 204.
		resp := s.raw(t, "GET", "/api/v2/jobs/"+job.ID+"/errors", tok)
		if resp.StatusCode != 204 {
			t.Fatalf("errors of a clean job: %d", resp.StatusCode)
		}

		// upsert replaces what the row sets; an invited user is not invited twice.
		csv := "email,given_name,app_metadata.plan,user_metadata\ninv00001@example.com,Renamed,gold,\"{\"\"x\"\":1}\"\ninv00031@example.com,New,silver,\n"
		st, job, _ = s.postImport(t, tok, []byte(csv), "people.csv", map[string]string{"connection_id": conn, "upsert": "true", "invite": "true"})
		job = s.waitJob(t, tok, job.ID)
		if st != 202 || job.Summary.Updated != 1 || job.Summary.Inserted != 1 || job.Summary.Invited != 1 {
			t.Fatalf("upsert: %d %+v", st, job)
		}
		var found []struct {
			GivenName    string         `json:"given_name"`
			AppMetadata  map[string]any `json:"app_metadata"`
			UserMetadata map[string]any `json:"user_metadata"`
		}
		m.must("GET", "/api/v2/users-by-email?email=inv00001@example.com", nil, 200, &found)
		if len(found) != 1 || found[0].GivenName != "Renamed" || found[0].AppMetadata["plan"] != "gold" || found[0].AppMetadata["needsInvitation"] != true || found[0].UserMetadata["x"] != float64(1) {
			t.Fatalf("upserted user: %+v", found)
		}

		// Request errors, in Auth0's words.
		for _, c := range []struct {
			file   []byte
			fields map[string]string
			msg    string
		}{
			{nil, map[string]string{"connection_id": conn}, "Must provide 'users' file as multipart part."},
			{[]byte{}, map[string]string{"connection_id": conn}, "Users file must not be empty."},
			{file, nil, "Must provide 'connection_id' as multipart part."},
			{file, map[string]string{"connection_id": "con_doesnotexist00"}, "The connection does not exist."},
			{file, map[string]string{"connection_id": conn, "upsert": "maybe"}, "upsert must be true or false."},
			{file, map[string]string{"connection_id": conn, "colour": "blue"}, `Unknown multipart part "colour".`},
			{[]byte(`{"email":"a@example.com"}`), map[string]string{"connection_id": conn}, "The users file must be a JSON array of user objects."},
		} {
			st, _, e := s.postImport(t, tok, c.file, "users.json", c.fields)
			if st != 400 || e.Message != c.msg {
				t.Fatalf("%v: %d %q, want 400 %q", c.fields, st, e.Message, c.msg)
			}
		}
		// A file broken half way: the rows before it land, the job says where.
		st, job, _ = s.postImport(t, tok, []byte("[\n{\"email\":\"half1@example.com\"},\n{\"email\":\"half2@example.com\"\n"), "users.json", map[string]string{"connection_id": conn})
		job = s.waitJob(t, tok, job.ID)
		if job.Status != "failed" || !strings.Contains(job.StatusDetails, "line 3") {
			t.Fatalf("broken file: %+v", job)
		}
		s.wantErr(t, "GET", "/api/v2/jobs/job_nonexistent", tok, nil, 404, "inexistent_job")

		// The verification-email job queues the mail at once.
		var u struct {
			UserID string `json:"user_id"`
		}
		m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "verify-me@example.com", "verify_email": false}, 201, &u)
		before := s.outboxTotal(t, tok, "")
		var vj importJob
		m.must("POST", "/api/v2/jobs/verification-email", map[string]any{"user_id": u.UserID}, 201, &vj)
		if vj.Type != "verification_email" || s.outboxTotal(t, tok, "") != before+1 {
			t.Fatalf("verification job: %+v", vj)
		}
		m.must("GET", "/api/v2/jobs/"+vj.ID, nil, 200, &vj)
		s.wantErr(t, "POST", "/api/v2/jobs/verification-email", tok, map[string]any{"user_id": "auth0|nobody"}, 404, "inexistent_user")
	})
}

// raw sends a bodiless request and returns the response, body closed.
func (s *testServer) raw(t testing.TB, method, path, tok string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
