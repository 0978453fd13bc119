package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherid/usher/internal/mail/mailtest"
)

// dbProxy carries TCP connections between Usher and PostgreSQL, and can be
// cut: while down it closes every connection it carries and each new one
// at once, as a database that restarts does, without touching the database
// other tests share.
type dbProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

// startDBProxy proxies target until the test ends.
func startDBProxy(t *testing.T, target string) *dbProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

func (p *dbProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.carry(c)
	}
}

// carry joins c to a new connection to the target, unless the proxy is down.
func (p *dbProxy) carry(c net.Conn) {
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		c.Close()
		return
	}
	d, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down { // cut while dialling
		p.mu.Unlock()
		c.Close()
		d.Close()
		return
	}
	p.conns[c], p.conns[d] = true, true
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	go pipe(d, c)
	go pipe(c, d)
}

// cut closes every connection and refuses new ones until restore.
func (p *dbProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// restore lets connections through again.
func (p *dbProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// through is dsn with its host replaced by the proxy's address.
func (p *dbProxy) through(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

// TestDatabaseOutage cuts PostgreSQL away from a running server and brings
// it back: meanwhile /readyz says 503, the APIs answer 503 in Auth0's
// shapes with nothing half-written, and the process lives on; afterwards
// /readyz says 200 and writes succeed again.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	u, _ := url.Parse(dsn)
	proxy := startDBProxy(t, u.Host)
	sink := mailtest.Start(t)
	s := startServer(t, proxy.through(t, dsn), map[string]string{"USHER_SMTP_URL": sink.URL()})
	tok := s.token(t)
	newUser := func(email string) map[string]any {
		return map[string]any{"connection": dbConn, "email": email, "password": "Str0ng-Passw0rd!", "verify_email": false}
	}
	if st := s.call(t, "POST", "/api/v2/users", tok, newUser("before@example.com"), nil); st != 201 {
		t.Fatalf("create a user before the outage: %d", st)
	}

	proxy.cut()
	waitFor(t, 10*time.Second, "/readyz to say 503", func() bool { return s.call(t, "GET", "/readyz", "", nil, nil) == 503 })
	if st := s.call(t, "GET", "/healthz", "", nil, nil); st != 200 {
		t.Fatalf("/healthz during the outage: %d, want 200: the process is alive", st)
	}
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v2/users", newUser("during@example.com")},
		{"GET", "/api/v2/users", nil},
		{"POST", "/usher/v1/invitations", map[string]any{"email": "invited@example.com"}},
	} {
		var e mgmtErr
		st := s.call(t, req.method, req.path, tok, req.body, &e)
		if st != 503 || e.StatusCode != st || e.Error != http.StatusText(st) || e.Message == "" ||
			strings.Contains(e.Message, "dial") || strings.Contains(e.Message, "127.0.0.1") {
			t.Fatalf("%s %s during the outage: %d %+v, want a 503 in Auth0's shape that tells nothing inside", req.method, req.path, st, e)
		}
	}
	status, body := s.form(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID},
		"client_secret": {s.ClientSecret}, "audience": {s.URL + "/api/v2/"}})
	if status != 503 || body["error"] != "temporarily_unavailable" || body["error_description"] == nil {
		t.Fatalf("a token during the outage: %d %v, want OAuth's error shape", status, body)
	}

	proxy.restore()
	waitFor(t, 10*time.Second, "/readyz to say 200", func() bool { return s.call(t, "GET", "/readyz", "", nil, nil) == 200 })
	// The create that failed left nothing: the same user is made now.
	var made user
	if st := s.call(t, "POST", "/api/v2/users", tok, newUser("during@example.com"), &made); st != 201 {
		t.Fatalf("create the user again after the outage: %d", st)
	}
	var found []user
	if st := s.call(t, "GET", "/api/v2/users-by-email?email=during@example.com", tok, nil, &found); st != 200 || len(found) != 1 || found[0].UserID != made.UserID {
		t.Fatalf("after the outage: %d %+v", st, found)
	}
	s.token(t) // and tokens are issued again
	// The outbox worker outlived the outage: an invitation goes out.
	if st := s.call(t, "POST", "/usher/v1/invitations", tok, map[string]any{"email": "invited@example.com"}, nil); st != 201 {
		t.Fatalf("invite after the outage: %d", st)
	}
	if got := sink.Wait(t, 1, 30*time.Second); len(got) != 1 || got[0].To[0] != "invited@example.com" {
		t.Fatalf("after the outage the sink got %+v", got)
	}
	for _, e := range s.logEntries(t) {
		if e["msg"] == "panic serving request" {
			t.Fatalf("a request panicked during the outage: %v", e)
		}
	}
	if out, _ := json.Marshal(s.logEntries(t)); strings.Contains(string(out), "secret-for-tests") {
		t.Fatal("the log shows the client secret")
	}
}
