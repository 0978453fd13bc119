package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
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
