package api

import (
	"net/http"
	"time"

	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/outbox"
)

func handleCreateEmailTemplate(ms *mail.Service) http.Handler {
	// Auth0 answers 200 here, not 201.
	return withBody(http.StatusOK, func(r *http.Request, t mail.Template) (any, error) {
		return ms.CreateTemplate(r.Context(), t)
	})
}

func handleGetEmailTemplate(ms *mail.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		t, err := ms.Template(r.Context(), r.PathValue("name"))
		return selection(r).apply(t), err
	})
}

func handleReplaceEmailTemplate(ms *mail.Service) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, t mail.Template) (any, error) {
		return ms.ReplaceTemplate(r.Context(), r.PathValue("name"), t)
	})
}

func handleUpdateEmailTemplate(ms *mail.Service) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, p mail.TemplatePatch) (any, error) {
		return ms.UpdateTemplate(r.Context(), r.PathValue("name"), p)
	})
}

// providerJSON shows the email provider as Auth0 does: name and enabled, and
// other properties only when fields asks for them; never the SMTP password.
func providerJSON(r *http.Request, p mail.Provider) any {
	if p.Credentials != nil {
		c := *p.Credentials
		c.SMTPPass = ""
		p.Credentials = &c
	}
	if r.Method == http.MethodGet && r.URL.Query().Get("fields") == "" {
		return map[string]any{"name": p.Name, "enabled": p.Enabled}
	}
	return selection(r).apply(p)
}

func handleGetEmailProvider(ms *mail.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		p, err := ms.EmailProvider(r.Context())
		return providerJSON(r, p), err
	})
}

func handleCreateEmailProvider(ms *mail.Service) http.Handler {
	return withBody(http.StatusCreated, func(r *http.Request, p mail.Provider) (any, error) {
		p, err := ms.CreateEmailProvider(r.Context(), p)
		return providerJSON(r, p), err
	})
}

func handleUpdateEmailProvider(ms *mail.Service) http.Handler {
	return withBody(http.StatusOK, func(r *http.Request, p mail.Provider) (any, error) {
		p, err := ms.UpdateEmailProvider(r.Context(), p)
		return providerJSON(r, p), err
	})
}

func handleDeleteEmailProvider(ms *mail.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ms.DeleteEmailProvider(r.Context()); err != nil {
			mgmtError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// mailJSON is a mail of the outbox as Usher's outbox endpoint shows it.
type mailJSON struct {
	ID          string        `json:"id"`
	MessageID   string        `json:"message_id"`
	Template    string        `json:"template"`
	UserID      string        `json:"user_id,omitempty"`
	To          string        `json:"to"`
	From        string        `json:"from"`
	Subject     string        `json:"subject"`
	Status      string        `json:"status"`
	Attempts    int           `json:"attempts"`
	LastReply   string        `json:"last_reply,omitempty"`
	NextAttempt string        `json:"next_attempt,omitempty"`
	CreatedAt   string        `json:"created_at"`
	SentAt      string        `json:"sent_at,omitempty"`
	HTML        string        `json:"html,omitempty"`
	Text        string        `json:"text,omitempty"`
	History     []attemptJSON `json:"history,omitempty"`
}

type attemptJSON struct {
	At     string `json:"at"`
	Status string `json:"status"`
	Reply  string `json:"reply"`
}

func toMailJSON(m outbox.Mail) mailJSON {
	j := mailJSON{ID: m.ID, MessageID: m.MessageID, Template: m.Template, UserID: m.UserID, To: m.To, From: m.From,
		Subject: m.Subject, Status: m.Status, Attempts: m.Attempts, LastReply: m.LastReply,
		CreatedAt: formatTime(m.CreatedAt), SentAt: formatTime(m.SentAt)}
	if m.Status == outbox.Queued || m.Status == outbox.Failed {
		j.NextAttempt = formatTime(m.NextAttempt)
	}
	return j
}

func handleListOutbox(ms *mail.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		pg, err := readPaging(r, 50)
		if err != nil {
			return nil, err
		}
		q := r.URL.Query()
		mails, total, err := ms.Outbox(r.Context(), mail.Query{Status: q.Get("status"), To: q.Get("to"), Page: pg.Page, PerPage: pg.PerPage})
		if err != nil {
			return nil, err
		}
		return map[string]any{"start": pg.Page * pg.PerPage, "limit": pg.PerPage, "total": total,
			"mails": toAny(mails, func(m outbox.Mail) any { return toMailJSON(m) })}, nil
	})
}

func handleGetOutboxMail(ms *mail.Service) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		m, attempts, err := ms.OutboxMail(r.Context(), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		j := toMailJSON(m)
		j.HTML, j.Text = m.HTML, m.Text
		for _, a := range attempts {
			j.History = append(j.History, attemptJSON{At: a.At.UTC().Format(time.RFC3339Nano), Status: a.Status, Reply: a.Reply})
		}
		return j, nil
	})
}

func handleRetryOutboxMail(ms *mail.Service, wake func()) http.Handler {
	return respond(func(r *http.Request) (any, error) {
		if err := ms.RetryMail(r.Context(), r.PathValue("id")); err != nil {
			return nil, err
		}
		wake()
		m, _, err := ms.OutboxMail(r.Context(), r.PathValue("id"))
		return toMailJSON(m), err
	})
}
