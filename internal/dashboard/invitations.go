package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/usherid/usher/internal/identity"
)

// invitationsData is the invitations page.
type invitationsData struct {
	Status, Email string
	Invitations   []identity.Invitation
	Pager         pager
	Now           time.Time
	// Results are the outcomes of the invitations just sent, with their
	// links: only now can the links be shown.
	Results []inviteResult
	Emails  string
	// LinkLifetime is how long a new invitation's link lives.
	LinkLifetime string
}

// inviteResult is what became of one email of an invite form.
type inviteResult struct {
	Email, Link, Problem string
	Invitation           identity.Invitation
	HadAccount           bool
}

func (d *Dashboard) listInvitations(r *http.Request, data *invitationsData) error {
	page := pageOf(r)
	invs, total, err := d.ids.Invitations(r.Context(), identity.InvitationQuery{Status: data.Status, Email: data.Email,
		Page: page, PerPage: perPage, IncludeTotals: true})
	data.Invitations, data.Now = invs, d.ids.Now()
	data.Pager = d.newPager("/invitations", r.URL.Query(), page, len(invs), total)
	if err != nil {
		return err
	}
	life, err := d.ids.LinkLifetime(r.Context())
	data.LinkLifetime = lifetime(life)
	return err
}

func (d *Dashboard) invitations() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		q := r.URL.Query()
		data := invitationsData{Status: q.Get("status"), Email: strings.TrimSpace(q.Get("email"))}
		if err := d.listInvitations(r, &data); err != nil {
			d.showError(w, s, err)
			return
		}
		d.render(w, http.StatusOK, "invitations", s.view("Invitations", "invitations", "", data))
	})
}

// splitEmails reads a pasted list: emails separated by new lines, commas,
// semicolons or spaces, each once.
func splitEmails(text string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		f = strings.Trim(f, "<>\"'")
		if f != "" && !seen[strings.ToLower(f)] {
			seen[strings.ToLower(f)] = true
			out = append(out, f)
		}
	}
	return out
}

// maxInvites bounds one form; a longer list is an import.
const maxInvites = 500

// invite invites each email of the form and shows each one's link.
func (d *Dashboard) invite() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		emails := splitEmails(r.PostFormValue("emails"))
		data := invitationsData{Emails: r.PostFormValue("emails")}
		problem := ""
		switch {
		case len(emails) == 0:
			problem = "Type at least one email address."
		case len(emails) > maxInvites:
			problem = "At most 500 emails at once."
		}
		if problem != "" {
			if err := d.listInvitations(r, &data); err != nil {
				d.showError(w, s, err)
				return
			}
			d.render(w, http.StatusBadRequest, "invitations", s.view("Invitations", "invitations", problem, data))
			return
		}
		admins := r.PostFormValue("admin") == "on"
		inviter := s.user.Profile.Name
		if inviter == "" {
			inviter = s.user.Email
		}
		for _, email := range emails {
			res := inviteResult{Email: email}
			var err error
			if admins {
				var ai identity.AdminInvited
				ai, err = d.ids.InviteAdministrator(r.Context(), email)
				res.Invitation, res.Link, res.HadAccount = ai.Invitation, ai.Link, ai.HadAccount
			} else {
				var inv identity.Invited
				inv, _, err = d.ids.CreateInvitation(r.Context(), identity.InvitationRequest{Email: email, Inviter: &identity.Inviter{Name: inviter}}, "")
				res.Invitation, res.Link = inv.Invitation, inv.Link
			}
			if err != nil {
				_, msg, ok := d.problem(w, err)
				if !ok {
					return
				}
				res.Problem = msg
			}
			data.Results = append(data.Results, res)
		}
		if err := d.listInvitations(r, &data); err != nil {
			d.showError(w, s, err)
			return
		}
		data.Emails = ""
		d.render(w, http.StatusOK, "invitations", s.view("Invitations", "invitations", "", data))
	})
}

// invitationData is one invitation's page.
type invitationData struct {
	Invitation identity.Invitation
	Link       string
	Now        time.Time
}

func (d *Dashboard) invitation() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		inv, err := d.ids.Invitation(r.Context(), r.PathValue("id"))
		if err != nil {
			d.showError(w, s, err)
			return
		}
		d.render(w, http.StatusOK, "invitation", s.view("Invitation of "+inv.Email, "invitations", "", invitationData{Invitation: inv, Now: d.ids.Now()}))
	})
}

// resend mails a new link and shows it, this once.
func (d *Dashboard) resend() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		invited, err := d.ids.ResendInvitation(r.Context(), r.PathValue("id"))
		if err != nil {
			d.showError(w, s, err)
			return
		}
		s.note = ""
		v := s.view("Invitation of "+invited.Invitation.Email, "invitations", "", invitationData{Invitation: invited.Invitation, Link: invited.Link, Now: d.ids.Now()})
		v.Flash = "A new link is mailed; the old one no longer works."
		d.render(w, http.StatusOK, "invitation", v)
	})
}

func (d *Dashboard) revoke() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		id := r.PathValue("id")
		if _, err := d.ids.RevokeInvitation(r.Context(), id); err != nil {
			d.showError(w, s, err)
			return
		}
		d.redirect(w, r, "/invitations/"+url.PathEscape(id), "revoked")
	})
}
