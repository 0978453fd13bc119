package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCreateUser measures POST /api/v2/users without a password from 16
// concurrent clients against a real server, reporting users/s and the p99.
//
//	go test ./cmd/usher -run '^$' -bench CreateUser -benchtime 20000x
func BenchmarkCreateUser(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchCreateUser(b, sqliteDSN(b)) })
	b.Run("postgres", func(b *testing.B) { benchCreateUser(b, postgresDSN(b)) })
}

func benchCreateUser(b *testing.B, dsn string) {
	s := startServer(b, dsn, nil)
	benchPosts(b, s, "/api/v2/users", http.StatusCreated, "users/s", func(i int) string {
		return fmt.Sprintf(`{"connection":"Username-Password-Authentication","email":"bench%d@example.com","email_verified":false,"verify_email":false,"app_metadata":{"needsInvitation":true}}`, i)
	})
}

// BenchmarkCreateInvitation measures POST /usher/v1/invitations (user, link
// and queued mail in one transaction) from 16 concurrent clients, with no
// SMTP server, so the mails wait in the outbox.
//
//	go test ./cmd/usher -run '^$' -bench CreateInvitation -benchtime 20000x
func BenchmarkCreateInvitation(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchCreateInvitation(b, sqliteDSN(b)) })
	b.Run("postgres", func(b *testing.B) { benchCreateInvitation(b, postgresDSN(b)) })
}

func benchCreateInvitation(b *testing.B, dsn string) {
	s := startServer(b, dsn, nil)
	benchPosts(b, s, "/usher/v1/invitations", http.StatusCreated, "invitations/s", func(i int) string {
		return fmt.Sprintf(`{"email":"invitee%d@example.com","inviter":{"name":"Bench"}}`, i)
	})
}

// benchPosts sends b.N POSTs of body(i) to path from 16 concurrent clients
// and reports the rate (as unit) and the p99 latency.
func benchPosts(b *testing.B, s *testServer, path string, want int, unit string, body func(i int) string) {
	s.HTTP.Transport = &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	tok := s.token(b)
	const clients = 16
	var next atomic.Int64
	latencies := make([]time.Duration, b.N)
	var failures atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(body(int(i))))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok)
				t0 := time.Now()
				resp, err := s.HTTP.Do(req)
				latencies[i] = time.Since(t0)
				if err != nil || resp.StatusCode != want {
					failures.Add(1)
				}
				if resp != nil {
					io.Copy(io.Discard, resp.Body) // drained, so the connection is reused
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit)
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkStartup starts the built binary on an empty SQLite file and
// reports the time until /readyz answers 200 and the resident memory once idle.
//
//	go test ./cmd/usher -run '^$' -bench Startup -benchtime 10x
func BenchmarkStartup(b *testing.B) {
	bin := buildUsher(b)
	var total time.Duration
	var rssTotal float64
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		addr := freeAddr(b)
		cmd := exec.Command(bin, "serve", "--addr", addr, "--db", "sqlite:"+filepath.Join(dir, "usher.db"))
		cmd.Dir = dir
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Since(start) > 10*time.Second {
				cmd.Process.Kill()
				b.Fatal("not ready after 10s")
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
		time.Sleep(time.Second) // let start-up garbage be collected before reading the idle size
		rssTotal += rssMB(b, cmd.Process.Pid)
		cmd.Process.Kill()
		cmd.Wait()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-ready")
	b.ReportMetric(rssTotal/float64(b.N), "idle-RSS-MB")
}

func rssMB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Skip("no /proc here: cannot read resident memory")
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkPasswordRealmLogin measures logins with the password-realm grant,
// one at a time, with Auth0's invitation Action bound to post-login. Compare
// its p50 with BenchmarkCheckPassword (internal/identity) for the server's
// time beyond the password hash.
//
//	go test ./cmd/usher -run '^$' -bench PasswordRealmLogin -benchtime 300x
//	go test ./internal/identity -run '^$' -bench CheckPassword
func BenchmarkPasswordRealmLogin(b *testing.B) {
	s := startServer(b, sqliteDSN(b), nil)
	tok := s.token(b)
	var action struct{ ID string }
	s.call(b, "POST", "/api/v2/actions/actions", tok, map[string]any{"name": "clear-invite", "code": clearInvitationAction,
		"supported_triggers": []map[string]string{{"id": "post-login", "version": "v3"}}}, &action)
	s.call(b, "POST", "/api/v2/actions/actions/"+action.ID+"/deploy", tok, nil, nil)
	s.call(b, "PATCH", "/api/v2/actions/triggers/post-login/bindings", tok, map[string]any{"bindings": []map[string]any{
		{"ref": map[string]string{"type": "action_id", "value": action.ID}}}}, nil)
	var c client
	s.call(b, "POST", "/api/v2/clients", tok, map[string]any{"name": "bench", "app_type": "regular_web",
		"grant_types": []string{"http://auth0.com/oauth/grant-type/password-realm"}}, &c)
	s.call(b, "POST", "/api/v2/users", tok, map[string]any{"connection": "Username-Password-Authentication", "email": "bench@example.com",
		"password": "Str0ng-Passw0rd!", "verify_email": false, "app_metadata": map[string]any{"needsInvitation": true}}, nil)
	form := url.Values{"grant_type": {"http://auth0.com/oauth/grant-type/password-realm"}, "client_id": {c.ClientID},
		"client_secret": {c.ClientSecret}, "username": {"bench@example.com"}, "password": {"Str0ng-Passw0rd!"},
		"realm": {"Username-Password-Authentication"}, "scope": {"openid profile email"}}.Encode()
	// /oauth/token is rate limited per address (bursts of 30): each batch of
	// 25 logins comes from its own loopback address.
	from := func(n int) *http.Client {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 2, byte(n>>8), byte(n))}}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
	}
	hc := from(0)
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%25 == 24 {
			hc = from(i/25 + 1)
		}
		t0 := time.Now()
		resp, err := hc.Post(s.URL+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("login %d: %v %v", i, resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		latencies = append(latencies, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}
