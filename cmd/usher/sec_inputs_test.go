package main

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/store"
)

// nestedJSON is {"a":{"a":...1...}} with depth objects.
func nestedJSON(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

// nestedMap is nestedJSON as Go values.
func nestedMap(depth int) map[string]any {
	var v any = 1.0
	for i := 0; i < depth; i++ {
		v = map[string]any{"a": v}
	}
	return v.(map[string]any)
}

// searchGold answers the users whose app_metadata.plan is "gold".
func searchGold(t *testing.T, s *testServer, tok string) []string {
	t.Helper()
	var users []struct{ Email string }
	if st := s.call(t, "GET", "/api/v2/users?q="+url.QueryEscape(`app_metadata.plan:"gold"`), tok, nil, &users); st != 200 {
		t.Fatalf("metadata search: %d", st)
	}
	var emails []string
	for _, u := range users {
		emails = append(emails, u.Email)
	}
	sort.Strings(emails)
	return emails
}

// TestMetadataIsBoundedAndSearchSurvivesOldData: metadata nested deeper than
// the bound, larger than the bound, or holding NUL is refused with Auth0's
// 400 wherever it is written; and rows written before the bound (put in the
// database directly here) no longer make the tenant's metadata search fail.
func TestMetadataIsBoundedAndSearchSurvivesOldData(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		create := func(email, meta string) int {
			return s.call(t, "POST", "/api/v2/users", tok, `{"connection":"`+dbConn+`","email":"`+email+`","app_metadata":`+meta+`}`, nil)
		}
		if st := create("gold@example.com", `{"plan":"gold","tree":`+nestedJSON(identity.MaxMetadataDepth-1)+`}`); st != 201 {
			t.Fatalf("metadata at the depth bound: %d", st)
		}

		// Refused on create, each with Auth0's error shape.
		big := `{"plan":"gold","notes":"` + strings.Repeat("x", identity.MaxMetadataBytes) + `"}`
		for name, meta := range map[string]string{
			"1,200 deep":      `{"plan":"gold","tree":` + nestedJSON(1200) + `}`,
			"one too deep":    `{"plan":"gold","tree":` + nestedJSON(identity.MaxMetadataDepth) + `}`,
			"deep in arrays":  `{"plan":"gold","tree":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
			"too large":       big,
			"NUL in a value":  `{"plan":"gold","x":"a\u0000b"}`,
			"NUL in a key":    `{"plan":"gold","a\u0000b":1}`,
			"NUL in a nested": `{"plan":"gold","x":[{"y":"\u0000"}]}`,
		} {
			e := s.wantErr(t, "POST", "/api/v2/users", tok, `{"connection":"`+dbConn+`","email":"refused@example.com","app_metadata":`+meta+`}`, 400, "invalid_body")
			if !strings.HasPrefix(e.Message, "Payload validation error") {
				t.Errorf("%s: message %q", name, e.Message)
			}
		}
		s.wantErr(t, "POST", "/api/v2/users", tok, `{"connection":"`+dbConn+`","email":"refused@example.com","name":"a\u0000b"}`, 400, "invalid_body")

		// A PATCH whose merge grows the whole past the bound is refused too.
		var u struct {
			UserID string `json:"user_id"`
		}
		half := strings.Repeat("y", identity.MaxMetadataBytes/2+10)
		if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "half@example.com", "user_metadata": map[string]any{"a": half}}, &u); st != 201 {
			t.Fatalf("half-size metadata: %d", st)
		}
		s.wantErr(t, "PATCH", "/api/v2/users/"+url.PathEscape(u.UserID), tok, map[string]any{"app_metadata": map[string]any{"b": half}}, 400, "invalid_body")
		s.wantErr(t, "PATCH", "/api/v2/users/"+url.PathEscape(u.UserID), tok, `{"user_metadata":{"tree":`+nestedJSON(100)+`}}`, 400, "invalid_body")
		if st := s.call(t, "PATCH", "/api/v2/users/"+url.PathEscape(u.UserID), tok, map[string]any{"app_metadata": map[string]any{"b": "small"}}, nil); st != 200 {
			t.Fatalf("a small PATCH: %d", st)
		}
		// Invitations write metadata as well.
		s.wantErr(t, "POST", "/usher/v1/invitations", tok, `{"email":"invitee@example.com","app_metadata":{"tree":`+nestedJSON(1200)+`}}`, 400, "invalid_body")
		s.wantErr(t, "POST", "/usher/v1/invitations", tok, map[string]any{"email": "half@example.com", "reinvite": true, "app_metadata": map[string]any{"c": half}}, 400, "invalid_body")

		if got := searchGold(t, s, tok); len(got) != 1 || got[0] != "gold@example.com" {
			t.Fatalf("search found %v", got)
		}

		// Rows from before the bound: 1,200 levels deep (past SQLite's JSON
		// depth) and a NUL (which PostgreSQL's jsonb cannot hold).
		db, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for i, meta := range []map[string]any{
			{"plan": "gold", "tree": nestedMap(1200)},
			{"plan": "gold", "x": "a\x00b"},
		} {
			var old struct {
				UserID string `json:"user_id"`
			}
			if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": fmt.Sprintf("old%d@example.com", i)}, &old); st != 201 {
				t.Fatalf("create old user: %d", st)
			}
			ou, err := db.User(context.Background(), old.UserID)
			if err != nil {
				t.Fatal(err)
			}
			ou.AppMetadata = meta
			if err := db.UpdateUser(context.Background(), ou); err != nil {
				t.Fatal(err)
			}
		}
		// The tenant's search still answers. Each engine reads one of the
		// two old rows (SQLite the NUL, PostgreSQL the deep one), which
		// matches; the row it cannot read matches no metadata term.
		if got := searchGold(t, s, tok); len(got) != 2 || got[0] != "gold@example.com" || !strings.HasPrefix(got[1], "old") {
			t.Fatalf("search with old rows found %v", got)
		}
		var all []any
		if st := s.call(t, "GET", "/api/v2/users?per_page=100", tok, nil, &all); st != 200 || len(all) != 4 {
			t.Fatalf("list: %d, %d users", st, len(all))
		}
	})
}

// TestUserSearchRefusesWhatTheDatabaseCannotTake: queries that used to turn
// into database errors (too many terms for SQLite's argument limit, NUL for
// PostgreSQL, a number JSON has no word for, a page past 64-bit offsets) are
// a 400 or an ordinary answer.
func TestUserSearchRefusesWhatTheDatabaseCannotTake(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		for _, q := range []string{
			strings.Repeat("email:a@b.co ", 40000),
			strings.Repeat("app_metadata.x:1 ", identity.MaxSearchTerms+1),
			"email:a\x00b",
			`user_metadata.x:"a\x00b"`,
			`name:"\xff"`,
			"name:\xff",
		} {
			var e mgmtErr
			if st := s.call(t, "GET", "/api/v2/users?q="+url.QueryEscape(q), tok, nil, &e); st != 400 || e.ErrorCode != "invalid_query_string" {
				t.Errorf("q=%.40q (%d bytes): %d %+v, want 400 invalid_query_string", q, len(q), st, e)
			}
		}
		for _, q := range []string{"app_metadata.x:NaN", "app_metadata.x:Inf", "app_metadata.x:1e999", "app_metadata.x:0x1p-2"} {
			if st := s.call(t, "GET", "/api/v2/users?q="+url.QueryEscape(q), tok, nil, nil); st != 200 {
				t.Errorf("%s: %d", q, st)
			}
		}
		s.wantErr(t, "GET", "/api/v2/users?page=9223372036854775807&per_page=100", tok, nil, 400, "invalid_query_string")
	})
}

// TestImportRefusesCostlyHashesAndBigMetadata: a bcrypt hash above cost 14
// (each step doubles every login check; 31 takes days) and metadata past
// the bounds are row errors, in JSON and in CSV files, and the other rows
// land.
func TestImportRefusesCostlyHashesAndBigMetadata(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		conn := s.connectionID(t, tok)
		ok, _ := bcrypt.GenerateFromPassword([]byte("Imported-Secret-1"), bcrypt.MinCost)
		// A cost-31 hash: its salt and digest need not be real, as bcrypt
		// would need days to make one.
		costly := "$2b$31$" + string(ok[7:])
		deep := nestedJSON(1200)

		jsonFile := fmt.Sprintf(`[
{"email":"fine@example.com","password_hash":%q},
{"email":"costly@example.com","password_hash":%q},
{"email":"costly2@example.com","custom_password_hash":{"algorithm":"bcrypt","hash":{"value":%q}}},
{"email":"deep@example.com","app_metadata":{"t":%s}},
{"email":"nul@example.com","name":"a\u0000b"}
]`, ok, costly, costly, deep)
		csvFile := "email,password_hash,user_metadata\n" +
			"fine-csv@example.com," + string(ok) + ",\n" +
			"costly-csv@example.com," + costly + ",\n" +
			"deep-csv@example.com,,\"" + strings.ReplaceAll(deep, `"`, `""`) + "\"\n"
		for _, f := range []struct {
			name, body string
			want       map[int]string // row: error code
		}{
			{"users.json", jsonFile, map[int]string{2: "PATTERN", 3: "PATTERN", 4: "MAX_DEPTH", 5: "PATTERN"}},
			{"users.csv", csvFile, map[int]string{2: "PATTERN", 3: "MAX_DEPTH"}},
		} {
			st, job, e := s.postImport(t, tok, []byte(f.body), f.name, map[string]string{"connection_id": conn})
			if st != 202 {
				t.Fatalf("%s: %d %+v", f.name, st, e)
			}
			job = s.waitJob(t, tok, job.ID)
			if job.Status != "completed" || job.Summary.Inserted != 1 || job.Summary.Failed != len(f.want) {
				t.Fatalf("%s: %+v", f.name, job)
			}
			var errs []jobRowError
			s.call(t, "GET", "/api/v2/jobs/"+job.ID+"/errors", tok, nil, &errs)
			for _, re := range errs {
				if len(re.Errors) == 0 || re.Errors[0].Code != f.want[re.Row] {
					t.Errorf("%s row %d: %+v, want %s", f.name, re.Row, re.Errors, f.want[re.Row])
				}
				if f.want[re.Row] == "PATTERN" && strings.Contains(string(re.User), "costly") && !strings.Contains(re.Errors[0].Message, "cost 31") {
					t.Errorf("%s row %d: %q does not name the cost", f.name, re.Row, re.Errors[0].Message)
				}
			}
		}
		var users struct{ Total int }
		s.call(t, "GET", "/api/v2/users?per_page=1&include_totals=true", tok, nil, &users)
		if users.Total != 2 {
			t.Fatalf("users: %d, want 2", users.Total)
		}
	})
}

// TestBrokenCSVFailsTheJobNotTheServer: a CSV row that breaks before its
// first field ends (found by FuzzRowReaderCSV) used to panic in the job
// runner, outside any handler's recovery: the whole server went down.
func TestBrokenCSVFailsTheJobNotTheServer(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	tok := s.token(t)
	st, job, e := s.postImport(t, tok, []byte("email\n\"0"), "users.csv", map[string]string{"connection_id": s.connectionID(t, tok)})
	if st != 202 {
		t.Fatalf("import: %d %+v", st, e)
	}
	job = s.waitJob(t, tok, job.ID)
	if job.Status != "failed" || !strings.Contains(job.StatusDetails, "not valid CSV at line 2") {
		t.Fatalf("job: %+v", job)
	}
}

// TestActionMetadataIsBounded: a post-login Action's setAppMetadata goes
// through the same gate: a value too deep, one that contains itself and one
// too large fail the login, nothing of them is stored, and the tenant's
// metadata search keeps answering. (The Actions runtime itself refuses the
// cyclic and the large value with a 403; the deep one is refused by the
// gate when the login is recorded, which the token endpoint answers with
// its generic 500.)
func TestActionMetadataIsBounded(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		app := s.app(t, tok, nil)
		var a struct{ ID string }
		code := `exports.onExecutePostLogin = async (event, api) => {
			const kind = event.user.user_metadata.kind;
			let v = 1;
			if (kind === "deep") { for (let i = 0; i < 1200; i++) v = {a: v}; }
			if (kind === "cyclic") { v = {}; v.self = v; }
			if (kind === "large") { v = "x".repeat(200000); }
			api.user.setAppMetadata("plan", "gold");
			api.user.setAppMetadata("v", v);
		};`
		if st := s.call(t, "POST", "/api/v2/actions/actions", tok, map[string]any{"name": "writer", "supported_triggers": []map[string]string{{"id": "post-login", "version": "v3"}}, "code": code}, &a); st != 201 {
			t.Fatalf("create action: %d", st)
		}
		if st := s.call(t, "POST", "/api/v2/actions/actions/"+a.ID+"/deploy", tok, nil, nil); st != 202 {
			t.Fatalf("deploy: %d", st)
		}
		bind := map[string]any{"bindings": []map[string]any{{"ref": map[string]string{"type": "action_id", "value": a.ID}, "display_name": "writer"}}}
		if st := s.call(t, "PATCH", "/api/v2/actions/triggers/post-login/bindings", tok, bind, nil); st != 200 {
			t.Fatalf("bind: %d", st)
		}
		for _, kind := range []string{"fine", "deep", "cyclic", "large"} {
			email := kind + "@example.com"
			if st := s.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": email, "password": "Str0ng-Passw0rd!", "verify_email": false, "user_metadata": map[string]any{"kind": kind}}, nil); st != 201 {
				t.Fatalf("create %s: %d", kind, st)
			}
			st, body := s.passwordRealm(t, app, email, "Str0ng-Passw0rd!", "openid")
			if kind == "fine" && st != 200 {
				t.Errorf("%s login: %d %v", kind, st, body)
			}
			if kind != "fine" && (st != 403 || body["error"] != "access_denied") {
				t.Errorf("%s login: want 403 access_denied, got %d %v", kind, st, body)
			}
			var users []struct {
				AppMetadata map[string]any `json:"app_metadata"`
			}
			s.call(t, "GET", "/api/v2/users-by-email?email="+url.QueryEscape(email), tok, nil, &users)
			if _, stored := users[0].AppMetadata["v"]; stored != (kind == "fine") {
				t.Errorf("%s: app_metadata %.100v", kind, users[0].AppMetadata)
			}
		}
		if got := searchGold(t, s, tok); len(got) != 1 || got[0] != "fine@example.com" {
			t.Fatalf("search found %v", got)
		}
	})
}

// BenchmarkMetadataSearch measures a metadata search of the Management API
// over 100,000 users (each with a small app_metadata), the query that reads
// every row's metadata as JSON.
//
//	go test ./cmd/usher -run '^$' -bench MetadataSearch -benchtime 20x
func BenchmarkMetadataSearch(b *testing.B) {
	for _, engine := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", sqliteDSN}, {"postgres", postgresDSN}} {
		b.Run(engine.name, func(b *testing.B) {
			dsn := engine.dsn(b)
			s := startServer(b, dsn, nil)
			fillUsers(b, dsn, 100_000)
			tok := s.token(b)
			path := "/api/v2/users?q=" + url.QueryEscape(`app_metadata.plan:"gold"`)
			start := time.Now()
			for b.Loop() {
				if st := s.call(b, "GET", path, tok, nil, nil); st != 200 {
					b.Fatalf("search: %d", st)
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/search")
		})
	}
}
