package oauth_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/mail/mailtest"
	"github.com/usherid/usher/internal/oauth"
)

// memKeys is a KeyStore in memory that keeps the rules the database does.
type memKeys struct {
	mu   sync.Mutex
	keys []oauth.StoredKey
}

func (m *memKeys) SigningKeys(context.Context) ([]oauth.StoredKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.keys), nil
}

func (m *memKeys) AddSigningKey(_ context.Context, k oauth.StoredKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.add(k)
}

func (m *memKeys) add(k oauth.StoredKey) error {
	for _, o := range m.keys {
		if o.KID == k.KID || (o.Role == k.Role && (k.Role == oauth.RoleCurrent || k.Role == oauth.RoleNext)) {
			return errs.ErrDuplicate
		}
	}
	m.keys = append(m.keys, k)
	return nil
}

func (m *memKeys) find(kid string, role oauth.KeyRole) int {
	return slices.IndexFunc(m.keys, func(k oauth.StoredKey) bool { return k.KID == kid && k.Role == role })
}

func (m *memKeys) RotateSigningKeys(_ context.Context, current, next string, newNext oauth.StoredKey, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, n := m.find(current, oauth.RoleCurrent), m.find(next, oauth.RoleNext)
	if c < 0 || n < 0 {
		return oauth.ErrKeysChanged
	}
	m.keys[c].Role, m.keys[c].CurrentUntil = oauth.RolePrevious, now
	m.keys[n].Role, m.keys[n].CurrentSince = oauth.RoleCurrent, now
	return m.add(newNext)
}

func (m *memKeys) RevokeSigningKey(_ context.Context, kid string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.find(kid, oauth.RolePrevious)
	if i < 0 {
		return oauth.ErrKeysChanged
	}
	m.keys[i].Role, m.keys[i].RevokedAt, m.keys[i].PrivateKeyPEM = oauth.RoleRevoked, now, ""
	return nil
}

func (m *memKeys) SetSigningKeyCert(_ context.Context, kid, cert string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].KID == kid && m.keys[i].CertPEM == "" {
			m.keys[i].CertPEM = cert
		}
	}
	return nil
}

func roles(t *testing.T, k *oauth.Keys) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sk := range k.List(t.Context()) {
		switch {
		case sk.Current:
			out[sk.KID] = "current"
		case sk.Next:
			out[sk.KID] = "next"
		case sk.Previous:
			out[sk.KID] = "previous"
		case sk.Revoked:
			out[sk.KID] = "revoked"
		}
	}
	return out
}

func published(k *oauth.Keys, ctx context.Context) []string {
	var kids []string
	for _, j := range k.Set(ctx).JWKS().Keys {
		kids = append(kids, j.KeyID)
	}
	return kids
}

// Two instances on one store: a rotation and a revocation made by one reach
// the other once its reading is KeysTTL old, not before.
func TestKeysRotateAcrossInstances(t *testing.T) {
	ctx := t.Context()
	store := &memKeys{}
	clk := mailtest.NewClock(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	a, err := oauth.NewKeys(ctx, store, "id.example.com", clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := oauth.NewKeys(ctx, store, "id.example.com", clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	before := a.List(ctx)
	if len(before) != 2 || !before[0].Current || !before[1].Next || before[0].CurrentSince != "2025-01-02T03:04:05.000Z" {
		t.Fatalf("first keys: %+v", before)
	}
	if kids := published(b, ctx); !slices.Equal(kids, []string{before[0].KID, before[1].KID}) {
		t.Fatalf("B publishes %v", kids)
	}

	clk.Advance(time.Second)
	rotated, err := a.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.KID != before[1].KID || !rotated.Current {
		t.Fatalf("rotated to %+v; want the next key", rotated)
	}
	if r := roles(t, a); r[before[0].KID] != "previous" || r[before[1].KID] != "current" || len(r) != 3 {
		t.Fatalf("A after rotation: %v", r)
	}
	if r := roles(t, b); r[before[0].KID] != "current" {
		t.Fatalf("B saw the rotation before KeysTTL: %v", r)
	}
	clk.Advance(oauth.KeysTTL)
	if r := roles(t, b); r[before[0].KID] != "previous" || r[before[1].KID] != "current" {
		t.Fatalf("B after KeysTTL: %v", r)
	}
	if kids := published(b, ctx); len(kids) != 3 || kids[0] != before[1].KID || kids[2] != before[0].KID {
		t.Fatalf("B publishes %v; want current, next, previous", kids)
	}

	if _, err := a.Revoke(ctx, before[1].KID); errs.KindOf(err) != errs.KindInvalid {
		t.Fatalf("revoking the current key: %v", err)
	}
	if _, err := a.Revoke(ctx, "nope"); errs.KindOf(err) != errs.KindNotFound {
		t.Fatalf("revoking an unknown key: %v", err)
	}
	revoked, err := a.Revoke(ctx, before[0].KID)
	if err != nil || !revoked.Revoked || revoked.RevokedAt == "" || revoked.Cert != before[0].Cert {
		t.Fatalf("revoke: %+v, %v", revoked, err)
	}
	if _, err := a.Revoke(ctx, before[0].KID); errs.KindOf(err) != errs.KindConflict {
		t.Fatalf("revoking twice: %v", err)
	}
	if slices.Contains(published(a, ctx), before[0].KID) {
		t.Fatal("A still publishes the revoked key")
	}
	clk.Advance(oauth.KeysTTL)
	if slices.Contains(published(b, ctx), before[0].KID) {
		t.Fatal("B still publishes the revoked key after KeysTTL")
	}
	if sk, _ := store.SigningKeys(ctx); sk[0].PrivateKeyPEM != "" {
		t.Fatal("the revoked key's private key is still stored")
	}
}

// Two rotations at once: one wins, the other is told to try again, and
// there is still one current and one next key.
func TestKeysConcurrentRotations(t *testing.T) {
	ctx := t.Context()
	store := &memKeys{}
	a, _ := oauth.NewKeys(ctx, store, "x", nil)
	b, _ := oauth.NewKeys(ctx, store, "x", nil)
	results := make(chan error, 2)
	for _, k := range []*oauth.Keys{a, b} {
		go func() { _, err := k.Rotate(ctx); results <- err }()
	}
	e1, e2 := <-results, <-results
	failed := 0
	for _, err := range []error{e1, e2} {
		if err != nil {
			if errs.KindOf(err) != errs.KindConflict {
				t.Fatalf("rotation: %v", err)
			}
			failed++
		}
	}
	count := map[oauth.KeyRole]int{}
	keys, _ := store.SigningKeys(ctx)
	for _, k := range keys {
		count[k.Role]++
	}
	if count[oauth.RoleCurrent] != 1 || count[oauth.RoleNext] != 1 || count[oauth.RolePrevious] != 2-failed {
		t.Fatalf("roles after two rotations (%d failed): %v", failed, count)
	}
}

// A key stored before certificates were kept gets one derived from the key
// alone: two instances derive the same, so the API shows one certificate.
func TestLegacyKeyCertificate(t *testing.T) {
	ctx := t.Context()
	seed := &memKeys{}
	if _, err := oauth.NewKeys(ctx, seed, "id.example.com", nil); err != nil {
		t.Fatal(err)
	}
	keys, _ := seed.SigningKeys(ctx)
	legacy := keys[0]
	legacy.CertPEM = ""
	var certs []string
	for range 2 {
		store := &memKeys{keys: []oauth.StoredKey{legacy}}
		k, err := oauth.NewKeys(ctx, store, "id.example.com", nil)
		if err != nil {
			t.Fatal(err)
		}
		sk, err := k.Get(ctx, legacy.KID)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, sk.Cert)
		if stored, _ := store.SigningKeys(ctx); stored[0].CertPEM != sk.Cert {
			t.Fatal("the derived certificate was not stored")
		}
	}
	if certs[0] != certs[1] {
		t.Fatal("two instances derived different certificates for one key")
	}
	block, _ := pem.Decode([]byte(certs[0]))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.Subject.CommonName != "id.example.com" || cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) != nil {
		t.Fatalf("certificate: %v %+v", err, cert.Subject)
	}
}

// The pkcs7 field is a certificate bag OpenSSL reads.
func TestPKCS7(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	k, err := oauth.NewKeys(t.Context(), &memKeys{}, "id.example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	sk := k.List(t.Context())[0]
	file := filepath.Join(t.TempDir(), "key.p7b")
	os.WriteFile(file, []byte(sk.PKCS7), 0o600)
	out, err := exec.Command(openssl, "pkcs7", "-in", file, "-print_certs").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	if !strings.Contains(strings.ReplaceAll(string(out), "\r", ""), strings.TrimSpace(sk.Cert)) {
		t.Fatalf("openssl reads:\n%s\nwant the certificate\n%s", out, sk.Cert)
	}
}
