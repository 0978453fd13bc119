package identity

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/errs"
	"golang.org/x/crypto/bcrypt"
)

func TestPasswordPolicyLevels(t *testing.T) {
	for _, tc := range []struct {
		policy PasswordPolicy
		pw     string
		ok     bool
	}{
		{PasswordPolicy{Level: "none"}, "x", true},
		{PasswordPolicy{Level: "none"}, "", false},
		{PasswordPolicy{Level: "low"}, "abcde", false},
		{PasswordPolicy{Level: "low"}, "abcdef", true},
		{PasswordPolicy{Level: "fair"}, "abcdefgh", false},
		{PasswordPolicy{Level: "fair"}, "Abcdefg1", true},
		{PasswordPolicy{Level: "good"}, "abcdefg1", false},
		{PasswordPolicy{Level: "good"}, "abcdef1!", true},
		{PasswordPolicy{Level: "good", MinLength: 12}, "Abcdefg1!", false},
		{PasswordPolicy{Level: "excellent"}, "Abcdefgh1!", true},
		{PasswordPolicy{Level: "excellent"}, "Abcdeeeh1!", false},
		{PasswordPolicy{Level: "excellent"}, "Abc1!", false},
		{PasswordPolicy{Level: "good"}, strings.Repeat("Ab1!", 40), false},
	} {
		err := tc.policy.Check(tc.pw)
		if (err == nil) != tc.ok {
			t.Errorf("%+v %q: got %v, want ok=%v", tc.policy, tc.pw, err, tc.ok)
		}
	}
}

func TestPasswordHashes(t *testing.T) {
	h, err := HashPassword("Correct-Horse-9")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") || !CheckPassword(h, "Correct-Horse-9") || CheckPassword(h, "correct-horse-9") {
		t.Fatalf("argon2id hash %q does not check out", h)
	}
	imported, _ := bcrypt.GenerateFromPassword([]byte("from-auth0"), 10)
	if !CheckPassword(string(imported), "from-auth0") || CheckPassword(string(imported), "nope") {
		t.Fatal("imported bcrypt hash does not check out")
	}
	if CheckPassword("plain-text", "plain-text") {
		t.Fatal("an unknown hash format must never match")
	}
}

// BenchmarkCheckPassword is the cost of checking a password against the
// argon2id hash Usher stores (19 MiB, 2 passes, 1 lane).
func BenchmarkCheckPassword(b *testing.B) {
	h, err := HashPassword("Correct-Horse-9")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !CheckPassword(h, "Correct-Horse-9") {
			b.Fatal("no match")
		}
	}
}

func TestPasswordsCheckCostsOneHashWhateverTheHash(t *testing.T) {
	p := NewPasswords(PasswordLimits{Slots: 1})
	real, err := p.Hash(t.Context(), "Correct-Horse-9")
	if err != nil {
		t.Fatal(err)
	}
	imported, _ := bcrypt.GenerateFromPassword([]byte("from-auth0"), bcrypt.MinCost)
	for _, tc := range []struct {
		name, hash, pw string
		want           bool
	}{
		{"right password", real, "Correct-Horse-9", true},
		{"wrong password", real, "correct-horse-9", false},
		{"imported bcrypt", string(imported), "from-auth0", true},
		{"no password yet", "", "anything", false},
		{"unknown format", "plain-text", "plain-text", false},
	} {
		before := p.Stats().Hashes
		ok, err := p.Check(t.Context(), tc.hash, tc.pw)
		if err != nil || ok != tc.want {
			t.Errorf("%s: got %v %v, want %v", tc.name, ok, err, tc.want)
		}
		if n := p.Stats().Hashes - before; n != 1 {
			t.Errorf("%s: %d hashes, want 1", tc.name, n)
		}
	}
	if !strings.HasPrefix(p.dummy, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("the stand-in hash %q does not have the parameters of new hashes", p.dummy)
	}
}

func TestPasswordsRefuseWhenEverySlotAndTheQueueAreTaken(t *testing.T) {
	h, _ := HashPassword("Correct-Horse-9")

	noQueue := NewPasswords(PasswordLimits{Slots: 1, Queue: -1})
	release, err := noQueue.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noQueue.Check(t.Context(), h, "Correct-Horse-9"); !errors.Is(err, ErrBusy) || errs.KindOf(err) != errs.KindBusy {
		t.Fatalf("check with the only slot taken and no queue: %v, want ErrBusy", err)
	}
	if _, err := noQueue.Hash(t.Context(), "Correct-Horse-9"); !errors.Is(err, ErrBusy) {
		t.Fatalf("hash with the only slot taken: %v, want ErrBusy", err)
	}
	release()
	if ok, err := noQueue.Check(t.Context(), h, "Correct-Horse-9"); !ok || err != nil {
		t.Fatalf("check once the slot is free: %v %v", ok, err)
	}
	if st := noQueue.Stats(); st.Refused != 2 || st.Running != 0 || st.Waiting != 0 {
		t.Fatalf("stats %+v", st)
	}

	// A waiter gives up after Wait; one whose caller left says so instead.
	queued := NewPasswords(PasswordLimits{Slots: 1, Queue: 1, Wait: time.Millisecond})
	release, _ = queued.acquire(t.Context())
	defer release()
	if _, err := queued.Check(t.Context(), h, "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("check that waited too long: %v, want ErrBusy", err)
	}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := queued.Check(gone, h, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("check whose caller left: %v, want context.Canceled", err)
	}
}

// TestPasswordsQueueServesAWaiter fills the one slot, queues a check
// and sees it served once the slot is given back.
func TestPasswordsQueueServesAWaiter(t *testing.T) {
	p := NewPasswords(PasswordLimits{Slots: 1, Queue: 1, Wait: time.Minute})
	h, _ := HashPassword("Correct-Horse-9")
	release, _ := p.acquire(t.Context())
	done := make(chan error, 1)
	go func() {
		ok, err := p.Check(t.Context(), h, "Correct-Horse-9")
		if err == nil && !ok {
			err = errors.New("no match")
		}
		done <- err
	}()
	for p.Stats().Waiting == 0 {
		runtime.Gosched()
	}
	if _, err := p.Check(t.Context(), h, "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second waiter past the queue: %v, want ErrBusy", err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("queued check: %v", err)
	}
}

// TestPasswordsReportTheirWaits hears how long each hash waited for its
// slot: nothing for one with a free slot, the time the slot was held for one
// that queued, and nothing at all for one refused at once.
func TestPasswordsReportTheirWaits(t *testing.T) {
	t.Parallel()
	waits := make(chan time.Duration, 10)
	p := NewPasswords(PasswordLimits{Slots: 1, Queue: 1, Wait: time.Minute, Waited: func(d time.Duration) { waits <- d }})
	release, _ := p.acquire(t.Context())
	if d := <-waits; d != 0 {
		t.Fatalf("a hash with a free slot waited %v", d)
	}
	held := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := p.Hash(t.Context(), "Correct-Horse-9")
		done <- err
	}()
	for p.Stats().Waiting == 0 {
		runtime.Gosched()
	}
	if _, err := p.Hash(t.Context(), "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("past the queue: %v, want ErrBusy", err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d, most := <-waits, time.Since(held); d <= 0 || d > most {
		t.Fatalf("the queued hash waited %v, want more than 0 and less than the %v since the slot was taken", d, most)
	}
	if len(waits) != 0 {
		t.Fatalf("the hash refused at once was heard of: %v", <-waits)
	}
}

// A bcrypt hash of cost 31 (one an older import let in) would take days to
// check: it never matches, and a login against it costs the stand-in's hash.
func TestCostlyBcryptHashNeverChecked(t *testing.T) {
	cheap, err := bcrypt.GenerateFromPassword([]byte("Correct-Horse-9"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	costly := "$2a$31$" + string(cheap)[7:]
	if c, err := bcrypt.Cost([]byte(costly)); err != nil || c != 31 {
		t.Fatalf("crafted hash: cost %d, %v", c, err)
	}
	if CheckPassword(costly, "Correct-Horse-9") {
		t.Fatal("a cost-31 hash matched")
	}
	if checkable(costly) {
		t.Fatal("a cost-31 hash is checked rather than the stand-in")
	}
	if !CheckPassword(string(cheap), "Correct-Horse-9") || !checkable(string(cheap)) {
		t.Fatal("a cost-4 hash no longer works")
	}
}
