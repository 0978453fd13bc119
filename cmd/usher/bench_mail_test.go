package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/mail/mailtest"
	"github.com/usherid/usher/internal/outbox"
	"github.com/usherid/usher/internal/store"
)

// The mail path's figures. Each benchmark reports its rate with
// b.ReportMetric; the wall-clock figures vary with the machine.
//
//	go test ./cmd/usher -run '^$' -bench 'Tickets|MailDelivery|ChangePassword' -benchtime 5000x
//
// PostgreSQL subbenchmarks run when USHER_TEST_POSTGRES_DSN is set.

// benchClients is how many requests are in flight at once.
const benchClients = 16

// BenchmarkTickets measures POST /api/v2/tickets/password-change from 16
// concurrent clients, each ticket for a distinct user (made before the
// timer starts), reporting tickets/s.
//
//	go test ./cmd/usher -run '^$' -bench Tickets -benchtime 5000x
func BenchmarkTickets(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchTickets(b, sqliteDSN(b)) })
	b.Run("postgres", func(b *testing.B) { benchTickets(b, postgresDSN(b)) })
}

func benchTickets(b *testing.B, dsn string) {
	s := startServer(b, dsn, nil)
	s.HTTP.Transport = &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	tok := s.token(b)
	users := benchUsers(b, s, tok, b.N, "ticket")
	var failures atomic.Int64
	b.ResetTimer()
	elapsed := benchParallel(b.N, func(i int, c *http.Client) {
		status, _ := benchPost(c, s.URL+"/api/v2/tickets/password-change", tok, `{"user_id":"`+users[i]+`","ttl_sec":3600}`)
		if status != http.StatusCreated {
			failures.Add(1)
		}
	}, shared(s.HTTP))
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d tickets failed", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tickets/s")
}

// BenchmarkChangePassword measures POST /dbconnections/change_password from
// 16 concurrent clients, each request for a distinct existing user, with
// the outbox delivering to a local sink at the same time. It reports
// requests/s.
//
// The endpoint is rate limited per client address (5/s, bursts of 50), and
// per address and email (10, then 1 a minute). Every client therefore
// sends from its own loopback address (127.0.0.0/8 is all loopback on
// Linux) and moves to a fresh one every 40 requests, so the figure is the
// server's and not the limiter's.
//
//	go test ./cmd/usher -run '^$' -bench ChangePassword -benchtime 5000x
func BenchmarkChangePassword(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchChangePassword(b, sqliteDSN(b)) })
	b.Run("postgres", func(b *testing.B) { benchChangePassword(b, postgresDSN(b)) })
}

func benchChangePassword(b *testing.B, dsn string) {
	sink := mailtest.Start(b)
	s := startServer(b, dsn, map[string]string{"USHER_SMTP_URL": sink.URL()})
	s.HTTP.Transport = &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	tok := s.token(b)
	probe := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 1, 0, 0)}, Timeout: time.Second}
	if c, err := probe.Dial("tcp", strings.TrimPrefix(s.URL, "http://")); err != nil {
		b.Skipf("sending from 127.1.0.0 failed (%v): this benchmark needs all of 127.0.0.0/8 on loopback, as on Linux", err)
	} else {
		c.Close()
	}
	benchUsers(b, s, tok, b.N, "reset")
	var failures atomic.Int64
	var firstFailure atomic.Value
	const perAddress = 40 // under the per-address burst of 50
	var addresses atomic.Int64
	b.ResetTimer()
	elapsed := benchParallel(b.N, func(i int, c *http.Client) {
		status, body := benchPost(c, s.URL+"/dbconnections/change_password", "",
			`{"client_id":"`+s.ClientID+`","email":"`+benchEmail("reset", i)+`","connection":"`+dbConn+`"}`)
		if status != http.StatusOK {
			failures.Add(1)
			firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %s", status, body))
		}
	}, func(sent int) *http.Client {
		if sent%perAddress != 0 {
			return nil // keep the current client
		}
		n := addresses.Add(1)
		local := &net.TCPAddr{IP: net.IPv4(127, byte(1+n>>16), byte(n>>8), byte(n))}
		dialer := &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 1}}
	})
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d change_password requests failed; first: %v", n, b.N, firstFailure.Load())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "requests/s")
	// How much of the mail the worker delivered while the requests came in:
	// 100 means it kept up.
	var sent struct{ Total int }
	s.call(b, "GET", "/usher/v1/outbox?per_page=1&status=sent", tok, nil, &sent)
	b.ReportMetric(100*float64(sent.Total)/float64(b.N), "%delivered")
}

// BenchmarkMailDelivery measures the outbox worker alone: a store holding
// b.N queued mails (the default reset_email, ~2 KB on the wire, written
// before the timer starts) and a Worker with Usher's defaults delivering
// them to the local sink over reused SMTP connections, until every mail is
// recorded as sent. It reports mails/s.
//
//	go test ./cmd/usher -run '^$' -bench MailDelivery -benchtime 20000x
func BenchmarkMailDelivery(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchMailDelivery(b, sqliteDSN(b)) })
	b.Run("postgres", func(b *testing.B) { benchMailDelivery(b, postgresDSN(b)) })
}

func benchMailDelivery(b *testing.B, dsn string) {
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	queueMails(b, db, b.N)
	sink := mailtest.Start(b)
	smtp, err := mail.ParseSMTPURL(sink.URL())
	if err != nil {
		b.Fatal(err)
	}
	counted := &countingStore{DB: db, want: int64(b.N), done: make(chan struct{})}
	w := mail.NewWorker(counted, func(context.Context) (mail.Transport, error) { return smtp, nil },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	go func() {
		defer close(stopped)
		w.Run(runCtx)
	}()
	select {
	case <-counted.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("after 5 minutes %d of %d mails were sent (%d other outcomes)", counted.sent.Load(), b.N, counted.other.Load())
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	<-stopped
	if n := counted.other.Load(); n > 0 {
		b.Fatalf("%d attempts did not end in sent", n)
	}
	msgs := sink.Messages()
	if got := len(msgs); got != b.N {
		b.Fatalf("the sink has %d mails, want %d", got, b.N)
	}
	for _, m := range msgs {
		if strings.Contains(m.HTML, mail.HiddenTicket) || !strings.Contains(m.HTML, "?ticket=bench") {
			b.Fatalf("a mail went without its link:\n%s", m.HTML)
		}
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "mails/s")
}

// countingStore is the store, counting the worker's recorded outcomes; it
// closes done when want mails were recorded as sent.
type countingStore struct {
	*store.DB
	want        int64
	sent, other atomic.Int64
	done        chan struct{}
}

func (c *countingStore) RecordAttempts(ctx context.Context, attempts []mail.AttemptRecord) error {
	if err := c.DB.RecordAttempts(ctx, attempts); err != nil {
		return err
	}
	for _, a := range attempts {
		if a.Status != outbox.Sent {
			c.other.Add(1)
		} else if c.sent.Add(1) == c.want {
			close(c.done)
		}
	}
	return nil
}

// queueMails writes n mails to the outbox as the service would: the default
// reset_email, rendered, with its own Message-ID, and its own link token
// kept apart from its texts (mail.HideTicket), to be put back when it is sent.
func queueMails(tb testing.TB, db *store.DB, n int) []outbox.Mail {
	tb.Helper()
	ctx := context.Background()
	tpl := mail.DefaultTemplate("reset_email")
	engine := mail.NewEngine()
	vars := mail.SampleVars()
	const marker = "BENCHMARKxTOKENxBENCHMARKxTOKENxBENCHMARKxT" // 43 characters, as a ticket token
	vars["url"] = "https://id.example.com/lo/reset?ticket=" + marker + "#"
	html, err := engine.Render(tpl.Name, tpl.Body, vars)
	if err != nil {
		tb.Fatal(err)
	}
	subject, err := engine.Render(tpl.Name, tpl.Subject, vars)
	if err != nil {
		tb.Fatal(err)
	}
	created := time.Now().Add(-time.Second)
	mails := make([]outbox.Mail, n)
	for i := range mails {
		mails[i] = outbox.Mail{
			ID: fmt.Sprintf("mail_bench%08d", i), MessageID: fmt.Sprintf("bench%08d@usher.test", i), Template: tpl.Name,
			To: fmt.Sprintf("person%d@example.com", i), From: "Usher <no-reply@usher.test>", Subject: strings.TrimSpace(subject),
			HTML: html, Text: mail.TextOf(html), CreatedAt: created,
		}
		token := fmt.Sprintf("bench%08d", i) + strings.Repeat("x", 30)
		for _, s := range []*string{&mails[i].HTML, &mails[i].Text} {
			*s = strings.ReplaceAll(*s, marker, token)
		}
		mails[i] = mail.HideTicket(mails[i], token)
	}
	// Written in transactions of 1,000: the figure is the worker's, not the filling's.
	for lo := 0; lo < n; lo += 1000 {
		err := db.Atomic(ctx, func(st identity.Store) error {
			for _, m := range mails[lo:min(lo+1000, n)] {
				if err := st.EnqueueMail(ctx, m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return mails
}

// benchEmail is the address of the i-th benchmark user of a kind.
func benchEmail(kind string, i int) string { return fmt.Sprintf("%s%d@example.com", kind, i) }

// benchUsers creates n users without a password (and without mail) and
// returns their ids, before the timer starts.
func benchUsers(b *testing.B, s *testServer, tok string, n int, kind string) []string {
	b.Helper()
	ids := make([]string, n)
	var failures atomic.Int64
	benchParallel(n, func(i int, c *http.Client) {
		status, body := benchPost(c, s.URL+"/api/v2/users", tok, `{"connection":"`+dbConn+`","email":"`+benchEmail(kind, i)+
			`","email_verified":false,"verify_email":false,"app_metadata":{"needsInvitation":true}}`)
		if status != http.StatusCreated {
			failures.Add(1)
			return
		}
		_, rest, _ := strings.Cut(body, `"user_id":"`)
		ids[i], _, _ = strings.Cut(rest, `"`)
	}, shared(s.HTTP))
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d users could not be created", n, len(ids))
	}
	return ids
}

// benchParallel runs do(i) for i in [0, n) from benchClients goroutines and
// returns how long that took. client(sent) is asked before each request with
// how many requests that goroutine sent so far; a non-nil answer becomes the
// goroutine's HTTP client from then on.
func benchParallel(n int, do func(i int, c *http.Client), client func(sent int) *http.Client) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range benchClients {
		wg.Go(func() {
			var c *http.Client
			for sent := 0; ; sent++ {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if fresh := client(sent); fresh != nil {
					if c != nil && c != fresh {
						c.CloseIdleConnections()
					}
					c = fresh
				}
				do(int(i), c)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// shared is benchParallel's client function for one client used by all.
func shared(c *http.Client) func(int) *http.Client {
	return func(sent int) *http.Client {
		if sent == 0 {
			return c
		}
		return nil
	}
}

// benchPost sends a JSON body and returns the status and the body read whole
// (so that the connection is reused).
func benchPost(c *http.Client, url, tok, body string) (int, string) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}
