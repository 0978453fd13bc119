package dashboard

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/usherid/usher/internal/identity"
)

// funcs are the helpers the page templates use.
var funcs = template.FuncMap{
	"when":    when,
	"ago":     ago,
	"path":    url.PathEscape,
	"json":    prettyJSON,
	"join":    strings.Join,
	"display": displayName,
	"status":  func(inv identity.Invitation, now time.Time) string { return inv.Status(now) },
	"canResend": func(inv identity.Invitation, now time.Time) bool {
		s := inv.Status(now)
		return s == "pending" || s == "expired"
	},
	"canRevoke": func(inv identity.Invitation, now time.Time) bool { return inv.Status(now) == "pending" },
	"lines":     func(v []string) string { return strings.Join(v, "\n") },
	"add":       func(a, b int) int { return a + b },
	"list":      func(s ...string) []string { return s },
	"deref":     func(b *bool) bool { return b != nil && *b },
	"eq1":       func(a, b string) bool { return a == b },
	"f1":        func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"pct":       func(f float64) string { return fmt.Sprintf("%.2f%%", f) },
}

// when writes a time for a person: UTC, to the minute; "" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// ago says how long ago t was, roughly.
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < 0:
		return "in " + roughly(-d)
	case d < time.Minute:
		return "just now"
	}
	return roughly(d) + " ago"
}

func roughly(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d < time.Minute:
		return "a moment"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute")
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour")
	}
	return plural(int(d.Hours()/24), "day")
}

// lifetime writes how long a link lives, in the largest whole unit:
// "5 days", "36 hours", "90 minutes".
func lifetime(d time.Duration) string {
	n, unit := int64(d/time.Second), "second"
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}} {
		if d >= u.d && d%u.d == 0 {
			n, unit = int64(d/u.d), u.name
			break
		}
	}
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// displayName is the name to show for u: the name, or else the given and
// family names (an import may bring only those, and a user made without a
// name is named after their email, as Auth0 names them).
func displayName(u identity.User) string {
	p := u.Profile
	if p.Name != "" && p.Name != u.Email {
		return p.Name
	}
	if full := strings.TrimSpace(p.GivenName + " " + p.FamilyName); full != "" {
		return full
	}
	return p.Name
}
