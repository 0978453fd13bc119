package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// appsData is the applications page.
type appsData struct {
	Clients []identity.Client
	// Edited is a client whose callbacks came back refused, with the text typed.
	Edited, Callbacks string
	// Created is the client just made, with its secret: shown this once,
	// as only its hash is kept.
	Created *identity.Client
	Secret  string
	New     newApp
	Types   []appType
}

// newApp is the new-application form as typed.
type newApp struct{ Name, Type, Callbacks string }

// appType is a kind of application the form offers, as Auth0 names it.
type appType struct{ Value, Label string }

// appTypes are the application types the form offers: the four Auth0's
// dashboard starts with.
var appTypes = []appType{
	{"regular_web", "Regular web app (server-side)"},
	{"spa", "Single-page app (in the browser)"},
	{"native", "Native or mobile app"},
	{"non_interactive", "Machine to machine"},
}

func (d *Dashboard) loadClients(r *http.Request) ([]identity.Client, error) {
	return d.ids.Clients(r.Context())
}

func (d *Dashboard) applications() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		cs, err := d.loadClients(r)
		if err != nil {
			d.fail(w, err)
			return
		}
		d.render(w, http.StatusOK, "applications", s.view("Applications", "applications", "", appsData{Clients: cs, Types: appTypes, New: newApp{Type: "regular_web"}}))
	})
}

// callbackLines reads a text of callback URLs, one a line; problem says
// which line is not an absolute URL.
func callbackLines(text string) (callbacks []string, problem string) {
	callbacks = []string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if u, err := url.Parse(line); err != nil || u.Scheme == "" || u.Host == "" && u.Scheme != "urn" {
			return nil, "Each callback must be an absolute URL, such as https://app.example.com/callback; " + strconv.Quote(line) + " is not."
		}
		callbacks = append(callbacks, line)
	}
	return callbacks, ""
}

// createApplication makes a client the way POST /api/v2/clients does, and
// shows its id and its secret this once.
func (d *Dashboard) createApplication() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		form := newApp{Name: strings.TrimSpace(r.PostFormValue("name")), Type: r.PostFormValue("app_type"), Callbacks: r.PostFormValue("callbacks")}
		status := http.StatusOK
		var created *identity.Client
		var secret string
		callbacks, problem := callbackLines(form.Callbacks)
		known := false
		for _, t := range appTypes {
			known = known || t.Value == form.Type
		}
		switch {
		case problem != "":
		case form.Name == "":
			problem = "Give the application a name."
		case !known:
			problem = "Choose the kind of application."
		default:
			p := identity.Patch{}
			for k, v := range map[string]any{"name": form.Name, "app_type": form.Type, "callbacks": callbacks} {
				p[k], _ = json.Marshal(v)
			}
			c, sec, err := d.ids.CreateClient(r.Context(), p)
			if err != nil {
				var ok bool
				if _, problem, ok = d.problem(w, err); !ok {
					return
				}
				break
			}
			created, secret, form = &c, sec, newApp{Type: "regular_web"}
			if c.TokenEndpointAuthMethod == "none" {
				secret = "" // a public client proves nothing with a secret
			}
		}
		if problem != "" {
			status, problem = http.StatusBadRequest, "Not created: "+problem
		}
		cs, err := d.loadClients(r)
		if err != nil {
			d.fail(w, err)
			return
		}
		d.render(w, status, "applications", s.view("Applications", "applications", problem,
			appsData{Clients: cs, Created: created, Secret: secret, New: form, Types: appTypes}))
	})
}

// saveCallbacks replaces a client's Allowed Callback URLs: one absolute
// URL a line.
func (d *Dashboard) saveCallbacks() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		id, text := r.PathValue("id"), r.PostFormValue("callbacks")
		callbacks, problem := callbackLines(text)
		if problem == "" {
			raw, _ := json.Marshal(callbacks)
			_, err := d.ids.UpdateClient(r.Context(), id, identity.Patch{"callbacks": raw})
			if err == nil {
				d.redirect(w, r, "/applications", "callbacks")
				return
			}
			var ok bool
			if _, problem, ok = d.problem(w, err); !ok {
				return
			}
		}
		cs, err := d.loadClients(r)
		if err != nil {
			d.fail(w, err)
			return
		}
		d.render(w, http.StatusBadRequest, "applications", s.view("Applications", "applications", "Not saved: "+problem,
			appsData{Clients: cs, Edited: id, Callbacks: text, Types: appTypes, New: newApp{Type: "regular_web"}}))
	})
}

// connectionView is a database connection as its settings form shows it.
type connectionView struct {
	Connection    identity.Connection
	DisableSignup bool
	Policy        string
	MinLength     int
	Describe      string
}

// policies are Auth0's password policy levels, weakest first.
var policies = []string{"none", "low", "fair", "good", "excellent"}

func (d *Dashboard) connection() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		d.showConnections(w, r, s, http.StatusOK, "")
	})
}

func (d *Dashboard) showConnections(w http.ResponseWriter, r *http.Request, s *session, status int, problem string) {
	cs, err := d.ids.Connections(r.Context())
	if err != nil {
		d.fail(w, err)
		return
	}
	var views []connectionView
	for _, c := range cs {
		p := c.PasswordPolicy()
		views = append(views, connectionView{Connection: c, DisableSignup: c.DisableSignup(), Policy: p.Level, MinLength: p.MinLength, Describe: p.Describe()})
	}
	d.render(w, status, "connection", s.view("Sign-up and passwords", "connection", problem, map[string]any{"Connections": views, "Policies": policies}))
}

// saveConnection sets whether the public may sign up and the password
// policy; the connection's other options stay as they are.
func (d *Dashboard) saveConnection() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		id := r.PathValue("id")
		minLength, hasMin := 0, false
		if text := strings.TrimSpace(r.PostFormValue("min_length")); text != "" {
			n, err := strconv.Atoi(text)
			if err != nil {
				d.showConnections(w, r, s, http.StatusBadRequest, "Not saved: the minimum length must be a whole number.")
				return
			}
			minLength, hasMin = n, true
		}
		// The form's options change on the connection as it is when they
		// are saved: options it does not show, and changes made meanwhile
		// to them, are kept.
		_, err := d.ids.EditConnectionOptions(r.Context(), id, func(opts map[string]any) error {
			opts["disable_signup"] = r.PostFormValue("disable_signup") == "on"
			opts["passwordPolicy"] = r.PostFormValue("policy")
			pco, _ := opts["password_complexity_options"].(map[string]any)
			copied := map[string]any{}
			for k, v := range pco {
				copied[k] = v
			}
			if hasMin {
				copied["min_length"] = float64(minLength)
			} else {
				delete(copied, "min_length")
			}
			opts["password_complexity_options"] = copied
			return nil
		})
		if errs.KindOf(err) == errs.KindNotFound {
			d.showError(w, s, err)
			return
		} else if err != nil {
			if _, msg, ok := d.problem(w, err); ok {
				d.showConnections(w, r, s, http.StatusBadRequest, "Not saved: "+msg)
			}
			return
		}
		d.redirect(w, r, "/connection", "connection")
	})
}

// logsData is the logs page.
type logsData struct {
	Type, User, From, To string
	Events               []logRow
	Pager                pager
	Types                []logType
}

// logRow is a log event as the page shows it: its type in words, and what
// happened (its description, or what its type means when it has none).
type logRow struct {
	identity.LogEvent
	Name, What string
}

// logType is a log event type: Auth0's code, its name and what it means.
type logType struct{ Code, Name, Meaning string }

// logTypes are the event types Usher writes, with Auth0's names; the filter
// offers them and the rows are named by them.
var logTypes = []logType{
	{"s", "Success Login", "Someone logged in."},
	{"f", "Failed Login", "A login was refused."},
	{"fp", "Failed Login (Incorrect Password)", "A login was refused: the password was wrong."},
	{"fu", "Failed Login (Invalid Email/Username)", "A login was refused: no account has that email in the connection."},
	{"limit_wc", "Blocked Account", "Too many failed logins to one account from one address: logins from there are refused for a while."},
	{"ss", "Success Signup", "Someone signed up."},
	{"fs", "Failed Signup", "A sign-up was refused."},
	{"scpr", "Success Change Password Request", "A password-change mail (an invitation or a reset) was asked for and sent."},
	{"fcpr", "Failed Change Password Request", "A password-change mail was asked for and not sent."},
	{"scp", "Success Change Password", "A password was set through a link."},
	{"fcp", "Failed Change Password", "A password could not be set through a link."},
	{"sv", "Success Verification Email", "An email address was verified through its link."},
	{"sce", "Success Change Email", "An account's email address was changed."},
	{"sui", "Success Users Import", "A users import ended."},
	{"fui", "Failed Users Import", "A users import failed."},
	{"ferrt", "Failed Exchange of Rotating Refresh Token", "A refresh token already exchanged was used again: every refresh token of that login is revoked."},
	{"w", "Warning", "Something went wrong after the main step succeeded (an Action failed, for instance)."},
	{"actions_console", "Actions Console Output", "What the Actions of a trigger wrote with console.log."},
}

// describeLog names e's type and says what happened.
func describeLog(e identity.LogEvent) logRow {
	row := logRow{LogEvent: e, Name: e.Type, What: e.Description}
	for _, t := range logTypes {
		if t.Code == e.Type {
			row.Name = t.Name
			if row.What == "" {
				row.What = t.Meaning
			}
			return row
		}
	}
	if row.What == "" {
		row.What = "An event of type " + e.Type + "."
	}
	return row
}

// dateLayout is how the filter's date fields write a day (UTC).
const dateLayout = "2006-01-02"

func (d *Dashboard) logs() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		q := r.URL.Query()
		data := logsData{Type: q.Get("type"), User: strings.TrimSpace(q.Get("user")), From: q.Get("from"), To: q.Get("to"), Types: logTypes}
		lq := identity.LogQuery{PerPage: perPage, Page: pageOf(r), IncludeTotals: true}
		if data.Type != "" {
			lq.Types = []string{data.Type}
		}
		problem := ""
		if data.User != "" {
			lq.UserID = data.User
			if strings.Contains(data.User, "@") {
				users, err := d.ids.UsersByEmail(r.Context(), data.User)
				if err != nil {
					d.fail(w, err)
					return
				}
				lq.UserID = "no such user"
				if len(users) > 0 {
					lq.UserID = users[0].ID
				}
			}
		}
		for _, f := range []struct {
			text string
			dst  *time.Time
			add  int
		}{{data.From, &lq.From, 0}, {data.To, &lq.To, 1}} {
			if f.text == "" {
				continue
			}
			t, err := time.Parse(dateLayout, f.text)
			if err != nil {
				problem = "Dates are written 2024-05-31."
				continue
			}
			*f.dst = t.AddDate(0, 0, f.add).Add(-time.Duration(f.add) * time.Millisecond)
		}
		events, total, err := d.ids.Logs(r.Context(), lq)
		if err != nil {
			d.showError(w, s, err)
			return
		}
		for _, e := range events {
			data.Events = append(data.Events, describeLog(e))
		}
		data.Pager = d.newPager("/logs", q, lq.Page, len(events), total)
		status := http.StatusOK
		if problem != "" {
			status = http.StatusBadRequest
		}
		d.render(w, status, "logs", s.view("Logs", "logs", problem, data))
	})
}
