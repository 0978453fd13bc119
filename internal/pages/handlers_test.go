package pages_test

import (
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/api"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/mail/mailtest"
	"github.com/usherid/usher/internal/oauth"
	"github.com/usherid/usher/internal/pages"
	"github.com/usherid/usher/internal/store/storetest"
)

const (
	publicURL  = "http://usher.test"
	connection = "Username-Password-Authentication"
)

// site is the hosted pages over a fresh SQLite tenant, on a clock the test moves.
type site struct {
	t     *testing.T
	ids   *identity.Service
	pages *pages.Pages
	clock *mailtest.Clock
}

func newSite(t *testing.T) *site {
	t.Helper()
	ctx := t.Context()
	db := storetest.SQLite(t)
	clk := mailtest.NewClock(time.Now())
	ids := identity.NewService(db, identity.Options{PublicURL: publicURL, Links: api.Links{Base: publicURL}, Now: clk.Now})
	if _, err := ids.Bootstrap(ctx, identity.Bootstrap{}); err != nil {
		t.Fatal(err)
	}
	keys, err := oauth.NewKeys(ctx, db, "usher.test", clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	tokens := oauth.NewServer(oauth.Options{Identity: ids, Keys: keys, Store: db, Issuer: publicURL + "/", Now: clk.Now})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &site{t: t, ids: ids, pages: pages.New(ids, tokens, db, mail.NewEngine(), publicURL, log), clock: clk}
}

func raw(v any) json.RawMessage { b, _ := json.Marshal(v); return b }

// ticket creates an invited user (no password yet) and returns them with
// the ticket of a password link for them that lasts ttl.
func (s *site) ticket(email string, ttl time.Duration) (identity.User, string) {
	s.t.Helper()
	ctx := s.t.Context()
	no := false
	u, err := s.ids.CreateUser(ctx, identity.NewUser{Connection: connection, Email: email, VerifyEmail: &no})
	if err != nil {
		s.t.Fatal(err)
	}
	link, err := s.ids.PasswordChangeTicket(ctx, identity.PasswordChangeTicketRequest{UserID: u.ID, TTLSec: int(ttl.Seconds())})
	if err != nil {
		s.t.Fatal(err)
	}
	l, err := url.Parse(link)
	if err != nil {
		s.t.Fatal(err)
	}
	return u, l.Query().Get("ticket")
}

// resetPage renders GET /lo/reset for ticket, as a browser opening the link.
func (s *site) resetPage(ticket string) (int, string) {
	s.t.Helper()
	w := httptest.NewRecorder()
	s.pages.ResetForm().ServeHTTP(w, httptest.NewRequest("GET", publicURL+"/lo/reset?ticket="+url.QueryEscape(ticket), nil))
	return w.Code, w.Body.String()
}

var tags = regexp.MustCompile(`<[^>]*>`)

// text is what a person reads on a page: its words without the tags.
func text(page string) string {
	return strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(page, ""))), " ")
}

// The reset form says which passwords the connection takes, as it is set
// now: change the policy and the next page says the new one.
func TestResetFormShowsTheConnectionsPolicy(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	_, ticket := s.ticket("ana@example.com", time.Hour)
	conns, err := s.ids.Connections(ctx)
	if err != nil || len(conns) == 0 {
		t.Fatalf("connections: %v %v", conns, err)
	}
	conn := conns[0]
	st, page := s.resetPage(ticket)
	if st != http.StatusOK || !strings.Contains(page, `name="newPassword"`) {
		t.Fatalf("reset form: %d\n%s", st, page)
	}
	if want := conn.PasswordPolicy().Describe(); !strings.Contains(text(page), want) {
		t.Errorf("the form does not say %q:\n%s", want, text(page))
	}

	options := conn.Options
	options["passwordPolicy"] = "excellent"
	options["password_complexity_options"] = map[string]any{"min_length": 14}
	updated, err := s.ids.UpdateConnection(ctx, conn.ID, identity.Patch{"options": raw(options)})
	if err != nil {
		t.Fatal(err)
	}
	want := updated.PasswordPolicy().Describe()
	if !strings.Contains(want, "14") {
		t.Fatalf("the stricter policy reads %q", want)
	}
	if _, page := s.resetPage(ticket); !strings.Contains(text(page), want) {
		t.Errorf("after the policy changed, the form does not say %q:\n%s", want, text(page))
	}
}

// A link that was used, expired, or never existed says so, offers a new
// one, and shows no password form.
func TestUnusableLinksSaySoAndOfferANewOne(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()

	_, used := s.ticket("used@example.com", time.Hour)
	if _, err := s.ids.SetPasswordWithTicket(ctx, used, "Str0ng-Passw0rd!", identity.Requester{}); err != nil {
		t.Fatal(err)
	}
	_, expiring := s.ticket("late@example.com", time.Minute)
	s.clock.Advance(time.Minute + time.Second)

	for _, tc := range []struct {
		name, ticket string
		status       int
		says         []string
	}{
		{"used", used, http.StatusGone, []string{"Link already used", "This link was already used.", "If you set your password with it, you can log in."}},
		{"expired", expiring, http.StatusGone, []string{"Link expired", "This link has expired."}},
		{"unknown", "made-up", http.StatusNotFound, []string{"This link is not valid."}},
	} {
		st, page := s.resetPage(tc.ticket)
		if st != tc.status {
			t.Errorf("%s link: %d, want %d", tc.name, st, tc.status)
		}
		for _, want := range tc.says {
			if !strings.Contains(text(page), want) {
				t.Errorf("%s link: the page does not say %q:\n%s", tc.name, want, text(page))
			}
		}
		if !strings.Contains(page, `action="`+publicURL+`/lo/request"`) || !strings.Contains(text(page), "Send me a new link") {
			t.Errorf("%s link: no way to ask for a new link:\n%s", tc.name, page)
		}
		if strings.Contains(page, `name="newPassword"`) {
			t.Errorf("%s link: the page still offers to set a password", tc.name)
		}
	}
}

// What a tenant or a person typed is shown as text on the pages, never run
// as markup.
func TestPagesEscapeWhatPeopleTyped(t *testing.T) {
	s := newSite(t)
	ctx := t.Context()
	const name = `Acme <script>alert("name")</script> & Co`
	if _, err := s.ids.UpdateTenantSettings(ctx, identity.Patch{"friendly_name": raw(name)}); err != nil {
		t.Fatal(err)
	}
	_, ticket := s.ticket("o'hara@example.com", time.Hour)
	st, page := s.resetPage(ticket)
	if st != http.StatusOK {
		t.Fatalf("reset form: %d\n%s", st, page)
	}
	if strings.Contains(page, "<script>alert") {
		t.Fatalf("the page carries what was typed as markup:\n%s", page)
	}
	for _, want := range []string{name, "o'hara@example.com"} {
		if !strings.Contains(text(page), want) {
			t.Errorf("the page does not show %q as text:\n%s", want, text(page))
		}
	}
}
