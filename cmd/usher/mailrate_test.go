package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/mail/mailtest"
)

// These tests run servers with a delivery cap (USHER_MAIL_RATE) and hand
// each worker a clock that stands still until the test moves it: a window
// ends when the test says so, and a worker that waits for the next window
// is known to send nothing meanwhile. The clock starts an hour ahead of the
// real one so that every mail the test queues is due on it.

// metric reads one unlabelled figure from the server's /metrics.
func (s *testServer) metric(t testing.TB, name string) float64 {
	t.Helper()
	resp, err := s.HTTP.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", name, sc.Text())
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// waitForHeld waits until every server's worker waits for the next window
// with held mails held back: from then on none of them sends anything until
// the clock moves.
func waitForHeld(t *testing.T, held int, servers ...*testServer) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("every worker waiting for the next window, %d mails held back", held), func() bool {
		for _, s := range servers {
			if s.metric(t, "usher_mail_rate_held") != float64(held) {
				return false
			}
		}
		return true
	})
}

// wantOutbox checks how many mails of the outbox are in each status; the
// statuses not named must have none.
func (s *testServer) wantOutbox(t *testing.T, tok string, want map[string]int) {
	t.Helper()
	for _, status := range []string{"queued", "sending", "sent", "failed", "dead"} {
		if got := s.outboxTotal(t, tok, status); got != want[status] {
			t.Errorf("%d mails %s; want %d (all wanted: %v)", got, status, want[status], want)
		}
	}
}

// TestMailRateCapHoldsMailForTheNextWindow queues 12 invitations under a cap
// of 5 a minute: 5 go in the first window and the rest wait, queued and
// untried; each window that passes lets 5 more go, and each mail arrives once.
func TestMailRateCapHoldsMailForTheNextWindow(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		const limit, n = 5, 12
		clock := mailtest.NewClock(time.Now().Add(time.Hour))
		sink := mailtest.Start(t)
		s := startServerOn(t, clock, dsn,
			map[string]string{"USHER_SMTP_URL": sink.URL(), "USHER_MAIL_RATE": strconv.Itoa(limit)})
		tok := s.token(t)
		for _, e := range createUsers(t, s, tok, "capped", n, false) {
			s.changePassword(t, e)
		}

		// The first window: exactly the cap went out; the rest is queued,
		// never tried, and counted as held back.
		waitForHeld(t, n-limit, s)
		if got := len(sink.Messages()); got != limit {
			t.Fatalf("%d mails arrived in the first window; want %d", got, limit)
		}
		s.wantOutbox(t, tok, map[string]int{"sent": limit, "queued": n - limit})
		for _, m := range s.outbox(t, tok, "queued") {
			if m.Attempts != 0 || m.LastReply != "" {
				t.Errorf("held mail %s: %d attempts, reply %q; want untried", m.ID, m.Attempts, m.LastReply)
			}
			var one struct {
				History []any `json:"history"`
			}
			s.call(t, "GET", "/usher/v1/outbox/"+m.ID, tok, nil, &one)
			if len(one.History) != 0 {
				t.Errorf("held mail %s has a delivery history: %v", m.ID, one.History)
			}
		}
		for name, want := range map[string]float64{"usher_mail_rate_limit": limit, "usher_mail_rate_window_claimed": limit, "usher_mail_rate_waits_total": 1} {
			if got := s.metric(t, name); got != want {
				t.Errorf("%s = %v; want %v", name, got, want)
			}
		}

		// The second window: 5 more.
		clock.Advance(time.Minute)
		waitForHeld(t, n-2*limit, s)
		if got := len(sink.Messages()); got != 2*limit {
			t.Fatalf("%d mails arrived by the end of the second window; want %d", got, 2*limit)
		}
		s.wantOutbox(t, tok, map[string]int{"sent": 2 * limit, "queued": n - 2*limit})

		// The third: the last 2, and the cap holds nothing back any more.
		clock.Advance(time.Minute)
		waitFor(t, 30*time.Second, "every mail recorded as sent", func() bool { return s.outboxTotal(t, tok, "sent") == n })
		s.wantOutbox(t, tok, map[string]int{"sent": n})
		outbox := s.outbox(t, tok, "")
		wantEachOnce(t, outbox, sink.Messages())
		for _, m := range outbox {
			if m.Attempts != 1 {
				t.Errorf("%s: %d attempts; want 1: waiting for a window is not an attempt", m.ID, m.Attempts)
			}
		}
		if got := s.metric(t, "usher_mail_rate_held"); got != 0 {
			t.Errorf("usher_mail_rate_held = %v once everything went; want 0", got)
		}
	})
}

// TestMailRateCapIsSharedByInstances runs two servers on one PostgreSQL
// schema, each with a cap of 5 a minute and mail queued through both: in
// every window the two together deliver 5, and each mail arrives once.
func TestMailRateCapIsSharedByInstances(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t) // skips without USHER_TEST_POSTGRES_DSN
	const limit, n = 5, 20
	clock := mailtest.NewClock(time.Now().Add(time.Hour))
	sink := mailtest.Start(t)
	env := map[string]string{"USHER_SMTP_URL": sink.URL(), "USHER_MAIL_RATE": strconv.Itoa(limit)}
	a := startServerOn(t, clock, dsn, env)
	b := startServerOn(t, clock, dsn, env)
	tok := a.token(t)
	for i, e := range createUsers(t, a, tok, "shared", n, false) {
		[]*testServer{a, b}[i%2].changePassword(t, e)
	}

	for window := 1; window*limit < n; window++ {
		waitForHeld(t, n-window*limit, a, b)
		if got := len(sink.Messages()); got != window*limit {
			t.Fatalf("%d mails arrived by the end of window %d; want %d (%d a window)", got, window, window*limit, limit)
		}
		a.wantOutbox(t, tok, map[string]int{"sent": window * limit, "queued": n - window*limit})
		clock.Advance(time.Minute)
	}
	waitFor(t, 30*time.Second, "every mail recorded as sent", func() bool { return a.outboxTotal(t, tok, "sent") == n })
	outbox := a.outbox(t, tok, "")
	wantEachOnce(t, outbox, sink.Messages())
	for _, m := range outbox {
		if m.Attempts != 1 {
			t.Errorf("%s: %d attempts; want 1", m.ID, m.Attempts)
		}
	}
	// Both did their share of the waiting: neither ignored the cap.
	for name, s := range map[string]*testServer{"a": a, "b": b} {
		if got := s.metric(t, "usher_mail_rate_waits_total"); got < float64(n/limit-1) {
			t.Errorf("server %s waited for %v windows; want %d", name, got, n/limit-1)
		}
	}
}

// TestMailRateConfiguration checks --mail-rate and USHER_MAIL_RATE: a value
// that is not a whole number of mails per minute is a usage error.
func TestMailRateConfiguration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  string
		args []string
	}{
		{"", []string{"--mail-rate", "-1"}},
		{"", []string{"--mail-rate", "5/s"}},
		{"lots", nil},
		{"2.5", nil},
		{"lots", []string{"--mail-rate", "x"}},
	} {
		getenv := func(k string) string {
			if k == "USHER_MAIL_RATE" {
				return tc.env
			}
			return ""
		}
		err := run(context.Background(), append([]string{"usher", "serve", "--db", sqliteDSN(t)}, tc.args...), getenv, systemClock{}, nil, io.Discard, io.Discard)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--mail-rate") {
			t.Errorf("USHER_MAIL_RATE=%q %v: %v; want a usage error naming --mail-rate", tc.env, tc.args, err)
		}
	}
	// The flag wins over the environment.
	s := startServer(t, sqliteDSN(t), map[string]string{"USHER_MAIL_RATE": "lots"}, "--mail-rate", "7")
	if got := s.metric(t, "usher_mail_rate_limit"); got != 7 {
		t.Errorf("usher_mail_rate_limit = %v; want 7, from the flag", got)
	}
	if st := s.call(t, "GET", "/healthz", "", nil, nil); st != http.StatusOK {
		t.Errorf("healthz: %d", st)
	}
}
