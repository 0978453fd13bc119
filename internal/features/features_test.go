package features_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/features"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSame(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, true},
		{`{"a":1}`, `{"a":1,"b":null}`, true},
		{`{"a":1,"b":null}`, `{"a":1}`, true},
		{`{"a":1}`, `{"a":1,"b":false}`, false},
		{`{"a":[]}`, `{"a":null}`, false},
		{`[1,2]`, `[2,1]`, false},
		{`{"a":{"b":{"c":"x"}}}`, `{"a":{"b":{"c":"y"}}}`, false},
		{`10`, `10.0`, true},
		{`"10"`, `10`, false},
		{`{}`, `[]`, false},
	} {
		if got := features.Same(decode(t, c.a), decode(t, c.b)); got != c.same {
			t.Errorf("Same(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

// refusedAs checks that err is the refusal of a change (403), or another
// kind of error.
func refusedAs(t *testing.T, err error, kind errs.Kind) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != kind {
		t.Fatalf("error %v, want kind %d", err, kind)
	}
	if kind == errs.KindDenied && e.Code != "feature_not_enabled" {
		t.Fatalf("code %q", e.Code)
	}
}

func TestSettingsTakeOnlyWhatTheyHold(t *testing.T) {
	c := features.New(10)
	for _, tc := range []struct {
		name  string
		write func() (any, error)
		ok    bool
		kind  errs.Kind
	}{
		{"brute force written back", func() (any, error) {
			doc, _ := c.BruteForce.Get()
			return c.BruteForce.Patch(doc)
		}, true, 0},
		{"brute force, one property", func() (any, error) { return c.BruteForce.Patch(decode(t, `{"max_attempts":10}`)) }, true, 0},
		{"brute force off", func() (any, error) { return c.BruteForce.Patch(decode(t, `{"enabled":false}`)) }, false, errs.KindDenied},
		{"brute force, an unknown property", func() (any, error) { return c.BruteForce.Patch(decode(t, `{"sheilds":["block"]}`)) }, false, errs.KindDenied},
		{"brute force, not an object", func() (any, error) { return c.BruteForce.Patch(decode(t, `[1]`)) }, false, errs.KindInvalid},
		{"breached passwords on", func() (any, error) { return c.BreachedPasswords.Patch(decode(t, `{"enabled":true}`)) }, false, errs.KindDenied},
		{"policies written back", func() (any, error) { return c.MFAPolicies.Put(decode(t, `[]`)) }, true, 0},
		{"a policy", func() (any, error) { return c.MFAPolicies.Put(decode(t, `["all-applications"]`)) }, false, errs.KindDenied},
		{"a PUT is whole", func() (any, error) { return c.SMSProvider.Put(decode(t, `{}`)) }, false, errs.KindDenied},
		{"bot detection read", func() (any, error) { return c.BotDetection.Get() }, false, errs.KindDenied},
		{"bot detection written", func() (any, error) { return c.BotDetection.Patch(decode(t, `{}`)) }, false, errs.KindDenied},
		{"a factor off", func() (any, error) {
			f, err := c.Factor("webauthn-roaming")
			if err != nil {
				return nil, err
			}
			return f.Put(decode(t, `{"enabled":false}`))
		}, true, 0},
		{"a factor on", func() (any, error) {
			f, _ := c.Factor("otp")
			return f.Put(decode(t, `{"enabled":true}`))
		}, false, errs.KindDenied},
		{"an unknown factor", func() (any, error) { return c.Factor("carrier-pigeon") }, false, errs.KindInvalid},
		{"no partials", func() (any, error) {
			p, _ := c.Partials("login")
			return p.Put(decode(t, `{}`))
		}, true, 0},
		{"a partial", func() (any, error) {
			p, _ := c.Partials("login")
			return p.Put(decode(t, `{"login":{"form-content-end":"<p>hi</p>"}}`))
		}, false, errs.KindDenied},
		{"a strange prompt", func() (any, error) { return c.Partials("../login") }, false, errs.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.write()
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			refusedAs(t, err, tc.kind)
		})
	}
}

func TestGetAnswersACopy(t *testing.T) {
	c := features.New(10)
	doc, err := c.BruteForce.Get()
	if err != nil {
		t.Fatal(err)
	}
	doc.(map[string]any)["enabled"] = false
	again, _ := c.BruteForce.Get()
	if again.(map[string]any)["enabled"] != true {
		t.Fatal("changing an answer changed the setting")
	}
	if again.(map[string]any)["max_attempts"] != 10.0 {
		t.Fatalf("max_attempts %v", again.(map[string]any)["max_attempts"])
	}
}

func TestFactorsAreAllListedOff(t *testing.T) {
	factors := features.New(10).Factors()
	if len(factors) != 8 {
		t.Fatalf("%d factors", len(factors))
	}
	for _, f := range factors {
		if f.(map[string]any)["enabled"] != false {
			t.Fatalf("%v", f)
		}
	}
}
