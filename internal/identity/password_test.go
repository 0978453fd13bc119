package identity

import (
	"strings"
	"testing"

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
