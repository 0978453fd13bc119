package identity

import (
	"crypto/rand"
	"encoding/hex"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomAlnum returns n characters drawn uniformly from [A-Za-z0-9].
func randomAlnum(n int) string {
	out := make([]byte, n)
	buf := make([]byte, n*2)
	for i := 0; i < n; {
		rand.Read(buf)
		for _, b := range buf {
			// 248 = 4*62: reject the tail so every character is equally likely.
			if b < 248 && i < n {
				out[i] = alnum[int(b)%len(alnum)]
				i++
			}
		}
	}
	return string(out)
}

func randomHex(nbytes int) string {
	b := make([]byte, nbytes)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NewUserID returns a database user id in Auth0's shape: "auth0|" and 24 hex digits.
func NewUserID() string { return "auth0|" + randomHex(12) }

// NewConnectionID returns "con_" and 16 alphanumerics, as Auth0 enforces.
func NewConnectionID() string { return "con_" + randomAlnum(16) }

// NewClientID returns a 32-character alphanumeric client id.
func NewClientID() string { return randomAlnum(32) }

// NewClientSecret returns a 64-character secret (about 380 bits).
func NewClientSecret() string { return randomAlnum(64) }

// NewGrantID returns "cgr_" and 16 alphanumerics.
func NewGrantID() string { return "cgr_" + randomAlnum(16) }
