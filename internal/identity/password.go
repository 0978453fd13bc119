package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// PasswordPolicy is a database connection's rule for new passwords, in
// Auth0's levels: none, low, fair, good, excellent.
type PasswordPolicy struct {
	Level     string
	MinLength int
}

// policyMinLength is Auth0's minimum length for each level when the
// connection does not set password_complexity_options.min_length.
var policyMinLength = map[string]int{"none": 1, "low": 6, "fair": 8, "good": 8, "excellent": 10}

// maxPasswordBytes bounds the work one hash can cost.
const maxPasswordBytes = 128

// Check returns an Auth0-style PasswordStrengthError when pw breaks the policy.
func (p PasswordPolicy) Check(pw string) error {
	weak := Invalid("password_strength_error", "PasswordStrengthError: Password is too weak")
	if len(pw) > maxPasswordBytes {
		return Invalid("password_strength_error", "PasswordStrengthError: Password is too long (at most %d bytes)", maxPasswordBytes)
	}
	if len([]rune(pw)) < p.minLength() {
		return weak
	}
	var lower, upper, digit, special bool
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			special = true
		}
	}
	classes := 0
	for _, ok := range []bool{lower, upper, digit, special} {
		if ok {
			classes++
		}
	}
	switch p.level() {
	case "fair":
		if !(lower && upper && digit) {
			return weak
		}
	case "good":
		if classes < 3 {
			return weak
		}
	case "excellent":
		if classes < 3 || hasRun(pw, 3) {
			return weak
		}
	}
	return nil
}

// Describe says the policy in one sentence for the hosted pages.
func (p PasswordPolicy) Describe() string {
	n := p.minLength()
	switch p.level() {
	case "fair":
		return fmt.Sprintf("At least %d characters, with lower case, upper case and a digit.", n)
	case "good":
		return fmt.Sprintf("At least %d characters, with three of: lower case, upper case, digits, special characters.", n)
	case "excellent":
		return fmt.Sprintf("At least %d characters, with three of: lower case, upper case, digits, special characters; no character more than twice in a row.", n)
	}
	return fmt.Sprintf("At least %d characters.", n)
}

func (p PasswordPolicy) level() string {
	if _, ok := policyMinLength[p.Level]; ok {
		return p.Level
	}
	return "none"
}

func (p PasswordPolicy) minLength() int {
	if p.MinLength > 0 {
		return p.MinLength
	}
	return policyMinLength[p.level()]
}

func hasRun(s string, n int) bool {
	run, prev := 0, rune(-1)
	for _, r := range s {
		if r == prev {
			run++
		} else {
			run, prev = 1, r
		}
		if run >= n {
			return true
		}
	}
	return false
}

// argon2id parameters: the OWASP minimum (19 MiB, 2 passes, 1 lane).
const (
	argonMemory = 19 * 1024
	argonTime   = 2
	argonLanes  = 1
	argonKeyLen = 32
)

// HashPassword returns an argon2id hash in the PHC string format.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonLanes, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonLanes, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches hash, which is an argon2id PHC
// string or a bcrypt hash ($2a$, $2b$, $2y$, as Auth0 imports them).
func CheckPassword(hash, pw string) bool {
	switch {
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
	case strings.HasPrefix(hash, "$argon2id$"):
		return checkArgon2id(hash, pw)
	}
	return false
}

func checkArgon2id(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
		return false
	}
	var mem uint32
	var time uint32
	var lanes uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &time, &lanes); err != nil {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || mem > 1<<20 || time > 16 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, time, mem, lanes, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
