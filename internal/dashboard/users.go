package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/web"
)

const perPage = 50

// pager is a list's position and the links to the pages around it.
type pager struct {
	Page, Total, From, To int
	Prev, Next            string
}

// pageOf reads ?page= (from 0).
func pageOf(r *http.Request) int {
	p, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || p < 0 {
		return 0
	}
	return p
}

// newPager links the pages of a list at path whose query is q.
func (d *Dashboard) newPager(path string, q url.Values, page, shown, total int) pager {
	p := pager{Page: page, Total: total, From: page*perPage + 1, To: page*perPage + shown}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "page" && k != "note" && len(vs) > 0 && vs[0] != "" {
				v.Set(k, vs[0])
			}
		}
		if n > 0 {
			v.Set("page", strconv.Itoa(n))
		}
		if len(v) == 0 {
			return d.root + path
		}
		return d.root + path + "?" + v.Encode()
	}
	if page > 0 {
		p.Prev = link(page - 1)
	}
	if (page+1)*perPage < total {
		p.Next = link(page + 1)
	}
	return p
}

// usersData is the users page.
type usersData struct {
	Query string
	Users []person
	Pager pager
}

// person is a user as a list or a page shows them: with their state, which
// takes in their newest invitation.
type person struct {
	identity.User
	State personState
}

// personState is a person's state: a badge, a sentence that says more on
// their page, and what the page's mail button does for them ("" for no button).
type personState struct {
	Label, Class, Detail, Mail string
}

// stateOf says where u stands. Someone flagged app_metadata.needsInvitation,
// or whose invitation is still open, is invited, never active, whether or
// not they have a password (Auth0's recipe gives invited people a random one).
func stateOf(u identity.User, latest *identity.Invitation, now time.Time) personState {
	flagged, _ := u.AppMetadata["needsInvitation"].(bool)
	open := latest != nil && latest.Open()
	st := personState{Label: "invited", Class: "pending", Mail: "Mail an invitation"}
	switch {
	case u.Blocked:
		return personState{Label: "blocked", Class: "bad", Detail: "They cannot log in."}
	case open && latest.Status(now) == identity.InvitationExpired:
		st.Label, st.Class, st.Mail = "invitation expired", "expired", "Resend the invitation"
		st.Detail = "The invitation expired " + when(latest.ExpiresAt) + " unaccepted."
	case open:
		st.Mail = "Resend the invitation"
		st.Detail = "The invitation is pending; its link expires " + when(latest.ExpiresAt) + "."
	case flagged && latest != nil && latest.Status(now) == identity.InvitationAccepted:
		st.Detail = "The invitation was accepted " + when(latest.AcceptedAt) +
			"; app_metadata.needsInvitation stays true until a post-login Action lowers it at their first login."
	case flagged && latest != nil:
		st.Detail = "Flagged app_metadata.needsInvitation; the last invitation was revoked " + when(latest.RevokedAt) + "."
	case flagged:
		st.Detail = "Flagged app_metadata.needsInvitation; no invitation was sent yet."
	case u.PasswordHash == "":
		return personState{Label: "no password", Detail: "They have no password yet.", Mail: "Mail a link to choose a password"}
	default:
		return personState{Label: "active", Class: "good", Mail: "Mail a password reset link"}
	}
	return st
}

// people pairs users with their states.
func (d *Dashboard) people(r *http.Request, users []identity.User) ([]person, error) {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	latest, err := d.ids.LatestInvitations(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	now := d.ids.Now()
	out := make([]person, len(users))
	for i, u := range users {
		var inv *identity.Invitation
		if l, ok := latest[u.ID]; ok {
			inv = &l
		}
		out[i] = person{User: u, State: stateOf(u, inv, now)}
	}
	return out, nil
}

// userFilter reads the search box: Auth0's query syntax when it has a
// field:value term, else the beginning of an email address.
func userFilter(q string) (identity.UserFilter, error) {
	q = strings.TrimSpace(q)
	switch {
	case q == "":
		return identity.UserFilter{}, nil
	case strings.Contains(q, ":"):
		return identity.ParseUserSearch(q)
	case strings.Contains(q, "@") && !strings.HasSuffix(q, "@"):
		return identity.UserFilter{Terms: []identity.Term{{Field: "email", Value: strings.ToLower(q)}}}, nil
	}
	return identity.UserFilter{Terms: []identity.Term{{Field: "email", Value: strings.ToLower(strings.TrimSuffix(q, "*")), Prefix: true}}}, nil
}

func (d *Dashboard) users() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		q := r.URL.Query().Get("q")
		data := usersData{Query: q}
		filter, err := userFilter(q)
		if err != nil {
			_, msg, _ := d.problem(w, err)
			d.render(w, http.StatusBadRequest, "users", s.view("People", "users", msg, data))
			return
		}
		page := pageOf(r)
		users, total, err := d.ids.Users(r.Context(), identity.UserQuery{Filter: filter, Page: page, PerPage: perPage, IncludeTotals: true,
			SortField: "created_at", SortDesc: true})
		if err != nil {
			d.showError(w, s, err)
			return
		}
		if data.Users, err = d.people(r, users); err != nil {
			d.showError(w, s, err)
			return
		}
		data.Pager = d.newPager("/users", r.URL.Query(), page, len(users), total)
		d.render(w, http.StatusOK, "users", s.view("People", "users", "", data))
	})
}

// userData is a person's page.
type userData struct {
	User                      identity.User
	State                     personState
	Admin, Self               bool
	Invitations               []identity.Invitation
	AppMetadata, UserMetadata string
	AppError, UserError       string
	Now                       time.Time
}

func prettyJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSpace(buf.String())
}

// loadUser fills a person's page; the metadata texts are the stored ones.
func (d *Dashboard) loadUser(r *http.Request, s *session, id string) (userData, error) {
	u, err := d.ids.User(r.Context(), id)
	if err != nil {
		return userData{}, err
	}
	data := userData{User: u, Self: u.ID == s.user.ID, Now: d.ids.Now(), AppMetadata: prettyJSON(u.AppMetadata), UserMetadata: prettyJSON(u.UserMetadata)}
	if data.Admin, err = d.ids.IsAdmin(r.Context(), identity.User{ID: u.ID}); err != nil {
		return data, err
	}
	data.Invitations, _, err = d.ids.Invitations(r.Context(), identity.InvitationQuery{Email: u.Email, PerPage: 20})
	if err != nil {
		return data, err
	}
	ps, err := d.people(r, []identity.User{u})
	if err != nil {
		return data, err
	}
	data.State = ps[0].State
	return data, nil
}

func (d *Dashboard) user() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		data, err := d.loadUser(r, s, r.PathValue("id"))
		if err != nil {
			d.showError(w, s, err)
			return
		}
		d.render(w, http.StatusOK, "user", s.view(data.User.Email, "users", "", data))
	})
}

// parseObject reads a JSON object typed by a person; the error says what is
// wrong in a sentence.
func parseObject(field, text string) (map[string]any, string) {
	if strings.TrimSpace(text) == "" {
		return map[string]any{}, ""
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + strings.Count(text[:min(int(se.Offset), len(text))], "\n")
			return nil, field + " is not valid JSON (line " + strconv.Itoa(line) + "): " + se.Error()
		}
		return nil, field + " is not valid JSON: " + err.Error()
	}
	if dec.More() {
		return nil, field + " has something after the JSON object."
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, field + " must be a JSON object, such as {\"plan\": \"pro\"}."
	}
	return numbersToFloat(m).(map[string]any), ""
}

// numbersToFloat turns json.Number into float64, as the rest of Usher keeps numbers.
func numbersToFloat(v any) any {
	switch t := v.(type) {
	case json.Number:
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, x := range t {
			t[k] = numbersToFloat(x)
		}
	case []any:
		for i, x := range t {
			t[i] = numbersToFloat(x)
		}
	}
	return v
}

// replacement is the metadata patch that turns cur into want: Auth0's PATCH
// merges top-level keys, so keys that are gone are sent as null.
func replacement(cur, want map[string]any) map[string]any {
	p := map[string]any{}
	for k := range cur {
		p[k] = nil
	}
	for k, v := range want {
		p[k] = v
	}
	if len(p) == 0 {
		return map[string]any{}
	}
	return p
}

// saveMetadata replaces app_metadata and user_metadata with the texts typed;
// a text that is not a JSON object changes nothing and comes back as typed.
func (d *Dashboard) saveMetadata() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		id := r.PathValue("id")
		data, err := d.loadUser(r, s, id)
		if err != nil {
			d.showError(w, s, err)
			return
		}
		data.AppMetadata, data.UserMetadata = r.PostFormValue("app_metadata"), r.PostFormValue("user_metadata")
		app, appErr := parseObject("app_metadata", data.AppMetadata)
		user, userErr := parseObject("user_metadata", data.UserMetadata)
		data.AppError, data.UserError = appErr, userErr
		if appErr != "" || userErr != "" {
			d.render(w, http.StatusBadRequest, "user", s.view(data.User.Email, "users", "Nothing was saved: fix the metadata below.", data))
			return
		}
		_, err = d.ids.UpdateUser(r.Context(), id, identity.UserPatch{
			AppMetadata:  identity.Opt[map[string]any]{Set: true, V: replacement(data.User.AppMetadata, app)},
			UserMetadata: identity.Opt[map[string]any]{Set: true, V: replacement(data.User.UserMetadata, user)},
		})
		if err != nil {
			status, msg, ok := d.problem(w, err)
			if ok {
				d.render(w, status, "user", s.view(data.User.Email, "users", "Nothing was saved: "+msg, data))
			}
			return
		}
		d.redirect(w, r, "/users/"+url.PathEscape(id), "metadata")
	})
}

func (d *Dashboard) setBlocked(blocked bool) http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		id := r.PathValue("id")
		if blocked && id == s.user.ID {
			d.render(w, http.StatusBadRequest, "error", s.view("Cannot do that", "users", "You cannot block yourself.", nil))
			return
		}
		_, err := d.ids.UpdateUser(r.Context(), id, identity.UserPatch{Blocked: identity.Opt[bool]{Set: true, V: blocked}})
		if err == nil && !blocked {
			err = d.ids.UnblockUser(r.Context(), id) // and the brute-force blocks
		}
		if err != nil {
			d.showError(w, s, err)
			return
		}
		d.redirect(w, r, "/users/"+url.PathEscape(id), map[bool]string{true: "blocked", false: "unblocked"}[blocked])
	})
}

func (d *Dashboard) deleteUser() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		id := r.PathValue("id")
		if id == s.user.ID {
			d.render(w, http.StatusBadRequest, "error", s.view("Cannot do that", "users", "You cannot delete yourself.", nil))
			return
		}
		if err := d.ids.DeleteUser(r.Context(), id); err != nil {
			d.showError(w, s, err)
			return
		}
		d.redirect(w, r, "/users", "deleted")
	})
}

func (d *Dashboard) setAdmin(admin bool) http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		id := r.PathValue("id")
		ps := []identity.Permission{d.ids.AdminPermission()}
		var err error
		switch {
		case admin:
			err = d.ids.AssignPermissions(r.Context(), id, ps)
		case id == s.user.ID:
			d.render(w, http.StatusBadRequest, "error", s.view("Cannot do that", "users",
				"You cannot take away your own access: ask another administrator.", nil))
			return
		default:
			err = d.ids.RemovePermissions(r.Context(), id, ps)
		}
		if err != nil {
			d.showError(w, s, err)
			return
		}
		d.redirect(w, r, "/users/"+url.PathEscape(id), map[bool]string{true: "admin", false: "unadmin"}[admin])
	})
}

// sendPasswordMail mails the person a link to choose a password: their open
// invitation's, renewed, or a reset mail.
func (d *Dashboard) sendPasswordMail() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		id := r.PathValue("id")
		sent, err := d.ids.SendPasswordMail(r.Context(), id, identity.Requester{IP: web.ClientIP(r), UserAgent: r.UserAgent()})
		if err != nil {
			d.showError(w, s, err)
			return
		}
		note := "reset-mailed"
		if sent == identity.PurposeInvite {
			note = "invitation-mailed"
		}
		d.redirect(w, r, "/users/"+url.PathEscape(id), note)
	})
}
