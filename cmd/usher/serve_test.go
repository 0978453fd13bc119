package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/usherid/usher/internal/api"
	"github.com/usherid/usher/internal/identity"
)

func TestFirstStartCreatesDefaultsAndPrintsCredentialsOnce(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	noBootstrap := map[string]string{"USHER_BOOTSTRAP_CLIENT_ID": "", "USHER_BOOTSTRAP_CLIENT_SECRET": ""}
	s := startServer(t, dsn, noBootstrap)
	out := s.Stdout.String()
	if !strings.Contains(out, "listening on "+s.URL) {
		t.Fatalf("serve did not say where it listens:\n%s", out)
	}
	id, secret := field(out, "client_id:"), field(out, "client_secret:")
	if len(id) != 32 || len(secret) < 32 {
		t.Fatalf("serve did not print generated credentials:\n%s", out)
	}
	tok := s.tokenFor(t, id, secret)
	var conns []map[string]any
	if s.call(t, "GET", "/api/v2/connections?strategy=auth0", tok, nil, &conns) != 200 || len(conns) != 1 || conns[0]["name"] != "Username-Password-Authentication" {
		t.Fatalf("default connection: %v", conns)
	}
	s.stop()

	again := startServer(t, dsn, noBootstrap)
	if strings.Contains(again.Stdout.String(), "client_secret") {
		t.Fatalf("second start printed a secret again:\n%s", again.Stdout.String())
	}
	again.tokenFor(t, id, secret) // the first start's credentials still work
	if again.call(t, "GET", "/api/v2/connections", again.tokenFor(t, id, secret), nil, &conns); len(conns) != 1 {
		t.Fatalf("restart duplicated the default connection: %v", conns)
	}
}

func field(out, label string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), label); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

func TestBootstrapSecretFromEnvironmentIsUpdatedAtStart(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	s := startServer(t, dsn, nil)
	s.token(t)
	s.stop()
	rotated := startServer(t, dsn, map[string]string{"USHER_BOOTSTRAP_CLIENT_SECRET": "a-new-secret-after-rotation"})
	if status, _ := rotated.form(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {rotated.ClientID},
		"client_secret": {"bootstrap-secret-for-tests-only"}, "audience": {rotated.URL + "/api/v2/"}}); status != http.StatusUnauthorized {
		t.Fatalf("old bootstrap secret still accepted: %d", status)
	}
	rotated.tokenFor(t, rotated.ClientID, "a-new-secret-after-rotation")
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	aud := s.URL + "/api/v2/"
	httpsAud := "https://" + strings.TrimPrefix(s.URL, "http://") + "/api/v2/"
	post := func(body url.Values, basic bool) (int, map[string]any) {
		req, _ := http.NewRequest("POST", s.URL+"/oauth/token", strings.NewReader(body.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(s.ClientID, s.ClientSecret)
		}
		resp, err := s.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	cc := func(extra url.Values) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}, "audience": {aud}}
		for k, vals := range extra {
			v[k] = vals
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		body   url.Values
		basic  bool
		status int
		errStr string
	}{
		{"client_secret_post", cc(nil), false, 200, ""},
		{"https spelling of the audience", cc(url.Values{"audience": {httpsAud}}), false, 200, ""},
		{"client_secret_basic", url.Values{"grant_type": {"client_credentials"}, "audience": {aud}}, true, 200, ""},
		{"wrong secret", cc(url.Values{"client_secret": {"nope"}}), false, 401, "access_denied"},
		{"unknown client", cc(url.Values{"client_id": {"nobody"}}), false, 401, "access_denied"},
		{"audience without a grant", cc(url.Values{"audience": {"https://api.example.com/"}}), false, 403, "access_denied"},
		{"no audience", cc(url.Values{"audience": nil}), false, 403, "access_denied"},
		{"no grant type", url.Values{"client_id": {s.ClientID}}, false, 400, "invalid_request"},
		{"unknown grant type", cc(url.Values{"grant_type": {"urn:nope"}}), false, 400, "unsupported_grant_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.body, tc.basic)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if tc.errStr != "" {
				if body["error"] != tc.errStr || body["error_description"] == "" {
					t.Fatalf("error body %v, want error %q", body, tc.errStr)
				}
				return
			}
			if body["token_type"] != "Bearer" || body["expires_in"] != float64(86400) || body["access_token"] == "" {
				t.Fatalf("token response %v", body)
			}
		})
	}

	t.Run("JSON body", func(t *testing.T) {
		var body map[string]any
		status := s.call(t, "POST", "/oauth/token", "", map[string]string{"grant_type": "client_credentials", "client_id": s.ClientID, "client_secret": s.ClientSecret, "audience": aud}, &body)
		if status != 200 || body["access_token"] == nil {
			t.Fatalf("%d %v", status, body)
		}
	})

	t.Run("token verifies against the published JWKS", func(t *testing.T) {
		var disco map[string]any
		s.call(t, "GET", "/.well-known/openid-configuration", "", nil, &disco)
		if disco["issuer"] != s.URL+"/" || disco["jwks_uri"] != s.URL+"/.well-known/jwks.json" || disco["token_endpoint"] != s.URL+"/oauth/token" {
			t.Fatalf("discovery %v", disco)
		}
		var jwks jose.JSONWebKeySet
		s.call(t, "GET", "/.well-known/jwks.json", "", nil, &jwks)
		tok, err := jwt.ParseSigned(s.token(t), []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		keys := jwks.Key(tok.Headers[0].KeyID)
		if len(keys) != 1 {
			t.Fatalf("kid %q not in JWKS", tok.Headers[0].KeyID)
		}
		var claims struct {
			jwt.Claims
			Scope string `json:"scope"`
			GTY   string `json:"gty"`
		}
		if err := tok.Claims(keys[0].Key, &claims); err != nil {
			t.Fatal(err)
		}
		if err := claims.Validate(jwt.Expected{Issuer: s.URL + "/", AnyAudience: jwt.Audience{aud}, Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if claims.Subject != s.ClientID+"@clients" || claims.GTY != "client-credentials" || !strings.Contains(claims.Scope, "create:users") {
			t.Fatalf("claims %+v", claims)
		}
	})
}

func TestManagementTokensAreChecked(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	s.wantErr(t, "GET", "/api/v2/users", "", nil, 401, "")
	s.wantErr(t, "GET", "/api/v2/users", "not-a-jwt", nil, 401, "invalid_token")

	// A token signed by a stranger's key is refused.
	other := startServer(t, sqliteDSN(t), nil)
	s.wantErr(t, "GET", "/api/v2/users", other.token(t), nil, 401, "")
}

func TestEveryManagementRouteChecksItsScope(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	admin := s.token(t)
	// A client holding only read:stats may call none of these routes.
	var c map[string]any
	s.call(t, "POST", "/api/v2/clients", admin, map[string]any{"name": "stats reader", "app_type": "non_interactive"}, &c)
	s.call(t, "POST", "/api/v2/client-grants", admin, map[string]any{"client_id": c["client_id"], "audience": s.URL + "/api/v2/", "scope": []string{"read:stats"}}, nil)
	weak := s.tokenFor(t, c["client_id"].(string), c["client_secret"].(string))
	// Every route of the table the server is built from, with the scopes
	// it declares; the list kept by hand here before had 67 and missed some.
	routes := api.ManagementRoutes()
	if len(routes) < 67 {
		t.Fatalf("only %d Management routes listed", len(routes))
	}
	scopeName := regexp.MustCompile(`^(create|read|update|delete):[a-z_]+$`)
	placeholder := regexp.MustCompile(`\{[^}]*\}`)
	for _, r := range routes {
		t.Run(r.Pattern, func(t *testing.T) {
			method, path, ok := strings.Cut(r.Pattern, " ")
			if !ok || len(r.Scopes) == 0 {
				t.Fatalf("route %q with scopes %v: want a method and at least one scope", r.Pattern, r.Scopes)
			}
			for _, sc := range r.Scopes {
				if !scopeName.MatchString(sc) {
					t.Errorf("scope %q is not ACTION:RESOURCE", sc)
				}
			}
			// The bootstrap client is granted every Management scope Usher
			// knows: it must be able to call every route.
			if !slices.ContainsFunc(r.Scopes, identity.IsManagementScope) {
				t.Errorf("none of %v is a Management scope the bootstrap client holds", r.Scopes)
			}
			path = placeholder.ReplaceAllString(path, "x")
			s.wantErr(t, method, path, "", "{}", 401, "")
			e := s.wantErr(t, method, path, weak, "{}", 403, "insufficient_scope")
			for _, sc := range r.Scopes {
				if !strings.Contains(e.Message, sc) {
					t.Errorf("403 message %q does not name %s", e.Message, sc)
				}
			}
		})
	}
}

func TestOperationsEndpoints(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	if s.call(t, "GET", "/healthz", "", nil, nil) != 200 || s.call(t, "GET", "/readyz", "", nil, nil) != 200 {
		t.Fatal("health endpoints not 200")
	}
	s.call(t, "GET", "/api/v2/users", s.token(t), nil, nil)
	resp, err := s.HTTP.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `usher_http_requests_total{code="200",method="GET",route="GET /api/v2/users"} 1`) {
		t.Fatalf("metrics do not count the users request:\n%s", body)
	}
	s.wantErr(t, "GET", "/api/v2/no-such-thing", s.token(t), nil, 404, "")
}

func TestHTTPSAndPublicURL(t *testing.T) {
	t.Parallel()
	certFile, keyFile := selfSignedCert(t)
	s := startServer(t, sqliteDSN(t), map[string]string{"USHER_TLS_CERT_FILE": certFile, "USHER_TLS_KEY_FILE": keyFile})
	if !strings.HasPrefix(s.URL, "https://") {
		t.Fatal(s.URL)
	}
	var disco map[string]any
	s.call(t, "GET", "/.well-known/openid-configuration", "", nil, &disco)
	if disco["issuer"] != s.URL+"/" {
		t.Fatalf("issuer %v, want %s/", disco["issuer"], s.URL)
	}
	// Both spellings of the Management audience are accepted over HTTPS too.
	for _, aud := range []string{s.URL + "/api/v2/", "http://" + strings.TrimPrefix(s.URL, "https://") + "/api/v2/"} {
		if status, body := s.form(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}, "audience": {aud}}); status != 200 {
			t.Fatalf("audience %s: %d %v", aud, status, body)
		}
	}

	// USHER_PUBLIC_URL sets the issuer, whatever address Usher listens on.
	p := startServer(t, sqliteDSN(t), map[string]string{"USHER_PUBLIC_URL": "https://id.example.com"})
	p.call(t, "GET", "/.well-known/openid-configuration", "", nil, &disco)
	if disco["issuer"] != "https://id.example.com/" {
		t.Fatalf("issuer %v", disco["issuer"])
	}
	if status, _ := p.form(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {p.ClientID}, "client_secret": {p.ClientSecret}, "audience": {"https://id.example.com/api/v2/"}}); status != 200 {
		t.Fatalf("public audience refused: %d", status)
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key.
func selfSignedCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

func certPool(t testing.TB, certFile string) *x509.CertPool {
	pool := x509.NewCertPool()
	data, err := os.ReadFile(certFile)
	if err != nil || !pool.AppendCertsFromPEM(data) {
		t.Fatalf("read %s: %v", certFile, err)
	}
	return pool
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	var out, errOut strings.Builder
	env := func(string) string { return "" }
	dsn := sqliteDSN(t)
	if err := run(context.Background(), []string{"usher", "migrate", "--db", dsn}, env, systemClock{}, nil, &out, &errOut); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !strings.Contains(out.String(), "Migrations applied") {
		t.Fatalf("migrate said %q", out.String())
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"usher"}, 2},
		{[]string{"usher", "frobnicate"}, 2},
		{[]string{"usher", "serve", "--no-such-flag"}, 2},
		{[]string{"usher", "serve", "--help"}, 0},
		{[]string{"usher", "migrate", "--help"}, 0},
		{[]string{"usher", "serve", "--log-format", "xml"}, 2},
		{[]string{"usher", "migrate", "--db", "mysql://nope"}, 1},
	} {
		err := run(context.Background(), tc.args, env, systemClock{}, nil, io.Discard, io.Discard)
		if got := exitCode(err, io.Discard); got != tc.code {
			t.Errorf("%v: exit %d (%v), want %d", tc.args, got, err, tc.code)
		}
	}
}
