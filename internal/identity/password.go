package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/usherid/usher/internal/errs"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/semaphore"
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
	weak := errs.Invalid("password_strength_error", "PasswordStrengthError: Password is too weak")
	if len(pw) > maxPasswordBytes {
		return errs.Invalid("password_strength_error", "PasswordStrengthError: Password is too long (at most %d bytes)", maxPasswordBytes)
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

// Strength is the policy's level as Check applies it: none, low, fair,
// good or excellent.
func (p PasswordPolicy) Strength() string { return p.level() }

// Length is the fewest characters the policy takes.
func (p PasswordPolicy) Length() int { return p.minLength() }

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

// HashPassword returns an argon2id hash in the PHC string format. It is
// unbounded: a server hashes through Passwords, which bounds how many run
// at once.
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
		// A cost past maxImportedBcryptCost (left by an import before it was
		// refused) would take minutes per check: such a hash never matches.
		if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost > maxImportedBcryptCost {
			return false
		}
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
	case strings.HasPrefix(hash, "$argon2id$"):
		return checkArgon2id(hash, pw)
	}
	return false
}

// maxImportedBcryptCost is the highest bcrypt cost an import takes. Each
// step doubles the work of every login check; at 31 one check takes days,
// so an imported hash could tie up the server whenever someone tries that
// account's password. Auth0's own hashes use 10.
const maxImportedBcryptCost = 14

// CheckImportedHash says what is wrong with a password hash brought from
// elsewhere (an import row's field path), or nil: Usher takes bcrypt hashes
// up to maxImportedBcryptCost, which keep working at login.
func CheckImportedHash(h, path string) *FieldError {
	if !isBcrypt(h) {
		return &FieldError{Code: "PATTERN", Message: path + " must be a bcrypt hash ($2a$, $2b$ or $2y$)", Path: path}
	}
	if cost, _ := bcrypt.Cost([]byte(h)); cost > maxImportedBcryptCost {
		return &FieldError{Code: "PATTERN", Message: fmt.Sprintf("%s has bcrypt cost %d; Usher imports bcrypt hashes of cost %d to %d", path, cost, bcrypt.MinCost, maxImportedBcryptCost), Path: path}
	}
	return nil
}

// isBcrypt reports whether h is a well-formed bcrypt hash.
func isBcrypt(h string) bool {
	if !strings.HasPrefix(h, "$2a$") && !strings.HasPrefix(h, "$2b$") && !strings.HasPrefix(h, "$2y$") {
		return false
	}
	cost, err := bcrypt.Cost([]byte(h))
	return err == nil && cost >= bcrypt.MinCost && cost <= bcrypt.MaxCost && len(h) == 60
}

// checkable reports whether CheckPassword does a hash's work for hash,
// rather than answering no at once.
func checkable(hash string) bool {
	if isBcrypt(hash) {
		cost, _ := bcrypt.Cost([]byte(hash))
		return cost <= maxImportedBcryptCost
	}
	return strings.HasPrefix(hash, "$argon2id$")
}

func checkArgon2id(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
		return false
	}
	var mem, passes uint32
	var lanes uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &passes, &lanes); err != nil {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || mem > 1<<20 || passes > 16 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, passes, mem, lanes, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// ErrBusy is the answer when the server already hashes as many passwords
// as it has room for and the queue is full: the caller may try again in a
// moment (the HTTP edge answers 429 with Retry-After).
var ErrBusy error = &errs.Error{Kind: errs.KindBusy, Code: "too_many_requests", Message: "Too many requests. Try again in a moment."}

// PasswordLimits bound the password hashing one server does at once. An
// argon2id hash holds 19 MiB and a core for tens of milliseconds: unbounded,
// a burst of logins multiplies the memory and makes every login wait.
type PasswordLimits struct {
	// Slots is how many hashes run at once; 0: one per core (GOMAXPROCS).
	Slots int
	// Queue is how many hashes may wait for a slot; past it the next is
	// refused at once with ErrBusy. 0: two per slot; -1: none. A short
	// queue keeps the logins that are taken about as fast as on an idle
	// server; the others are told to come back (429, Retry-After).
	Queue int
	// Wait is the longest a hash waits for a slot before ErrBusy; 0: half a second.
	Wait time.Duration
	// Waited, when set, hears how long each hash waited for a slot (for
	// /metrics): 0 when one was free, about Wait when it gave up. A hash
	// refused at once, the queue being full, is not heard of: Stats counts
	// it as refused.
	Waited func(time.Duration)
}

// PasswordStats are what Passwords did since it was made, for /metrics.
type PasswordStats struct {
	Slots, Running, Waiting int
	Hashes, Refused         uint64
}

// Passwords hashes and checks passwords with PasswordLimits' bounds. Every
// check costs one hash of the current algorithm and cost, even when there is
// no hash to check against (an unknown email, a user with no password yet),
// so that the answer's time tells nothing about the account.
type Passwords struct {
	slots   *semaphore.Weighted
	size    int
	queue   int64
	wait    time.Duration
	waited  func(time.Duration)
	waiting atomic.Int64
	running atomic.Int64
	hashes  atomic.Uint64
	refused atomic.Uint64
	// dummy is a hash of a random password with the parameters of new hashes:
	// what a check without a real hash is checked against.
	dummy string
}

// NewPasswords returns a Passwords bounded by l. It computes the stand-in
// hash once, here.
func NewPasswords(l PasswordLimits) *Passwords {
	if l.Slots <= 0 {
		l.Slots = runtime.GOMAXPROCS(0)
	}
	switch {
	case l.Queue == 0:
		l.Queue = 2 * l.Slots
	case l.Queue < 0:
		l.Queue = 0
	}
	if l.Wait <= 0 {
		l.Wait = 500 * time.Millisecond
	}
	if l.Waited == nil {
		l.Waited = func(time.Duration) {}
	}
	// HashPassword fails only when crypto/rand does, which Go treats as fatal.
	dummy, _ := HashPassword(rand.Text())
	return &Passwords{slots: semaphore.NewWeighted(int64(l.Slots)), size: l.Slots, queue: int64(l.Queue), wait: l.Wait, waited: l.Waited, dummy: dummy}
}

// Hash returns a new hash of pw, or ErrBusy.
func (p *Passwords) Hash(ctx context.Context, pw string) (string, error) {
	release, err := p.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	p.hashes.Add(1)
	return HashPassword(pw)
}

// Check reports whether pw matches hash. With no usable hash (empty, or
// of a format Usher does not know) it does the same work against a stand-in
// and answers false. It fails only with ErrBusy or the context's error.
func (p *Passwords) Check(ctx context.Context, hash, pw string) (bool, error) {
	release, err := p.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return p.checkHeld(hash, pw), nil
}

// checkHeld is Check for a caller holding a slot from acquire.
func (p *Passwords) checkHeld(hash, pw string) bool {
	p.hashes.Add(1)
	if !checkable(hash) {
		CheckPassword(p.dummy, pw)
		return false
	}
	return CheckPassword(hash, pw)
}

// Stats returns what p did so far.
func (p *Passwords) Stats() PasswordStats {
	return PasswordStats{Slots: p.size, Running: int(p.running.Load()), Waiting: int(p.waiting.Load()),
		Hashes: p.hashes.Load(), Refused: p.refused.Load()}
}

// acquire takes a slot, waiting in a bounded queue for a bounded time, and
// returns the function that gives it back.
func (p *Passwords) acquire(ctx context.Context) (func(), error) {
	if p.slots.TryAcquire(1) {
		p.waited(0)
	} else if err := p.await(ctx); err != nil {
		return nil, err
	}
	p.running.Add(1)
	return func() {
		p.running.Add(-1)
		p.slots.Release(1)
	}, nil
}

func (p *Passwords) await(ctx context.Context) error {
	defer p.waiting.Add(-1)
	if p.waiting.Add(1) > p.queue {
		p.refused.Add(1)
		return ErrBusy
	}
	start := time.Now()
	defer func() { p.waited(time.Since(start)) }()
	wctx, cancel := context.WithTimeout(ctx, p.wait)
	defer cancel()
	if err := p.slots.Acquire(wctx, 1); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("wait to hash a password: %w", ctx.Err())
		}
		p.refused.Add(1)
		return ErrBusy
	}
	return nil
}
