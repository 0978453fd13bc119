package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/imports"
	"github.com/usherid/usher/internal/mail/mailtest"
)

// uploadTimeouts are the server's bounds scaled down so that a test can
// outlast them: a slow upload takes twice the read timeout.
var uploadTimeouts = timeouts{readHeader: 5 * time.Second, read: time.Second, write: time.Second, idle: 10 * time.Second,
	uploadStall: time.Second}

// startServerTimed is startServer with the server's client bounds tmo
// instead of serveTimeouts.
func startServerTimed(t testing.TB, tmo timeouts, dsn string, env map[string]string, args ...string) *testServer {
	t.Helper()
	clk := mailtest.NewRunningClock()
	return startServing(t, clk, dsn, env, func(ctx context.Context, getenv func(string) string, out, log io.Writer) error {
		return serve(ctx, args, getenv, clk, tmo, out, log)
	})
}

// trickle is a client on a slow link that never stops: it hands its data
// over a piece at a time, pausing before each piece after the first.
type trickle struct {
	data    []byte
	piece   int
	pause   time.Duration
	started bool
}

func (tr *trickle) Read(p []byte) (int, error) {
	if len(tr.data) == 0 {
		return 0, io.EOF
	}
	if tr.started {
		time.Sleep(tr.pause)
	}
	tr.started = true
	n := copy(p[:min(len(p), tr.piece)], tr.data)
	tr.data = tr.data[n:]
	return n, nil
}

// slowPost sends body over about 2.5 read timeouts, in 25 pieces (chunked,
// so each piece leaves at once), and returns the answer without following
// a redirect.
func slowPost(t *testing.T, c *http.Client, target string, header http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	const pieces = 25
	req, err := http.NewRequest("POST", target, &trickle{data: body, piece: len(body)/pieces + 1, pause: uploadTimeouts.read / 10})
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	cc := *c
	cc.Timeout = time.Minute
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := time.Now()
	resp, err := cc.Do(req)
	if err != nil {
		t.Fatalf("slow upload: %v", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if took := time.Since(start); took < 2*uploadTimeouts.read {
		t.Fatalf("the slow upload took %v, not over twice the read timeout", took)
	}
	return resp, answer
}

// stalledPost sends a POST whose body says it is length bytes long but
// stops after sent, then waits for the answer.
func stalledPost(t *testing.T, s *testServer, path string, header http.Header, sent []byte, length int64) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", path, strings.TrimPrefix(s.URL, "http://"), length)
	header.Write(&head)
	head.WriteString("\r\n")
	if _, err := conn.Write(append(head.Bytes(), sent...)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the stalled upload of %s: %v\n%s", path, err, s.Stderr.String())
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp, answer
}

// wantNothingStored checks that no job, finished or not, and no piece of
// an uploaded file is in the database.
func wantNothingStored(t *testing.T, dsn, after string) {
	t.Helper()
	db := openDatabase(t, dsn, true)
	for _, table := range []string{"jobs", "job_chunks"} {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("after %s, %s holds %d rows, want none", after, table, n)
		}
	}
}

// TestImportUploadPace: an import upload may take far longer than the
// server's read timeout, through the Management API and the dashboard,
// as long as it keeps coming; one that stops is answered 408 and leaves
// nothing behind; one past the size bound is answered 413.
func TestImportUploadPace(t *testing.T) {
	t.Parallel()
	engines(t, func(t *testing.T, dsn string) {
		s := startServerTimed(t, uploadTimeouts, dsn, nil)
		tok := s.token(t)
		conn := s.connectionID(t, tok)
		var admin user
		if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "uploader@example.com",
			"password": adminPassword, "verify_email": false}, &admin); st != 201 {
			t.Fatalf("create the administrator: %d", st)
		}
		grant := map[string]any{"permissions": []map[string]string{{"resource_server_identifier": s.URL + "/api/v2/", "permission_name": "usher:admin"}}}
		if st := s.call(t, "POST", "/api/v2/users/"+url.PathEscape(admin.UserID)+"/permissions", tok, grant, nil); st != 201 {
			t.Fatalf("grant usher:admin: %d", st)
		}
		dash := signIn(t, s, "uploader@example.com", adminPassword)
		// The API's form, and the dashboard's (its token first, as the page sends it).
		apiForm := func(file []byte) ([]byte, http.Header) {
			body, ctype := multipartBody(formPart{Name: "users", File: "users.json", Value: string(file)}, formPart{Name: "connection_id", Value: conn})
			return body, http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {ctype}}
		}
		dashForm := func(file []byte) ([]byte, http.Header) {
			body, ctype := multipartBody(formPart{Name: "_csrf", Value: dash.csrf()}, formPart{Name: "connection_id", Value: conn},
				formPart{Name: "users", File: "users.json", Value: string(file)})
			h := http.Header{"Content-Type": {ctype}}
			u, _ := url.Parse(s.URL)
			for _, c := range dash.c.Jar.Cookies(u) {
				h.Add("Cookie", c.String())
			}
			return body, h
		}
		edges := []struct {
			name, path string
			form       func(file []byte) ([]byte, http.Header)
		}{
			{"api", "/api/v2/jobs/users-imports", apiForm},
			{"dashboard", "/dashboard/import", dashForm},
		}

		// A client that stops half way: 408, the part stored is dropped.
		// Three chunks' worth goes out first, so that some of it is stored.
		big := usersFile(40_000, "stalled", nil)
		for _, e := range edges {
			body, header := e.form(big)
			resp, answer := stalledPost(t, s, e.path, header, body[:3<<20], int64(len(body)))
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("%s: a stalled upload answered %d, want 408\n%s\n%s", e.name, resp.StatusCode, answer, s.Stderr.String())
			}
			if e.name == "api" {
				var me mgmtErr
				if err := json.Unmarshal(answer, &me); err != nil || me.StatusCode != 408 || me.Error != "Request Timeout" ||
					me.ErrorCode != "request_timeout" || !strings.Contains(me.Message, "1s") {
					t.Fatalf("api: the 408 is not in Auth0's error shape: %s", answer)
				}
			} else if !strings.Contains(string(answer), "Nothing was imported: the upload stopped") {
				t.Fatalf("dashboard: the 408 page does not say nothing was imported:\n%s", answer)
			}
			wantNothingStored(t, dsn, e.name+"'s stalled upload")
		}

		// A body that says it is past the bound: 413 before any of it is read.
		for _, e := range edges {
			body, header := e.form(usersFile(10, "huge", nil))
			resp, answer := stalledPost(t, s, e.path, header, body[:len(body)/2], imports.MaxFileBytes+1)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("%s: a body past the bound answered %d, want 413\n%s", e.name, resp.StatusCode, answer)
			}
			if want := map[string]string{"api": `"errorCode":"payload_too_large"`, "dashboard": "larger than 1 GB"}[e.name]; !strings.Contains(string(answer), want) {
				t.Fatalf("%s: the 413 does not say %s:\n%s", e.name, want, answer)
			}
			wantNothingStored(t, dsn, e.name+"'s upload past the bound")
		}

		// A slow client that keeps sending: the job is made and runs.
		for _, e := range edges {
			body, header := e.form(usersFile(50, "slow-"+e.name, nil))
			resp, answer := slowPost(t, s.HTTP, s.URL+e.path, header, body)
			id := ""
			switch e.name {
			case "api":
				var job importJob
				json.Unmarshal(answer, &job)
				if resp.StatusCode != http.StatusAccepted || job.ID == "" {
					t.Fatalf("api: the slow upload answered %d, want 202\n%s", resp.StatusCode, answer)
				}
				id = job.ID
			case "dashboard":
				var ok bool
				id, ok = strings.CutPrefix(resp.Header.Get("Location"), s.URL+"/dashboard/import/")
				if resp.StatusCode != http.StatusSeeOther || !ok {
					t.Fatalf("dashboard: the slow upload answered %d (to %q), want 303 to the job\n%s", resp.StatusCode, resp.Header.Get("Location"), answer)
				}
			}
			if job := s.waitJob(t, tok, id); job.Status != "completed" || job.Summary.Inserted != 50 {
				t.Fatalf("%s: the slow upload's job ended %s with %+v, want 50 created", e.name, job.Status, job.Summary)
			}
		}
	})
}
