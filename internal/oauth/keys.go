// Package oauth issues and checks Usher's tokens: signing keys, the JWKS,
// grants at the token endpoint.
package oauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	encasn1 "encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/usherid/usher/internal/errs"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// KeyRole is where a signing key stands in its rotation.
type KeyRole string

// The roles of a signing key, in the order a key goes through them.
const (
	RoleNext     KeyRole = "next"     // published, signs after the next rotation
	RoleCurrent  KeyRole = "current"  // signs every token now
	RolePrevious KeyRole = "previous" // signed before a rotation; published until revoked
	RoleRevoked  KeyRole = "revoked"  // no longer published; its tokens no longer verify
)

// StoredKey is a signing key as the database keeps it.
type StoredKey struct {
	KID string
	// PrivateKeyPEM is the PKCS #8 private key; empty once revoked.
	PrivateKeyPEM string
	// CertPEM is the key's self-signed certificate, as Auth0 publishes one.
	CertPEM      string
	Role         KeyRole
	CreatedAt    time.Time
	CurrentSince time.Time // zero until the key became current
	CurrentUntil time.Time // zero until a rotation replaced it
	RevokedAt    time.Time
}

// ErrKeysChanged is what a KeyStore returns when a rotation or revocation
// finds the keys no longer as read: another caller changed them meanwhile.
var ErrKeysChanged = errors.New("the signing keys changed meanwhile")

// KeyStore keeps signing keys.
type KeyStore interface {
	// SigningKeys returns every key, revoked ones included, oldest first.
	SigningKeys(ctx context.Context) ([]StoredKey, error)
	// AddSigningKey stores a new key; errs.ErrDuplicate when its kid,
	// or the role current or next, is taken.
	AddSigningKey(ctx context.Context, k StoredKey) error
	// RotateSigningKeys makes current previous, next current and adds
	// newNext, in one transaction; ErrKeysChanged when current and next no
	// longer hold those roles.
	RotateSigningKeys(ctx context.Context, current, next string, newNext StoredKey, now time.Time) error
	// RevokeSigningKey revokes a previous key and drops its private key;
	// ErrKeysChanged when kid is not a previous key.
	RevokeSigningKey(ctx context.Context, kid string, now time.Time) error
	// SetSigningKeyCert records the certificate of a key stored without one.
	SetSigningKeyCert(ctx context.Context, kid, cert string) error
}

// KeysTTL is how long an instance uses the keys it read before reading them
// again: a rotation or revocation made through another instance on the same
// database takes effect here within this time.
const KeysTTL = 2 * time.Second

// Keys is the tenant's signing keys as the database holds them, read again
// when older than KeysTTL so that every instance signs with the same key and
// refuses revoked ones.
type Keys struct {
	store   KeyStore
	subject string
	now     func() time.Time
	reload  sync.Mutex // one read at a time; the others use what was read last
	snap    atomic.Pointer[keySnapshot]
	parsed  sync.Map // kid → *parsedKey: a kid is its key's thumbprint, so it never names another
}

type keySnapshot struct {
	set *KeySet
	at  time.Time
}

// parsedKey is a stored key made ready to use: parsing a PEM and its
// certificate on every read would cost more than the read.
type parsedKey struct {
	priv *rsa.PrivateKey // nil once revoked
	pub  *rsa.PublicKey
	cert *x509.Certificate
}

// KeySet is one reading of the keys: the current key signs; current, next
// and previous keys verify and are published.
type KeySet struct {
	signer jose.Signer
	public map[string]*rsa.PublicKey
	jwks   jose.JSONWebKeySet
	all    []SigningKey
}

// SigningKey is a signing key as the Management API shows it (Auth0's shape).
type SigningKey struct {
	KID          string `json:"kid"`
	Cert         string `json:"cert"`
	PKCS7        string `json:"pkcs7"`
	Current      bool   `json:"current"`
	Next         bool   `json:"next"`
	Previous     bool   `json:"previous"`
	CurrentSince string `json:"current_since,omitempty"`
	CurrentUntil string `json:"current_until,omitempty"`
	Fingerprint  string `json:"fingerprint"`
	Thumbprint   string `json:"thumbprint"`
	Revoked      bool   `json:"revoked"`
	RevokedAt    string `json:"revoked_at,omitempty"`
}

// NewKeys reads the stored keys, first making the current and next keys when
// they are missing (a new database, or one from before rotation). subject
// names the certificates' holder (the issuer's host); now is the clock, nil
// for time.Now.
func NewKeys(ctx context.Context, store KeyStore, subject string, now func() time.Time) (*Keys, error) {
	if now == nil {
		now = time.Now
	}
	k := &Keys{store: store, subject: subject, now: now}
	if err := k.ensure(ctx); err != nil {
		return nil, err
	}
	if _, err := k.load(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// ensure adds a current and a next key where there is none. Instances
// starting together may race: the database keeps one of each role, and the
// loser reads the winner's.
func (k *Keys) ensure(ctx context.Context) error {
	for _, role := range []KeyRole{RoleCurrent, RoleNext} {
		stored, err := k.store.SigningKeys(ctx)
		if err != nil {
			return fmt.Errorf("load signing keys: %w", err)
		}
		if hasRole(stored, role) {
			continue
		}
		nk, err := k.newStoredKey(role)
		if err != nil {
			return err
		}
		if err := k.store.AddSigningKey(ctx, nk); err != nil && !errors.Is(err, errs.ErrDuplicate) {
			return fmt.Errorf("store signing key: %w", err)
		}
	}
	return nil
}

func hasRole(keys []StoredKey, role KeyRole) bool {
	for _, k := range keys {
		if k.Role == role {
			return true
		}
	}
	return false
}

// Set returns the keys, read again from the database when older than
// KeysTTL. While one caller reads, the others use the last reading, and so
// does everyone when the read fails (the database is away: nothing can
// change the keys then either).
func (k *Keys) Set(ctx context.Context) *KeySet {
	snap := k.snap.Load()
	if age := k.now().Sub(snap.at); age >= 0 && age < KeysTTL {
		return snap.set
	}
	if !k.reload.TryLock() {
		return snap.set
	}
	defer k.reload.Unlock()
	if set, err := k.load(ctx); err == nil {
		return set
	}
	return snap.set
}

// Refresh reads the keys at once, after this instance changed them.
func (k *Keys) Refresh(ctx context.Context) (*KeySet, error) {
	k.reload.Lock()
	defer k.reload.Unlock()
	return k.load(ctx)
}

func (k *Keys) load(ctx context.Context) (*KeySet, error) {
	at := k.now()
	stored, err := k.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	set := &KeySet{public: map[string]*rsa.PublicKey{}, jwks: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}, all: []SigningKey{}}
	var published []StoredKey
	for _, sk := range stored {
		pk, err := k.parse(ctx, sk)
		if err != nil && sk.Role == RoleRevoked {
			continue // only listed: a revoked key that cannot be shown is left out
		}
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", sk.KID, err)
		}
		set.all = append(set.all, describe(sk, pk.cert))
		if sk.Role == RoleRevoked {
			continue
		}
		set.public[sk.KID] = pk.pub
		published = append(published, sk)
		if sk.Role == RoleCurrent {
			opts := (&jose.SignerOptions{}).WithType("JWT")
			set.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: pk.priv, KeyID: sk.KID}}, opts)
			if err != nil {
				return nil, fmt.Errorf("signer: %w", err)
			}
		}
	}
	if set.signer == nil {
		return nil, errors.New("load signing keys: none is current")
	}
	// The current key first: clients that try only the first key still verify.
	rank := map[KeyRole]int{RoleCurrent: 0, RoleNext: 1, RolePrevious: 2}
	for r := 0; r <= 2; r++ {
		for _, sk := range published {
			if rank[sk.Role] != r {
				continue
			}
			pk, _ := k.parsed.Load(sk.KID)
			cert := pk.(*parsedKey).cert
			sum := sha1.Sum(cert.Raw)
			set.jwks.Keys = append(set.jwks.Keys, jose.JSONWebKey{Key: pk.(*parsedKey).pub, KeyID: sk.KID, Algorithm: string(jose.RS256), Use: "sig",
				Certificates: []*x509.Certificate{cert}, CertificateThumbprintSHA1: sum[:]})
		}
	}
	k.snap.Store(&keySnapshot{set: set, at: at})
	return set, nil
}

// parse returns sk ready to use, parsing it the first time it is met (or
// again when it has been revoked since: its private key is gone).
func (k *Keys) parse(ctx context.Context, sk StoredKey) (*parsedKey, error) {
	if v, ok := k.parsed.Load(sk.KID); ok {
		pk := v.(*parsedKey)
		if sk.Role != RoleRevoked || pk.priv == nil {
			return pk, nil
		}
	}
	pk := &parsedKey{}
	if sk.PrivateKeyPEM != "" && sk.Role != RoleRevoked {
		priv, err := parsePrivateKey(sk.PrivateKeyPEM)
		if err != nil {
			return nil, err
		}
		pk.priv, pk.pub = priv, &priv.PublicKey
	}
	if sk.CertPEM == "" {
		if pk.priv == nil {
			return nil, errors.New("neither its private key nor its certificate is stored")
		}
		// A key made before certificates were kept: its certificate is
		// derived from it alone, so every instance makes the same one.
		der, err := certificate(pk.priv, sk.KID, k.subject, sk.CreatedAt)
		if err != nil {
			return nil, err
		}
		sk.CertPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		if err := k.store.SetSigningKeyCert(ctx, sk.KID, sk.CertPEM); err != nil {
			return nil, fmt.Errorf("store certificate: %w", err)
		}
	}
	block, _ := pem.Decode([]byte(sk.CertPEM))
	if block == nil {
		return nil, errors.New("certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || (pk.pub != nil && !pk.pub.Equal(pub)) {
		return nil, errors.New("certificate does not hold the key")
	}
	pk.pub, pk.cert = pub, cert
	k.parsed.Store(sk.KID, pk)
	return pk, nil
}

// describe shows sk as the Management API does.
func describe(sk StoredKey, cert *x509.Certificate) SigningKey {
	sum := sha1.Sum(cert.Raw)
	thumb := strings.ToUpper(hex.EncodeToString(sum[:]))
	pairs := make([]string, len(sum))
	for i := range sum {
		pairs[i] = thumb[2*i : 2*i+2]
	}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return SigningKey{
		KID: sk.KID, Cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
		PKCS7:   string(pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: degeneratePKCS7(cert.Raw)})),
		Current: sk.Role == RoleCurrent, Next: sk.Role == RoleNext, Previous: sk.Role == RolePrevious, Revoked: sk.Role == RoleRevoked,
		CurrentSince: stamp(sk.CurrentSince), CurrentUntil: stamp(sk.CurrentUntil), RevokedAt: stamp(sk.RevokedAt),
		Fingerprint: strings.Join(pairs, ":"), Thumbprint: thumb,
	}
}

// List returns every signing key, revoked ones included, oldest first.
func (k *Keys) List(ctx context.Context) []SigningKey { return k.Set(ctx).all }

// Get returns the key kid.
func (k *Keys) Get(ctx context.Context, kid string) (SigningKey, error) {
	for _, sk := range k.Set(ctx).all {
		if sk.KID == kid {
			return sk, nil
		}
	}
	return SigningKey{}, errs.NotFound("inexistent_key", "The signing key does not exist.")
}

// Rotate makes the next key current (it signs from now on), keeps the
// current one published as a previous key, and makes a new next key. It
// returns the new current key.
func (k *Keys) Rotate(ctx context.Context) (SigningKey, error) {
	nk, err := k.newStoredKey(RoleNext)
	if err != nil {
		return SigningKey{}, err
	}
	set, err := k.Refresh(ctx)
	if err != nil {
		return SigningKey{}, err
	}
	var current, next SigningKey
	for _, sk := range set.all {
		switch {
		case sk.Current:
			current = sk
		case sk.Next:
			next = sk
		}
	}
	if current.KID == "" || next.KID == "" {
		return SigningKey{}, errors.New("rotate signing keys: no current or next key")
	}
	if err := k.store.RotateSigningKeys(ctx, current.KID, next.KID, nk, k.now()); err != nil {
		if errors.Is(err, ErrKeysChanged) {
			return SigningKey{}, errs.Conflict("signing_keys_changed", "The signing keys were rotated or revoked meanwhile; try again.")
		}
		return SigningKey{}, fmt.Errorf("rotate signing keys: %w", err)
	}
	if _, err := k.Refresh(ctx); err != nil {
		return SigningKey{}, err
	}
	return k.Get(ctx, next.KID)
}

// Revoke revokes a previous key: it leaves the JWKS, tokens it signed no
// longer verify, and its private key is deleted. The current and next keys
// cannot be revoked (rotate first).
func (k *Keys) Revoke(ctx context.Context, kid string) (SigningKey, error) {
	if _, err := k.Refresh(ctx); err != nil {
		return SigningKey{}, err
	}
	sk, err := k.Get(ctx, kid)
	if err != nil {
		return SigningKey{}, err
	}
	switch {
	case sk.Current || sk.Next:
		return SigningKey{}, errs.Invalid("invalid_key_state", "Only a previously used signing key can be revoked: rotate the keys first.")
	case sk.Revoked:
		return SigningKey{}, errs.Conflict("key_already_revoked", "The signing key is already revoked.")
	}
	if err := k.store.RevokeSigningKey(ctx, kid, k.now()); err != nil {
		if errors.Is(err, ErrKeysChanged) {
			return SigningKey{}, errs.Conflict("signing_keys_changed", "The signing keys were rotated or revoked meanwhile; try again.")
		}
		return SigningKey{}, fmt.Errorf("revoke signing key: %w", err)
	}
	if _, err := k.Refresh(ctx); err != nil {
		return SigningKey{}, err
	}
	return k.Get(ctx, kid)
}

// newStoredKey makes a 2048-bit RSA key in role with its certificate.
func (k *Keys) newStoredKey(role KeyRole) (StoredKey, error) {
	now := k.now().UTC()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return StoredKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return StoredKey{}, fmt.Errorf("encode signing key: %w", err)
	}
	thumb, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(cryptoSHA256)
	if err != nil {
		return StoredKey{}, fmt.Errorf("key id: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(thumb)
	cert, err := certificate(priv, kid, k.subject, now)
	if err != nil {
		return StoredKey{}, err
	}
	sk := StoredKey{
		KID:           kid,
		PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		CertPEM:       string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert})),
		Role:          role,
		CreatedAt:     now,
	}
	if role == RoleCurrent {
		sk.CurrentSince = now
	}
	return sk, nil
}

// certificate is the self-signed certificate of priv, as Auth0 publishes one
// for each signing key. Everything in it follows from its arguments (RSA
// PKCS #1 v1.5 signatures are deterministic), so that instances deriving it
// for the same key agree.
func certificate(priv *rsa.PrivateKey, kid, subject string, created time.Time) ([]byte, error) {
	serial := sha256.Sum256([]byte(kid))
	from := created.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(serial[:16]),
		Subject:               pkix.Name{CommonName: subject},
		NotBefore:             from,
		NotAfter:              from.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("signing key certificate: %w", err)
	}
	return der, nil
}

// degeneratePKCS7 wraps a certificate in a PKCS #7 SignedData with no
// signers (RFC 2315 §9.1; the "certs-only" form), as Auth0's pkcs7 field holds.
func degeneratePKCS7(cert []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(asn1.SET, func(*cryptobyte.Builder) {}) // no digest algorithms
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) })
				b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(cert) })
				b.AddASN1(asn1.SET, func(*cryptobyte.Builder) {}) // no signers
			})
		})
	})
	return b.BytesOrPanic()
}

// The PKCS #7 content types (RFC 2315 §14).
var (
	oidData       = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
)

func parsePrivateKey(p string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, errors.New("not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

// JWKS returns the public keys as /.well-known/jwks.json publishes them.
func (s *KeySet) JWKS() jose.JSONWebKeySet { return s.jwks }

// verifies reports whether kid names a key whose tokens verify.
func (s *KeySet) verifies(kid string) bool { return s.public[kid] != nil }
