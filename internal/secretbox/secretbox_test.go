package secretbox_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/secretbox"
)

func newBox(t testing.TB) *secretbox.Box {
	t.Helper()
	text, err := secretbox.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := secretbox.ParseKey(text)
	if err != nil {
		t.Fatal(err)
	}
	b, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	b := newBox(t)
	for _, plain := range []string{"", "hunter2", "-----BEGIN PRIVATE KEY-----\nMII...\n-----END PRIVATE KEY-----\n", strings.Repeat("é", 5000)} {
		sealed, err := b.Seal(plain, "here")
		if err != nil {
			t.Fatal(err)
		}
		if !secretbox.IsSealed(sealed) || (plain != "" && strings.Contains(sealed, plain)) {
			t.Fatalf("sealed %q as %q", plain, sealed)
		}
		again, _ := b.Seal(plain, "here")
		if again == sealed {
			t.Fatal("two seals of one value are alike: the nonce is not fresh")
		}
		got, err := b.Open(sealed, "here")
		if err != nil || got != plain {
			t.Fatalf("Open = %q, %v; want %q", got, err, plain)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	b := newBox(t)
	sealed, _ := b.Seal("hunter2", "settings/a")
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "usher-sealed:v1:"))
	raw[len(raw)-1] ^= 1
	tampered := "usher-sealed:v1:" + base64.StdEncoding.EncodeToString(raw)
	for name, tc := range map[string]struct {
		box          *secretbox.Box
		value, label string
		want         error
	}{
		"another key":        {newBox(t), sealed, "settings/a", secretbox.ErrWrongKey},
		"another place":      {b, sealed, "settings/b", secretbox.ErrWrongKey},
		"altered":            {b, tampered, "settings/a", secretbox.ErrWrongKey},
		"cut short":          {b, sealed[:30], "settings/a", secretbox.ErrWrongKey},
		"not base64":         {b, "usher-sealed:v1:@@@", "settings/a", secretbox.ErrWrongKey},
		"no key":             {nil, sealed, "settings/a", secretbox.ErrNoKey},
		"no key to seal":     {nil, "", "settings/a", secretbox.ErrNoKey},
		"another key, empty": {newBox(t), mustSeal(t, b, ""), "x", secretbox.ErrWrongKey},
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			if tc.value == "" {
				_, err = tc.box.Seal("x", tc.label)
			} else {
				_, err = tc.box.Open(tc.value, tc.label)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func mustSeal(t *testing.T, b *secretbox.Box, v string) string {
	s, err := b.Seal(v, "x")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A value written before encryption opens as it is, with a key or without.
func TestPlainPassesThrough(t *testing.T) {
	for _, b := range []*secretbox.Box{nil, newBox(t)} {
		if got, err := b.Open("plain password", "x"); err != nil || got != "plain password" {
			t.Fatalf("Open(plain) = %q, %v", got, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	for _, text := range []string{
		base64.StdEncoding.EncodeToString(key), base64.RawStdEncoding.EncodeToString(key),
		base64.URLEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key),
		hex.EncodeToString(key), strings.ToUpper(hex.EncodeToString(key)),
		"  " + base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		got, err := secretbox.ParseKey(text)
		if err != nil || string(got) != string(key) {
			t.Errorf("ParseKey(%q) = %x, %v", text, got, err)
		}
	}
	for _, text := range []string{"", "short", base64.StdEncoding.EncodeToString(key[:16]), hex.EncodeToString(key[:31]) + "zz", base64.StdEncoding.EncodeToString(append(key, 1))} {
		_, err := secretbox.ParseKey(text)
		if err == nil || (text != "" && strings.Contains(err.Error(), text)) {
			t.Errorf("ParseKey(%q): %v; want an error that does not repeat the text", text, err)
		}
	}
	if _, err := secretbox.New(key[:16]); err == nil {
		t.Error("New accepts a 16-byte key")
	}
}

func BenchmarkSealOpen(b *testing.B) {
	box := newBox(b)
	pem := strings.Repeat("x", 1700) // about a 2048-bit PKCS #8 key in PEM
	for b.Loop() {
		s, _ := box.Seal(pem, "signing_keys/kid")
		if _, err := box.Open(s, "signing_keys/kid"); err != nil {
			b.Fatal(err)
		}
	}
}
