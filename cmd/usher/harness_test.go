package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/usherid/usher/internal/mail/mailtest"
)

// testServer is a real `usher serve` started through run() on a free port.
type testServer struct {
	URL          string
	ClientID     string
	ClientSecret string
	Stdout       *syncBuffer
	Stderr       *syncBuffer // the log
	HTTP         *http.Client
	// Clock is the server's time: a test moves it forward (Advance) past an
	// expiry instead of sleeping.
	Clock *mailtest.Clock
	stop  func()
}

// syncBuffer is a bytes.Buffer safe to write from the server goroutine and
// read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// sqliteDSN returns a fresh SQLite database in the test's temporary folder.
func sqliteDSN(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "usher.db")
}

// postgresDSN returns a DSN for a fresh schema on the PostgreSQL named by
// USHER_TEST_POSTGRES_DSN, dropped when the test ends; it skips the test
// when the variable is unset.
func postgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("USHER_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("USHER_TEST_POSTGRES_DSN is not set: skipping the PostgreSQL run (.ci/run sets it)")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("usher_e2e_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// engines runs fn once on SQLite and once on PostgreSQL (when configured).
func engines(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, sqliteDSN(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresDSN(t)) })
}

// testSecretKey is the key that encrypts secrets at rest in the tests' PostgreSQL servers.
const testSecretKey = "dGVzdC1vbmx5LXNlY3JldC1rZXktMzItYnl0ZXMhISE="

// startServer runs `usher serve` on dsn with the given extra environment and
// waits until /readyz answers. The server runs on a clock of its own that
// keeps the real time's pace until the test moves it (s.Clock.Advance).
func startServer(t testing.TB, dsn string, env map[string]string, args ...string) *testServer {
	t.Helper()
	return startServerOn(t, mailtest.NewRunningClock(), dsn, env, args...)
}

// startServerOn is startServer with the server's time on clk.
func startServerOn(t testing.TB, clk *mailtest.Clock, dsn string, env map[string]string, args ...string) *testServer {
	t.Helper()
	return startServing(t, clk, dsn, env, func(ctx context.Context, getenv func(string) string, out, log io.Writer) error {
		return run(ctx, append([]string{"usher", "serve"}, args...), getenv, clk, strings.NewReader(""), out, log)
	})
}

// startServing runs a server with start, which serves until ctx ends, on
// dsn with the given extra environment, and waits until /readyz answers.
func startServing(t testing.TB, clk *mailtest.Clock, dsn string, env map[string]string,
	start func(ctx context.Context, getenv func(string) string, out, log io.Writer) error) *testServer {
	t.Helper()
	addr := freeAddr(t)
	vars := map[string]string{
		"USHER_ADDR":                    addr,
		"USHER_DB":                      dsn,
		"USHER_BOOTSTRAP_CLIENT_ID":     "bootstrapclient0000000000000000",
		"USHER_BOOTSTRAP_CLIENT_SECRET": "bootstrap-secret-for-tests-only",
		"USHER_LOG_FORMAT":              "json",
	}
	if strings.HasPrefix(dsn, "postgres") {
		vars["USHER_SECRET_KEY"] = testSecretKey // required there; SQLite makes its own
	}
	for k, v := range env {
		vars[k] = v
	}
	addr = vars["USHER_ADDR"] // a test may start a server again where it was
	getenv := func(k string) string { return vars[k] }
	ctx, cancel := context.WithCancel(context.Background())
	out, log := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- start(ctx, getenv, out, log)
	}()

	scheme := "http"
	client := &http.Client{Timeout: 10 * time.Second}
	if vars["USHER_TLS_CERT_FILE"] != "" {
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, vars["USHER_TLS_CERT_FILE"])}}
	}
	s := &testServer{URL: scheme + "://" + addr, ClientID: vars["USHER_BOOTSTRAP_CLIENT_ID"], ClientSecret: vars["USHER_BOOTSTRAP_CLIENT_SECRET"], Stdout: out, Stderr: log, HTTP: client, Clock: clk}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			// A connection a client dialled but has not sent a request on
			// yet holds http.Server.Shutdown for up to 5 seconds; the test's
			// clients are done with the server, so close what they keep.
			s.HTTP.CloseIdleConnections()
			http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("usher serve returned %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("usher serve did not stop")
			}
		})
	}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("usher serve exited early: %v\n%s", err, out.String())
		default:
		}
		resp, err := client.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("usher serve not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startBinary runs `bin serve` on dsn in a process of its own and waits for
// /readyz; the returned function kills it with SIGKILL and waits for it to
// exit.
func startBinary(t *testing.T, bin, dsn, smtpURL string) (*testServer, func()) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"USHER_ADDR="+addr, "USHER_DB="+dsn, "USHER_SMTP_URL="+smtpURL, "USHER_LOG_FORMAT=json",
		"USHER_BOOTSTRAP_CLIENT_ID=bootstrapclient0000000000000000", "USHER_BOOTSTRAP_CLIENT_SECRET=bootstrap-secret-for-tests-only")
	if strings.HasPrefix(dsn, "postgres") {
		cmd.Env = append(cmd.Env, "USHER_SECRET_KEY="+testSecretKey)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	var once sync.Once
	kill := func() {
		once.Do(func() {
			cmd.Process.Kill()
			<-exited
		})
	}
	t.Cleanup(kill)
	s := &testServer{URL: "http://" + addr, ClientID: "bootstrapclient0000000000000000",
		ClientSecret: "bootstrap-secret-for-tests-only", Stdout: out, HTTP: &http.Client{Timeout: 10 * time.Second}}
	waitFor(t, 30*time.Second, "usher serve to be ready", func() bool {
		select {
		case <-exited:
			t.Fatalf("usher serve exited:\n%s", out.String())
		default:
		}
		resp, err := s.HTTP.Get(s.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s, kill
}

// token returns a Management API access token for the bootstrap client.
func (s *testServer) token(t testing.TB) string {
	return s.tokenFor(t, s.ClientID, s.ClientSecret)
}

func (s *testServer) tokenFor(t testing.TB, id, secret string) string {
	t.Helper()
	status, body := s.form(t, "/oauth/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "audience": {s.URL + "/api/v2/"},
	})
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	return body["access_token"].(string)
}

func (s *testServer) form(t testing.TB, path string, v url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.HTTP.PostForm(s.URL+path, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// call sends a JSON request (body may be nil, a string of raw JSON, or a value
// to encode) and decodes the JSON answer into out when out is not nil.
func (s *testServer) call(t testing.TB, method, path, token string, body any, out any) int {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d, body is not JSON: %q", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode
}

// mgmtErr is the Management API's error body.
type mgmtErr struct {
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	ErrorCode  string `json:"errorCode"`
}

// wantErr checks an error status and Auth0's error shape.
func (s *testServer) wantErr(t testing.TB, method, path, token string, body any, status int, code string) mgmtErr {
	t.Helper()
	var e mgmtErr
	got := s.call(t, method, path, token, body, &e)
	if got != status || e.StatusCode != status || e.Error != http.StatusText(status) || e.Message == "" || (code != "" && e.ErrorCode != code) {
		t.Fatalf("%s %s: got %d %+v, want %d with errorCode %q", method, path, got, e, status, code)
	}
	return e
}

func decodeBody(t testing.TB, resp *http.Response, out any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("decode: %v", err)
	}
}

// decodeSegment decodes one base64url part of a JWT.
func decodeSegment(seg string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	return string(b), err
}

// usherBinary is the usher binary, built once for every test that runs it
// (linking it costs seconds of CPU each time) and removed by TestMain.
var usherBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

// buildUsher builds the usher binary, once for the whole test run, and
// returns its path. Tests only run it: none may change or move it.
func buildUsher(t testing.TB) string {
	t.Helper()
	b := &usherBinary
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "usher-test-bin-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "usher")
		if out, err := exec.Command("go", "build", "-o", b.path, ".").CombinedOutput(); err != nil {
			b.err = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatalf("build: %v", b.err)
	}
	return b.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if usherBinary.dir != "" {
		os.RemoveAll(usherBinary.dir)
	}
	os.Exit(code)
}

// openDatabase opens the database behind dsn directly, as someone holding
// a copy of it would; it is closed when the test ends.
func openDatabase(t testing.TB, dsn string, readOnly bool) *sql.DB {
	t.Helper()
	driver, source := "pgx", dsn
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		driver, source = "sqlite", "file:"+path
		if readOnly {
			source += "?mode=ro"
		}
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dumpDatabase reads every column of every row of every table of the
// database behind dsn, as text: what a copy of the database gives away.
func dumpDatabase(t testing.TB, dsn string) string {
	t.Helper()
	tables := `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	if strings.HasPrefix(dsn, "sqlite:") {
		tables = `SELECT name FROM sqlite_master WHERE type = 'table'`
	}
	db := openDatabase(t, dsn, true)
	var names []string
	rows, err := db.Query(tables)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	var dump strings.Builder
	for _, name := range names {
		rows, err := db.Query(`SELECT * FROM "` + name + `"`)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("read %s: %v", name, err)
			}
			fmt.Fprintf(&dump, "%s:", name)
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprintf(&dump, " %s=%v", cols[i], v)
			}
			dump.WriteByte('\n')
		}
		rows.Close()
	}
	return dump.String()
}
