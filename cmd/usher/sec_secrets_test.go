package main

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	_ "modernc.org/sqlite" // the "sqlite" driver, for reading the database behind Usher's back

	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/secretbox"
)

// secretsRandom is a value no test text holds by chance.
func secretsRandom(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// reverse is s backwards: what the test Action writes into app_metadata, so
// that the user's row never holds the secret itself.
func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// secretsFixture is a tenant holding one of each secret Usher keeps.
type secretsFixture struct {
	smtpPass, actionSecret, bindingSecret string
	app                                   client
}

const secretsAction = `exports.onExecutePostLogin = async (event, api) => {
  const rev = (s) => String(s).split("").reverse().join("");
  api.user.setAppMetadata("seen", rev(event.secrets.API_KEY) + "|" + rev(event.secrets.BOUND));
};`

func newSecretsFixture(t *testing.T, s *testServer) secretsFixture {
	t.Helper()
	m := mgmtAPI{t, s, s.token(t)}
	f := secretsFixture{smtpPass: secretsRandom("smtp-pass"), actionSecret: secretsRandom("action-secret"), bindingSecret: secretsRandom("binding-secret")}
	m.must("POST", "/api/v2/emails/provider", map[string]any{"name": "smtp", "enabled": false, "default_from_address": "Acme <hello@acme.example>",
		"credentials": map[string]any{"smtp_host": "127.0.0.1", "smtp_port": 2525, "smtp_user": "acme", "smtp_pass": f.smtpPass}}, 201, nil)
	var a actionBody
	m.must("POST", "/api/v2/actions/actions", map[string]any{"name": "Reads its secrets", "supported_triggers": []map[string]string{{"id": "post-login", "version": "v3"}},
		"code": secretsAction, "secrets": []map[string]string{{"name": "API_KEY", "value": f.actionSecret}}}, 201, &a)
	m.must("POST", "/api/v2/actions/actions/"+a.ID+"/deploy", nil, 202, nil)
	m.must("PATCH", "/api/v2/actions/triggers/post-login/bindings", map[string]any{"bindings": []map[string]any{{
		"ref": map[string]string{"type": "action_id", "value": a.ID}, "display_name": "Secrets",
		"secrets": []map[string]string{{"name": "BOUND", "value": f.bindingSecret}}}}}, 200, nil)
	f.app = s.app(t, m.tok, nil)
	m.must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "sec@example.com", "password": "Str0ng-Passw0rd!", "verify_email": false}, 201, nil)
	return f
}

// wantClean fails when the database at dsn holds any of the fixture's
// secrets or a private key in clear.
func (f secretsFixture) wantClean(t *testing.T, dsn string) {
	t.Helper()
	dump := dumpDatabase(t, dsn)
	for what, needle := range map[string]string{"a PEM private key": "PRIVATE KEY", "the SMTP password": f.smtpPass,
		"the Action secret": f.actionSecret, "the binding secret": f.bindingSecret} {
		if strings.Contains(dump, needle) {
			t.Errorf("a raw read of the database finds %s in clear", what)
		}
	}
}

// wantActionSees logs the user in and checks that the post-login Action got
// both secrets, opened.
func (f secretsFixture) wantActionSees(t *testing.T, s *testServer) {
	t.Helper()
	st, body := s.passwordRealm(t, f.app, "sec@example.com", "Str0ng-Passw0rd!", "openid")
	if st != 200 {
		t.Fatalf("login: %d %v", st, body)
	}
	var users []map[string]any
	s.call(t, "GET", "/api/v2/users-by-email?email=sec@example.com", s.token(t), nil, &users)
	if len(users) != 1 {
		t.Fatalf("users %v", users)
	}
	seen, _ := users[0]["app_metadata"].(map[string]any)["seen"].(string)
	if want := reverse(f.actionSecret) + "|" + reverse(f.bindingSecret); seen != want {
		t.Fatalf("the Action saw %q, want %q", seen, want)
	}
}

// secretsServe runs `usher serve` on dsn with env (nothing added) and returns
// its error; it must fail at start, so a server that starts is cut short.
func secretsServe(t *testing.T, dsn string, env map[string]string, args ...string) (error, string) {
	t.Helper()
	vars := map[string]string{"USHER_ADDR": freeAddr(t), "USHER_DB": dsn}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	err := run(ctx, append([]string{"usher", "serve"}, args...), func(k string) string { return vars[k] }, systemClock{}, strings.NewReader(""), &out, &errOut)
	if ctx.Err() != nil {
		t.Fatalf("usher serve started; want it to refuse\n%s", errOut.String())
	}
	return err, out.String() + errOut.String()
}

func TestSecretsAreEncryptedAtRest(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, nil)
		f := newSecretsFixture(t, s)
		f.wantClean(t, dsn)
		f.wantActionSees(t, s)
		var p struct{ Credentials map[string]any }
		if s.call(t, "GET", "/api/v2/emails/provider?fields=credentials", s.token(t), nil, &p); p.Credentials["smtp_user"] != "acme" || p.Credentials["smtp_pass"] != nil {
			t.Fatalf("the provider's credentials: %v", p)
		}
	})
}

func TestSecretKeyRestart(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, nil)
		f := newSecretsFixture(t, s)
		old := s.token(t)
		keyFile := ""
		if strings.HasPrefix(dsn, "sqlite:") {
			// SQLite with no key given: one is made beside the database,
			// readable by its owner alone, and the log says where.
			keyFile = strings.TrimPrefix(dsn, "sqlite:") + ".key"
			fi, err := os.Stat(keyFile)
			if err != nil {
				t.Fatalf("no key file beside the database: %v", err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
			}
			if !strings.Contains(s.Stderr.String(), keyFile) {
				t.Errorf("the log does not say where the key was written:\n%s", s.Stderr.String())
			}
			key, _ := os.ReadFile(keyFile)
			if k := strings.TrimSpace(string(key)); k == "" || strings.Contains(s.Stderr.String()+s.Stdout.String(), k) {
				t.Errorf("the key is empty or shown in the output")
			}
		}
		s.stop()

		// The same key (and address, which is the issuer): tokens signed
		// before still verify, secrets still open.
		s = startServer(t, dsn, map[string]string{"USHER_ADDR": strings.TrimPrefix(s.URL, "http://")})
		if st := s.call(t, "GET", "/api/v2/users", old, nil, nil); st != 200 {
			t.Fatalf("a token from before the restart: %d", st)
		}
		f.wantActionSees(t, s)
		s.stop()

		// Another key: a clear refusal, not garbage.
		other := make([]byte, 32)
		rand.Read(other)
		otherKey := base64.StdEncoding.EncodeToString(other)
		err, out := secretsServe(t, dsn, map[string]string{"USHER_SECRET_KEY": otherKey})
		if err == nil || !strings.Contains(err.Error(), "secret key") || strings.Contains(err.Error()+out, otherKey) {
			t.Fatalf("serve with another key: %v", err)
		}
		// A key file that is not a key at all.
		bad := t.TempDir() + "/bad.key"
		os.WriteFile(bad, []byte("not a key\n"), 0o600)
		if err, _ := secretsServe(t, dsn, nil, "--secret-key-file", bad); err == nil || !strings.Contains(err.Error(), "32 bytes") {
			t.Fatalf("serve with a malformed key file: %v", err)
		}
		if keyFile != "" {
			// The key file lost: Usher does not make a new one over sealed secrets.
			os.Remove(keyFile)
			if err, _ := secretsServe(t, dsn, nil); err == nil || !strings.Contains(err.Error(), keyFile) {
				t.Fatalf("serve without its key file: %v", err)
			}
			if _, err := os.Stat(keyFile); err == nil {
				t.Fatal("a new key file was made for a database sealed with another key")
			}
		}
	})
}

func TestSecretKeyRequiredOnPostgres(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	err, _ := secretsServe(t, dsn, nil)
	if err == nil || !strings.Contains(err.Error(), "USHER_SECRET_KEY") || !strings.Contains(err.Error(), "--secret-key-file") {
		t.Fatalf("serve on PostgreSQL without a key: %v", err)
	}
}

// TestLegacyPlaintextIsSealedAtStart: a database written before secrets were
// encrypted (plain PEM, plain passwords) keeps working and is sealed at start.
func TestLegacyPlaintextIsSealedAtStart(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, nil)
		f := newSecretsFixture(t, s)
		old := s.token(t)
		s.stop()

		// Put every secret back in clear, as the database of an older Usher has it.
		keyText := testSecretKey
		if strings.HasPrefix(dsn, "sqlite:") {
			b, err := os.ReadFile(strings.TrimPrefix(dsn, "sqlite:") + ".key")
			if err != nil {
				t.Fatal(err)
			}
			keyText = string(b)
		}
		key, err := secretbox.ParseKey(keyText)
		if err != nil {
			t.Fatal(err)
		}
		box, err := secretbox.New(key)
		if err != nil {
			t.Fatal(err)
		}
		db := openDatabase(t, dsn, false)
		var kid, sealed string
		if err := db.QueryRow(`SELECT kid, private_key FROM signing_keys WHERE role = 'current'`).Scan(&kid, &sealed); err != nil {
			t.Fatal(err)
		}
		pemText, err := box.Open(sealed, "signing_keys/"+kid)
		if err != nil {
			t.Fatal(err)
		}
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.Exec(q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(`UPDATE signing_keys SET private_key = $1 WHERE kid = $2`, pemText, kid)
		exec(`UPDATE action_secrets SET value = $1`, f.actionSecret)
		exec(`UPDATE action_bindings SET secrets = $1`, `[{"name":"BOUND","value":"`+f.bindingSecret+`","updated_at":1}]`)
		exec(`UPDATE settings SET value = $1 WHERE name = 'email_provider'`, `{"name":"smtp","enabled":false,"default_from_address":"Acme <hello@acme.example>","credentials":{"smtp_host":"127.0.0.1","smtp_port":2525,"smtp_user":"acme","smtp_pass":"`+f.smtpPass+`"}}`)
		if !strings.Contains(dumpDatabase(t, dsn), f.smtpPass) {
			t.Fatal("the legacy rows were not written")
		}

		s = startServer(t, dsn, map[string]string{"USHER_ADDR": strings.TrimPrefix(s.URL, "http://")})
		f.wantClean(t, dsn)
		if st := s.call(t, "GET", "/api/v2/users", old, nil, nil); st != 200 {
			t.Fatalf("a token signed by the legacy key: %d", st)
		}
		f.wantActionSees(t, s)
	})
}

// signingKey is a signing key as /api/v2/keys/signing shows it.
type signingKey struct {
	KID          string `json:"kid"`
	Cert         string `json:"cert"`
	PKCS7        string `json:"pkcs7"`
	Current      bool   `json:"current"`
	Next         bool   `json:"next"`
	Previous     bool   `json:"previous"`
	CurrentSince string `json:"current_since"`
	CurrentUntil string `json:"current_until"`
	Fingerprint  string `json:"fingerprint"`
	Thumbprint   string `json:"thumbprint"`
	Revoked      bool   `json:"revoked"`
	RevokedAt    string `json:"revoked_at"`
}

// kidOf is the key id in a JWT's header.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Headers[0].KeyID
}

// verifiesAgainstJWKS checks token as a resource server would: with the key
// of its kid from the published JWKS.
func verifiesAgainstJWKS(t *testing.T, s *testServer, token string) bool {
	t.Helper()
	var jwks jose.JSONWebKeySet
	s.call(t, "GET", "/.well-known/jwks.json", "", nil, &jwks)
	keys := jwks.Key(kidOf(t, token))
	if len(keys) != 1 {
		return false
	}
	tok, _ := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	var c jwt.Claims
	return tok.Claims(keys[0].Key, &c) == nil
}

func jwksKids(t *testing.T, s *testServer) []string {
	var jwks jose.JSONWebKeySet
	s.call(t, "GET", "/.well-known/jwks.json", "", nil, &jwks)
	var kids []string
	for _, k := range jwks.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func TestSigningKeyRotation(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, nil)
		m := mgmtAPI{t, s, s.token(t)}

		var keys []signingKey
		m.must("GET", "/api/v2/keys/signing", nil, 200, &keys)
		if len(keys) != 2 || !keys[0].Current || keys[0].CurrentSince == "" || !keys[1].Next || keys[1].Current {
			t.Fatalf("keys at first start: %+v", keys)
		}
		a := keys[0]
		block, _ := pem.Decode([]byte(a.Cert))
		if block == nil || block.Type != "CERTIFICATE" || !strings.HasPrefix(a.PKCS7, "-----BEGIN PKCS7-----") {
			t.Fatalf("cert %q pkcs7 %q", a.Cert, a.PKCS7)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum(cert.Raw)
		if a.Thumbprint != strings.ToUpper(hex.EncodeToString(sum[:])) || strings.ReplaceAll(a.Fingerprint, ":", "") != a.Thumbprint {
			t.Fatalf("thumbprint %s fingerprint %s", a.Thumbprint, a.Fingerprint)
		}
		if kids := jwksKids(t, s); len(kids) != 2 || kids[0] != a.KID || kids[1] != keys[1].KID {
			t.Fatalf("JWKS before rotation: %v", kids)
		}
		first := m.tok
		if kidOf(t, first) != a.KID || !verifiesAgainstJWKS(t, s, first) {
			t.Fatal("the first token is not signed by the current key")
		}

		// Rotate: the next key signs, the old one stays published.
		var rotated signingKey
		m.must("POST", "/api/v2/keys/signing/rotate", nil, 201, &rotated)
		if rotated.KID != keys[1].KID || rotated.Cert != keys[1].Cert {
			t.Fatalf("rotate answered %+v; want the next key %s", rotated, keys[1].KID)
		}
		second := s.token(t)
		if kidOf(t, second) != rotated.KID || !verifiesAgainstJWKS(t, s, second) {
			t.Fatal("after rotation new tokens are not signed by the new current key")
		}
		if !verifiesAgainstJWKS(t, s, first) || s.call(t, "GET", "/api/v2/users", first, nil, nil) != 200 {
			t.Fatal("a token signed before the rotation no longer verifies")
		}
		m.must("GET", "/api/v2/keys/signing", nil, 200, &keys)
		var prev signingKey
		m.must("GET", "/api/v2/keys/signing/"+url.PathEscape(a.KID), nil, 200, &prev)
		if !prev.Previous || prev.Current || prev.CurrentUntil == "" || prev.Revoked || len(keys) != 3 {
			t.Fatalf("after rotation: %+v in %+v", prev, keys)
		}

		// The current and next keys cannot be revoked; an unknown one is a 404.
		s.wantErr(t, "PUT", "/api/v2/keys/signing/"+rotated.KID+"/revoke", m.tok, nil, 400, "")
		s.wantErr(t, "PUT", "/api/v2/keys/signing/nope/revoke", m.tok, nil, 404, "")
		s.wantErr(t, "GET", "/api/v2/keys/signing/nope", m.tok, nil, 404, "")

		// Revoke the previous key: it leaves the JWKS and its tokens fail.
		var revoked signingKey
		m.must("PUT", "/api/v2/keys/signing/"+url.PathEscape(a.KID)+"/revoke", nil, 200, &revoked)
		if revoked.KID != a.KID || revoked.Cert != a.Cert {
			t.Fatalf("revoke answered %+v", revoked)
		}
		for _, k := range jwksKids(t, s) {
			if k == a.KID {
				t.Fatal("the revoked key is still in the JWKS")
			}
		}
		if verifiesAgainstJWKS(t, s, first) {
			t.Fatal("a token of the revoked key still verifies against the JWKS")
		}
		s.wantErr(t, "GET", "/api/v2/users", first, nil, 401, "")
		if s.call(t, "GET", "/api/v2/users", second, nil, nil) != 200 {
			t.Fatal("the current key's token stopped working")
		}
		m.tok = second
		m.must("GET", "/api/v2/keys/signing/"+url.PathEscape(a.KID), nil, 200, &prev)
		if !prev.Revoked || prev.RevokedAt == "" || prev.Previous || prev.Cert != a.Cert {
			t.Fatalf("revoked key: %+v", prev)
		}
		// A revoked key's private half is gone from the database.
		db := openDatabase(t, dsn, true)
		var private string
		if err := db.QueryRow(`SELECT private_key FROM signing_keys WHERE kid = $1`, a.KID).Scan(&private); err != nil || private != "" {
			t.Fatalf("the revoked key's private key is still stored (%d bytes, %v)", len(private), err)
		}
	})
}

// TestSigningKeyRotationReachesOtherInstances: two servers on one database;
// a rotation and a revocation made through one reach the other.
func TestSigningKeyRotationReachesOtherInstances(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		// One public URL, so one issuer and one Management audience.
		env := map[string]string{"USHER_PUBLIC_URL": "http://usher.example.test"}
		a, b := startServer(t, dsn, env), startServer(t, dsn, env)
		token := func(s *testServer) string {
			t.Helper()
			st, body := s.form(t, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID},
				"client_secret": {s.ClientSecret}, "audience": {env["USHER_PUBLIC_URL"] + "/api/v2/"}})
			if st != 200 {
				t.Fatalf("token: %d %v", st, body)
			}
			return body["access_token"].(string)
		}
		first := token(b)
		var rotated signingKey
		if st := a.call(t, "POST", "/api/v2/keys/signing/rotate", token(a), nil, &rotated); st != 201 {
			t.Fatalf("rotate: %d", st)
		}
		// B knew the next key from the start: A's new tokens verify at B at once.
		if st := b.call(t, "GET", "/api/v2/users", token(a), nil, nil); st != 200 {
			t.Fatalf("B refuses A's token signed with the new key: %d", st)
		}
		// B signs with the new key once it has read the keys again (they are
		// kept oauth.KeysTTL, which B's clock is moved past); polled slowly,
		// for /oauth/token's rate limit.
		slowly := func(what string, cond func() bool) {
			t.Helper()
			for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(250 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("waited 20s for %s", what)
				}
			}
		}
		b.Clock.Advance(oauth.KeysTTL)
		slowly("B signing with the rotated key", func() bool { return kidOf(t, token(b)) == rotated.KID })
		if st := a.call(t, "PUT", "/api/v2/keys/signing/"+url.PathEscape(kidOf(t, first))+"/revoke", token(a), nil, nil); st != 200 {
			t.Fatalf("revoke: %d", st)
		}
		b.Clock.Advance(oauth.KeysTTL)
		slowly("B refusing the revoked key's token", func() bool { return b.call(t, "GET", "/api/v2/users", first, nil, nil) == 401 })
	})
}

func TestSigningKeyScopes(t *testing.T) {
	t.Parallel()
	s := startServer(t, sqliteDSN(t), nil)
	admin := s.token(t)
	var c map[string]any
	s.call(t, "POST", "/api/v2/clients", admin, map[string]any{"name": "users reader", "app_type": "non_interactive"}, &c)
	s.call(t, "POST", "/api/v2/client-grants", admin, map[string]any{"client_id": c["client_id"], "audience": s.URL + "/api/v2/", "scope": []string{"read:users"}}, nil)
	weak := s.tokenFor(t, c["client_id"].(string), c["client_secret"].(string))
	kid := kidOf(t, admin)
	for _, r := range []struct{ method, path, scope string }{
		{"GET", "/api/v2/keys/signing", "read:signing_keys"},
		{"GET", "/api/v2/keys/signing/" + kid, "read:signing_keys"},
		{"POST", "/api/v2/keys/signing/rotate", "create:signing_keys"},
		{"PUT", "/api/v2/keys/signing/" + kid + "/revoke", "update:signing_keys"},
	} {
		s.wantErr(t, r.method, r.path, "", nil, 401, "")
		e := s.wantErr(t, r.method, r.path, weak, nil, 403, "insufficient_scope")
		if !strings.Contains(e.Message, r.scope) {
			t.Errorf("%s %s: 403 message %q does not name %s", r.method, r.path, e.Message, r.scope)
		}
	}
	// Nothing changed: the admin's key still signs.
	if kidOf(t, s.token(t)) != kid {
		t.Fatal("a refused rotation rotated")
	}
}

// TestCommandsOnTheDatabaseNeedNoKey: `usher invite --db` reads the email
// provider's From address, never its password, so it works without the key.
func TestCommandsOnTheDatabaseNeedNoKey(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, nil)
		newSecretsFixture(t, s)
		if _, errOut, err := cli(map[string]string{"USHER_DB": dsn}, "invite", "cli@example.com"); err != nil {
			t.Fatalf("invite --db: %v\n%s", err, errOut)
		}
		mails := s.outbox(t, s.token(t), "")
		if len(mails) != 1 {
			t.Fatalf("outbox %+v", mails)
		}
		var m struct{ From string }
		s.call(t, "GET", "/usher/v1/outbox/"+mails[0].ID, s.token(t), nil, &m)
		if m.From != "Acme <hello@acme.example>" {
			t.Fatalf("the invitation is from %q, not the provider's address", m.From)
		}
	})
}
