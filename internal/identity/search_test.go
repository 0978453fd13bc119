package identity

import (
	"reflect"
	"strings"
	"testing"

	"github.com/usherid/usher/internal/errs"
)

func TestParseUserSearch(t *testing.T) {
	for _, tc := range []struct {
		q     string
		terms []Term
		bad   bool
	}{
		{q: ""},
		{q: `email:"Ada@Example.com"`, terms: []Term{{Field: "email", Value: "Ada@Example.com"}}},
		{q: `email:ada*`, terms: []Term{{Field: "email", Value: "ada", Prefix: true}}},
		{q: `app_metadata.needsInvitation:true AND email_verified:false`, terms: []Term{
			{Field: "app_metadata.needsInvitation", Value: "true", JSON: "true"},
			{Field: "email_verified", Value: "false"}}},
		{q: `user_metadata.plan:"pro team"`, terms: []Term{{Field: "user_metadata.plan", Value: "pro team", JSON: `"pro team"`}}},
		{q: `app_metadata.level:3`, terms: []Term{{Field: "app_metadata.level", Value: "3", JSON: "3"}}},
		{q: `app_metadata.level:"3"`, terms: []Term{{Field: "app_metadata.level", Value: "3", JSON: `"3"`}}},
		{q: `email:a OR email:b`, bad: true},
		{q: `password_hash:x`, bad: true},
		{q: `email:"unterminated`, bad: true},
		{q: `blocked:maybe`, bad: true},
		{q: `app_metadata.x:y*`, bad: true},
		{q: `justaword`, bad: true},
	} {
		f, err := ParseUserSearch(tc.q)
		if tc.bad {
			if errs.KindOf(err) != errs.KindInvalid {
				t.Errorf("%q: got %v, want an invalid query", tc.q, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(f.Terms, tc.terms) {
			t.Errorf("%q: got %+v, %v; want %+v", tc.q, f.Terms, err, tc.terms)
		}
	}
}

// TestParseUserSearchBounds: what a query may not hold, because the
// database would answer with an error rather than with users.
func TestParseUserSearchBounds(t *testing.T) {
	for _, q := range []string{
		strings.Repeat("email:a ", MaxSearchTerms+1),
		"name:" + strings.Repeat("a", MaxSearchLength),
		"name:a\x00", "name:\xff", `name:"\x00"`, `name:"\xff"`, "name:a\tb",
	} {
		if _, err := ParseUserSearch(q); errs.KindOf(err) != errs.KindInvalid {
			t.Errorf("%.40q: %v, want an invalid query", q, err)
		}
	}
	for q, want := range map[string]string{
		"app_metadata.n:1e21": "1e+21", "app_metadata.n:3.0": "3", "app_metadata.n:-0.5": "-0.5",
		"app_metadata.n:NaN": `"NaN"`, "app_metadata.n:Inf": `"Inf"`, "app_metadata.n:1e999": `"1e999"`, "app_metadata.n:0x10": `"0x10"`,
	} {
		f, err := ParseUserSearch(q)
		if err != nil || f.Terms[0].JSON != want {
			t.Errorf("%s: %+v %v, want JSON %s", q, f.Terms, err, want)
		}
	}
	if f, err := ParseUserSearch(strings.Repeat("email:a ", MaxSearchTerms)); err != nil || len(f.Terms) != MaxSearchTerms {
		t.Errorf("%d terms: %v", MaxSearchTerms, err)
	}
}
