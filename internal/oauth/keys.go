// Package oauth issues and checks Usher's tokens: signing keys, the JWKS,
// grants at the token endpoint.
package oauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// StoredKey is a signing key as the database keeps it.
type StoredKey struct {
	KID           string
	PrivateKeyPEM string
	CreatedAt     time.Time
}

// KeyStore keeps signing keys.
type KeyStore interface {
	SigningKeys(ctx context.Context) ([]StoredKey, error)
	AddSigningKey(ctx context.Context, k StoredKey) error
}

// KeySet holds the tenant's RS256 keys: it signs with the oldest, so that
// every instance sharing a database signs with the same key, and publishes all.
type KeySet struct {
	signer jose.Signer
	public map[string]*rsa.PublicKey
	jwks   jose.JSONWebKeySet
}

// LoadKeys reads the stored keys, making and storing the first one when
// there is none.
func LoadKeys(ctx context.Context, ks KeyStore, now time.Time) (*KeySet, error) {
	stored, err := ks.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	if len(stored) == 0 {
		k, err := newStoredKey(now)
		if err != nil {
			return nil, err
		}
		// Two instances starting together may both add one; both then sign
		// with whichever is older.
		if err := ks.AddSigningKey(ctx, k); err != nil {
			return nil, fmt.Errorf("store signing key: %w", err)
		}
		if stored, err = ks.SigningKeys(ctx); err != nil {
			return nil, fmt.Errorf("load signing keys: %w", err)
		}
	}
	set := &KeySet{public: map[string]*rsa.PublicKey{}}
	for i, k := range stored {
		priv, err := parsePrivateKey(k.PrivateKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", k.KID, err)
		}
		set.public[k.KID] = &priv.PublicKey
		set.jwks.Keys = append(set.jwks.Keys, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: k.KID, Algorithm: string(jose.RS256), Use: "sig"})
		if i == 0 {
			opts := (&jose.SignerOptions{}).WithType("JWT")
			set.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: k.KID}}, opts)
			if err != nil {
				return nil, fmt.Errorf("signer: %w", err)
			}
		}
	}
	return set, nil
}

func newStoredKey(now time.Time) (StoredKey, error) {
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
	return StoredKey{
		KID:           base64.RawURLEncoding.EncodeToString(thumb),
		PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		CreatedAt:     now,
	}, nil
}

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
