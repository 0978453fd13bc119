// Package secretbox encrypts the secrets Usher keeps in its database
// (signing keys, the SMTP password, Action secrets) with the operator's key,
// so that a copy of the database alone reveals none of them.
//
// A sealed value is text: the prefix "usher-sealed:v1:" and the base64 of a
// random 12-byte nonce followed by the AES-256-GCM ciphertext. Each value is
// sealed for a label naming where it lives (say "signing_keys/KID"), which
// GCM authenticates: a sealed value copied into another row does not open
// there. Values without the prefix are legacy plain text, which Open returns
// as they are, so that a database written before encryption keeps working
// until it is sealed.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// prefix marks a sealed value and its format's version.
const prefix = "usher-sealed:v1:"

// ErrNoKey is returned when a value must be sealed or opened and no key was given.
var ErrNoKey = errors.New("no secret key was given (USHER_SECRET_KEY or --secret-key-file)")

// ErrWrongKey is returned when a sealed value does not open: it was sealed
// with another key, for another place, or changed since.
var ErrWrongKey = errors.New("the secret key does not open this value: it was sealed with another key, or altered")

// Box seals and opens values with one key. A nil *Box has no key: it opens
// plain values and refuses everything else.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a KeySize-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key: want %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Box{aead: aead}, nil
}

// ParseKey reads a key written as text: 32 bytes in standard or URL-safe
// base64 (padded or not) or in hex; surrounding white space is ignored. Its
// errors never repeat the text, which may be a key with a typo.
func ParseKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if len(text) == 2*KeySize {
		if b, err := hex.DecodeString(text); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(text); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("secret key: want %d bytes written in base64 (44 characters) or hex (64 characters)", KeySize)
}

// NewKey returns a fresh random key written as ParseKey reads it (base64).
func NewKey() (string, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate secret key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// IsSealed reports whether v is a sealed value rather than plain text.
func IsSealed(v string) bool { return strings.HasPrefix(v, prefix) }

// Seal encrypts plain for label with a fresh random nonce.
func (b *Box) Seal(plain, label string) (string, error) {
	if b == nil {
		return "", ErrNoKey
	}
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(plain), []byte(label))
	return prefix + base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed for label; a plain (legacy) value comes back
// as it is.
func (b *Box) Open(stored, label string) (string, error) {
	if !IsSealed(stored) {
		return stored, nil
	}
	if b == nil {
		return "", ErrNoKey
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(stored, prefix))
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return "", ErrWrongKey
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(label))
	if err != nil {
		return "", ErrWrongKey
	}
	return string(plain), nil
}
