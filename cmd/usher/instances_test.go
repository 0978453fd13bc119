package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestTwoInstancesKeepEveryChange runs two servers on one PostgreSQL schema
// and changes one user through both at once: 200 app_metadata changes, each
// adding its own key, and 60 logins. Every change answered 200 is kept, and
// logins_count counts every login that succeeded.
func TestTwoInstancesKeepEveryChange(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t) // skips without USHER_TEST_POSTGRES_DSN
	a := startServer(t, dsn, nil)
	b := startServer(t, dsn, nil)
	tokA, tokB := a.token(t), b.token(t)
	app := a.app(t, tokA, nil)
	var u user
	if st := a.call(t, "POST", "/api/v2/users", tokA, map[string]any{"connection": dbConn, "email": "shared@example.com",
		"password": "Str0ng-Passw0rd!", "verify_email": false}, &u); st != http.StatusCreated {
		t.Fatalf("create user: %d", st)
	}

	const changes = 200
	var kept atomic.Int64
	var wg sync.WaitGroup
	for i := range changes {
		s, tok := a, tokA
		if i%2 == 1 {
			s, tok = b, tokB
		}
		wg.Go(func() {
			body, _ := json.Marshal(map[string]any{"app_metadata": map[string]any{fmt.Sprintf("k%03d", i): i}})
			req, _ := http.NewRequest("PATCH", s.URL+"/api/v2/users/"+url.PathEscape(u.UserID), bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := s.HTTP.Do(req)
			if err != nil {
				t.Errorf("change %d: %v", i, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("change %d: %d", i, resp.StatusCode)
				return
			}
			kept.Add(1)
		})
	}
	wg.Wait()
	var after user
	a.call(t, "GET", "/api/v2/users/"+url.PathEscape(u.UserID), tokA, nil, &after)
	if len(after.AppMetadata) != int(kept.Load()) || kept.Load() != changes {
		t.Errorf("app_metadata holds %d keys after %d changes answered 200 (of %d)", len(after.AppMetadata), kept.Load(), changes)
	}

	// Four logins at a time on each instance: as many as their password
	// hashing takes at once without turning some away (429).
	const logins = 60
	var succeeded atomic.Int64
	slots := map[*testServer]chan struct{}{a: make(chan struct{}, 4), b: make(chan struct{}, 4)}
	for i := range logins {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			slots[s] <- struct{}{}
			defer func() { <-slots[s] }()
			resp, err := s.HTTP.PostForm(s.URL+"/oauth/token", realmForm(app, "shared@example.com", "Str0ng-Passw0rd!"))
			if err != nil {
				t.Errorf("login %d: %v", i, err)
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				succeeded.Add(1)
			case http.StatusTooManyRequests: // the address's rate or the hash queue: not a login
			default:
				t.Errorf("login %d: %d", i, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	a.call(t, "GET", "/api/v2/users/"+url.PathEscape(u.UserID), tokA, nil, &after)
	if succeeded.Load() == 0 || after.LoginsCount != int(succeeded.Load()) {
		t.Errorf("logins_count is %d after %d successful logins (of %d)", after.LoginsCount, succeeded.Load(), logins)
	}
	t.Logf("%d of %d logins succeeded", succeeded.Load(), logins)
}

// TestPasswordChangeBudgetIsShared: one email may ask for a password change
// ten times at once, then once a minute, whichever instances are asked and
// whether or not it has an account: two instances on one PostgreSQL do not
// double the budget, which would let anyone flood a person's mailbox.
func TestPasswordChangeBudgetIsShared(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t) // skips without USHER_TEST_POSTGRES_DSN
	a := startServer(t, dsn, nil)
	b := startServer(t, dsn, nil)
	tok := a.token(t)
	if st := a.call(t, "POST", "/api/v2/users", tok, map[string]any{"connection": dbConn, "email": "flood@example.com",
		"password": "Str0ng-Passw0rd!", "verify_email": false}, nil); st != http.StatusCreated {
		t.Fatalf("create user: %d", st)
	}
	for _, email := range []string{"flood@example.com", "nobody@example.com"} {
		var answers []int
		for i := range 14 {
			s := []*testServer{a, b}[i%2]
			resp, err := s.HTTP.Post(s.URL+"/dbconnections/change_password", "application/json",
				strings.NewReader(`{"email":"`+email+`","connection":"`+dbConn+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			answers = append(answers, resp.StatusCode)
			if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "60" {
				t.Errorf("Retry-After %q; want 60", resp.Header.Get("Retry-After"))
			}
		}
		ok := 0
		for _, st := range answers {
			if st == http.StatusOK {
				ok++
			}
		}
		if ok != 10 || answers[10] != http.StatusTooManyRequests {
			t.Errorf("%s: answers %v; want ten 200s across both instances, then 429", email, answers)
		}
	}
}

// TestTwoInstancesKeepConcurrentPatches runs two servers on one PostgreSQL
// schema and patches one email template, one action and the email provider
// through both at once: in each round every property gets its own PATCH,
// all sent together, and after the round each property holds the value its
// PATCH gave it (40 PATCHes for each resource). Concurrent PATCHes of a
// trigger's bindings each leave the list one of them sent, never a mix.
func TestTwoInstancesKeepConcurrentPatches(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t) // skips without USHER_TEST_POSTGRES_DSN
	a := startServer(t, dsn, nil)
	b := startServer(t, dsn, nil)
	servers := []*testServer{a, b}
	toks := []string{a.token(t), b.token(t)}
	tok := toks[0]
	// patchAll sends the bodies to path at once, alternating the instances.
	patchAll := func(what, path string, bodies []map[string]any) {
		t.Helper()
		var wg sync.WaitGroup
		for i, body := range bodies {
			wg.Go(func() {
				s := servers[i%2]
				if st := s.call(t, "PATCH", path, toks[i%2], body, nil); st != http.StatusOK {
					t.Errorf("%s: PATCH %v: %d", what, body, st)
				}
			})
		}
		wg.Wait()
	}

	t.Run("email template", func(t *testing.T) {
		const rounds = 6 // 7 properties each: 42 PATCHes
		for n := range rounds {
			bodies := []map[string]any{
				{"body": fmt.Sprintf("<p>{{ url }} round %d</p>", n)}, {"from": fmt.Sprintf("round%d@example.com", n)},
				{"subject": fmt.Sprintf("Round %d", n)}, {"resultUrl": fmt.Sprintf("https://app.example.com/round%d", n)},
				{"urlLifetimeInSeconds": 1000 + n}, {"includeEmailInRedirect": n%2 == 1}, {"enabled": n%2 == 1},
			}
			patchAll("email template", "/api/v2/email-templates/reset_email", bodies)
			var got map[string]any
			a.call(t, "GET", "/api/v2/email-templates/reset_email", tok, nil, &got)
			for _, want := range bodies {
				for k, v := range want {
					if fmt.Sprint(got[k]) != fmt.Sprint(v) {
						t.Errorf("round %d: %s is %v, want %v", n, k, got[k], v)
					}
				}
			}
		}
	})

	t.Run("action", func(t *testing.T) {
		var act struct{ ID string }
		if st := a.call(t, "POST", "/api/v2/actions/actions", tok, map[string]any{"name": "patched", "code": "exports.onExecutePostLogin = async () => {};",
			"supported_triggers": []map[string]string{{"id": "post-login", "version": "v3"}}}, &act); st != http.StatusCreated {
			t.Fatalf("create action: %d", st)
		}
		const rounds = 10 // 4 properties each: 40 PATCHes
		for n := range rounds {
			bodies := []map[string]any{
				{"name": fmt.Sprintf("patched %d", n)}, {"code": fmt.Sprintf("exports.onExecutePostLogin = async () => {}; // round %d", n)},
				{"runtime": []string{"node18", "node20"}[n%2]}, {"secrets": []map[string]string{{"name": fmt.Sprintf("ROUND_%d", n), "value": "x"}}},
			}
			patchAll("action", "/api/v2/actions/actions/"+act.ID, bodies)
			var got struct {
				Name, Code, Runtime string
				Secrets             []struct{ Name string }
			}
			a.call(t, "GET", "/api/v2/actions/actions/"+act.ID, tok, nil, &got)
			if got.Name != bodies[0]["name"] || got.Code != bodies[1]["code"] || got.Runtime != bodies[2]["runtime"] ||
				len(got.Secrets) != 1 || got.Secrets[0].Name != fmt.Sprintf("ROUND_%d", n) {
				t.Errorf("round %d: the action holds %+v", n, got)
			}
		}
	})

	t.Run("email provider", func(t *testing.T) {
		if st := a.call(t, "POST", "/api/v2/emails/provider", tok, map[string]any{"name": "smtp", "enabled": false,
			"credentials": map[string]any{"smtp_host": "127.0.0.1", "smtp_port": 1}}, nil); st != http.StatusCreated {
			t.Fatalf("create provider: %d", st)
		}
		const rounds = 10 // 4 properties each: 40 PATCHes
		for n := range rounds {
			host := fmt.Sprintf("smtp%d.invalid", n)
			bodies := []map[string]any{
				{"enabled": false}, {"default_from_address": fmt.Sprintf("round%d@example.com", n)},
				{"credentials": map[string]any{"smtp_host": host, "smtp_port": 2000 + n}}, {"settings": map[string]any{"round": n}},
			}
			patchAll("email provider", "/api/v2/emails/provider", bodies)
			var got struct {
				DefaultFromAddress string `json:"default_from_address"`
				Credentials        struct {
					Host string `json:"smtp_host"`
					Port int    `json:"smtp_port"`
				}
				Settings map[string]any
			}
			a.call(t, "GET", "/api/v2/emails/provider?fields=default_from_address,credentials,settings", tok, nil, &got)
			if got.DefaultFromAddress != bodies[1]["default_from_address"] || got.Credentials.Host != host || got.Credentials.Port != 2000+n ||
				fmt.Sprint(got.Settings["round"]) != fmt.Sprint(n) {
				t.Errorf("round %d: the provider holds %+v", n, got)
			}
		}
	})

	t.Run("bindings", func(t *testing.T) {
		const writers = 20
		ids := make([]string, writers)
		for i := range ids {
			var act struct{ ID string }
			if st := a.call(t, "POST", "/api/v2/actions/actions", tok, map[string]any{"name": fmt.Sprintf("bound %d", i), "deploy": true,
				"code": "exports.onExecutePostLogin = async () => {};", "supported_triggers": []map[string]string{{"id": "post-login"}}}, &act); st != http.StatusCreated {
				t.Fatalf("create action: %d", st)
			}
			ids[i] = act.ID
		}
		for round := range 2 {
			bodies := make([]map[string]any, writers)
			for i := range bodies {
				// Each sends a list of its own: its action, then the next one.
				bodies[i] = map[string]any{"bindings": []map[string]any{
					{"ref": map[string]string{"type": "action_id", "value": ids[i]}},
					{"ref": map[string]string{"type": "action_id", "value": ids[(i+1)%writers]}},
				}}
			}
			patchAll("bindings", "/api/v2/actions/triggers/post-login/bindings", bodies)
			var got struct {
				Bindings []struct{ Action struct{ ID string } }
			}
			a.call(t, "GET", "/api/v2/actions/triggers/post-login/bindings", tok, nil, &got)
			if len(got.Bindings) != 2 || slices.Index(ids, got.Bindings[0].Action.ID) < 0 ||
				got.Bindings[1].Action.ID != ids[(slices.Index(ids, got.Bindings[0].Action.ID)+1)%writers] {
				t.Errorf("round %d: the trigger's bindings are %+v, not one list that was sent", round, got.Bindings)
			}
		}
	})
}

// TestTwoInstancesKeepConcurrentDashboardEdits: an administrator's clicks
// in the dashboard, sent at once to two instances on one PostgreSQL, each
// change the flow or the connection as it is when saved: every action
// added to the flow stays bound, and an option set through the API while
// the connection's form is saved again and again is kept.
func TestTwoInstancesKeepConcurrentDashboardEdits(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t) // skips without USHER_TEST_POSTGRES_DSN
	a := startServer(t, dsn, nil)
	b := startServer(t, dsn, nil)
	tok, tokB := a.token(t), b.token(t)
	root := newAdmin(t, a, dsn, "root@example.com")
	csrf := root.csrf()
	// The session is the database's: the same browser is signed in on b.
	browsers := []*dashUser{root, {t: t, s: b, c: root.c}}
	postAll := func(what string, path func(i int) string, form func(i int) url.Values, n int) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				f := form(i)
				f.Set("_csrf", csrf)
				if st, page := browsers[i%2].post(path(i), f); st != http.StatusSeeOther {
					t.Errorf("%s %d: %d\n%.300s", what, i, st, page)
				}
			})
		}
		wg.Wait()
	}

	const clicks = 12
	ids := make([]string, clicks)
	for i := range ids {
		var act struct{ ID string }
		if st := a.call(t, "POST", "/api/v2/actions/actions", tok, map[string]any{"name": fmt.Sprintf("flow %d", i), "deploy": true,
			"code": "exports.onExecutePostLogin = async () => {};", "supported_triggers": []map[string]string{{"id": "post-login"}}}, &act); st != http.StatusCreated {
			t.Fatalf("create action: %d", st)
		}
		ids[i] = act.ID
	}
	postAll("add to the flow", func(int) string { return "/dashboard/flows/post-login" },
		func(i int) url.Values { return url.Values{"op": {"add"}, "action": {ids[i]}} }, clicks)
	var flow struct {
		Bindings []struct{ Action struct{ ID string } }
	}
	a.call(t, "GET", "/api/v2/actions/triggers/post-login/bindings", tok, nil, &flow)
	if len(flow.Bindings) != clicks {
		t.Errorf("%d of %d actions added at once are bound", len(flow.Bindings), clicks)
	}

	conn := a.connectionID(t, tok)
	for round := range 3 {
		key := fmt.Sprintf("custom_%d", round)
		var wg sync.WaitGroup
		wg.Go(func() {
			var c struct{ Options map[string]any }
			a.call(t, "GET", "/api/v2/connections/"+conn, tok, nil, &c)
			c.Options[key] = true
			if st := b.call(t, "PATCH", "/api/v2/connections/"+conn, tokB, map[string]any{"options": c.Options}, nil); st != http.StatusOK {
				t.Errorf("PATCH options: %d", st)
			}
		})
		postAll("save the connection", func(int) string { return "/dashboard/connection/" + conn },
			func(i int) url.Values { return url.Values{"policy": {"good"}, "min_length": {strconv.Itoa(8 + i)}} }, clicks)
		wg.Wait()
		var c struct{ Options map[string]any }
		a.call(t, "GET", "/api/v2/connections/"+conn, tok, nil, &c)
		if c.Options[key] != true {
			t.Errorf("round %d: the option set through the API while the form was saved is gone: %v", round, c.Options)
		}
	}
}
