package api

import (
	"net/http"
	"time"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/web"
)

// invitationJSON is an invitation as Usher's API shows it.
type invitationJSON struct {
	ID            string             `json:"id"`
	Email         string             `json:"email"`
	UserID        string             `json:"user_id"`
	Status        string             `json:"status"`
	InvitationURL string             `json:"invitation_url,omitempty"`
	ConnectionID  string             `json:"connection_id"`
	ClientID      string             `json:"client_id,omitempty"`
	Inviter       *identity.Inviter  `json:"inviter,omitempty"`
	Source        string             `json:"source"` // usher, or password_change: Auth0's recipe
	ResultURL     string             `json:"result_url,omitempty"`
	CreatedAt     string             `json:"created_at"`
	ExpiresAt     string             `json:"expires_at"`
	AcceptedAt    string             `json:"accepted_at,omitempty"`
	RevokedAt     string             `json:"revoked_at,omitempty"`
	History       []invitationStepJS `json:"history,omitempty"`
}

type invitationStepJS struct {
	At         string `json:"at"`
	Type       string `json:"type"`
	MailID     string `json:"mail_id,omitempty"`
	MailStatus string `json:"mail_status,omitempty"`
	MailReply  string `json:"mail_reply,omitempty"`
}

func toInvitationJSON(inv identity.Invitation, link string, now time.Time) invitationJSON {
	j := invitationJSON{ID: inv.ID, Email: inv.Email, UserID: inv.UserID, Status: inv.Status(now), InvitationURL: link,
		ConnectionID: inv.ConnectionID, ClientID: inv.ClientID, ResultURL: inv.ResultURL, Source: inv.Source,
		CreatedAt: formatTime(inv.CreatedAt), ExpiresAt: formatTime(inv.ExpiresAt), AcceptedAt: formatTime(inv.AcceptedAt), RevokedAt: formatTime(inv.RevokedAt)}
	if inv.InviterName != "" {
		j.Inviter = &identity.Inviter{Name: inv.InviterName}
	}
	for _, e := range inv.Events {
		j.History = append(j.History, invitationStepJS{At: formatTime(e.At), Type: e.Type, MailID: e.MailID, MailStatus: e.MailStatus, MailReply: e.MailReply})
	}
	return j
}

func handleCreateInvitation(ids *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in identity.InvitationRequest
		key, err := idempotencyKey(r)
		if err == nil {
			err = readJSON(w, r, &in)
		}
		if err != nil {
			mgmtError(w, err)
			return
		}
		invited, created, err := ids.CreateInvitation(r.Context(), in, key)
		if err != nil {
			mgmtError(w, err)
			return
		}
		status := http.StatusCreated
		if !created {
			status = http.StatusOK // a retry with the same Idempotency-Key
		}
		web.WriteJSON(w, status, toInvitationJSON(invited.Invitation, invited.Link, ids.Now()))
	})
}

func handleGetInvitation(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		inv, err := ids.Invitation(r.Context(), r.PathValue("id"))
		return toInvitationJSON(inv, "", ids.Now()), err
	})
}

func handleListInvitations(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		pg, err := readPaging(r, 50)
		if err != nil {
			return nil, err
		}
		invs, total, err := ids.Invitations(r.Context(), identity.InvitationQuery{Status: r.URL.Query().Get("status"), Email: r.URL.Query().Get("email"),
			Page: pg.Page, PerPage: pg.PerPage, IncludeTotals: true})
		if err != nil {
			return nil, err
		}
		now := ids.Now()
		return map[string]any{"start": pg.Page * pg.PerPage, "limit": pg.PerPage, "total": total,
			"invitations": toAny(invs, func(inv identity.Invitation) any { return toInvitationJSON(inv, "", now) })}, nil
	})
}

func handleResendInvitation(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		invited, err := ids.ResendInvitation(r.Context(), r.PathValue("id"))
		return toInvitationJSON(invited.Invitation, invited.Link, ids.Now()), err
	})
}

func handleRevokeInvitation(ids *identity.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		inv, err := ids.RevokeInvitation(r.Context(), r.PathValue("id"))
		return toInvitationJSON(inv, "", ids.Now()), err
	})
}
