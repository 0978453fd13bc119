package mail_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/mail/mailtest"
	"github.com/usherid/usher/internal/outbox"
)

// token is a ticket token of the real shape: 43 characters of base64url.
func token(n int) string { return fmt.Sprintf("tk%03d", n) + strings.Repeat("Ab-_9z", 6) + "xy" }

func TestComposeKeepsTheTicketApart(t *testing.T) {
	db := openStore(t)
	svc := mail.NewService(db, mail.NewEngine(), "Usher <no-reply@usher.test>", nil, nil)
	u := identity.User{ID: "auth0|1", Email: "ada@example.com", AppMetadata: map[string]any{"needsInvitation": true}}
	tok := token(1)
	m, ok, err := svc.Compose(t.Context(), "reset_email", identity.MailData{User: u, URL: "https://id.example.com/lo/reset?ticket=" + tok + "#"})
	if err != nil || !ok {
		t.Fatalf("Compose: %v, %v", ok, err)
	}
	if m.Ticket != tok || strings.Contains(fmt.Sprint(m.Subject, m.From, m.HTML, m.Text), tok) {
		t.Fatalf("composed mail: ticket %q, text %q; want the token only apart", m.Ticket, m.Text)
	}
	if want := "https://id.example.com/lo/reset?ticket=" + mail.HiddenTicket + "#type=invite"; !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
		t.Errorf("the stored texts do not show %q:\n%s", want, m.Text)
	}
	if sent := mail.WithTicket(m); !strings.Contains(sent.Text, "ticket="+tok+"#type=invite") || !strings.Contains(sent.HTML, "ticket="+tok+"#type=invite") {
		t.Errorf("the mail as sent lacks its link:\n%s", sent.Text)
	}

	// A link without a token of a ticket's shape is left alone: a short
	// "token" would be replaced wherever its letters appear.
	m, _, err = svc.Compose(t.Context(), "reset_email", identity.MailData{User: u, URL: "https://id.example.com/lo/reset?ticket=e#"})
	if err != nil || m.Ticket != "" || mail.HidesLink(m) {
		t.Errorf("a short ticket was hidden: %q, %v", m.Ticket, err)
	}
}

// TestWorkerSendsTheLinkKeepsNone: the mail sent carries its link, also
// when it goes on a retry after a failed attempt; the outbox keeps none once
// it is sent.
func TestWorkerSendsTheLinkKeepsNone(t *testing.T) {
	db := openStore(t)
	sink := mailtest.Start(t)
	sink.Refuse(true)
	var want []string
	for i := range 3 {
		tok := token(i)
		link := "https://id.example.com/lo/reset?ticket=" + tok + "#type=invite"
		html := `<p><a href="` + link + `">Accept</a></p>`
		m := mail.HideTicket(outbox.Mail{ID: fmt.Sprintf("mail_t%d", i), MessageID: fmt.Sprintf("t%d.%d@usher.test", i, time.Now().UnixNano()),
			Template: "reset_email", To: fmt.Sprintf("p%d@example.com", i), From: "Usher <no-reply@usher.test>", Subject: "Invited",
			HTML: html, Text: mail.TextOf(html), CreatedAt: time.Now()}, tok)
		if err := db.EnqueueMail(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		want = append(want, link)
	}
	startWorker(t, db, transportTo(t, sink.Addr), nil)
	eventually(t, "a failed attempt of each", all(t, db, 3, outbox.Failed))
	sink.Refuse(false)
	eventually(t, "every mail sent", all(t, db, 3, outbox.Sent))
	got := strings.Builder{}
	for _, msg := range sink.Messages() {
		got.WriteString(msg.HTML + msg.Text)
	}
	for i, link := range want {
		if !strings.Contains(got.String(), link) {
			t.Errorf("no mail sent carries %s", link)
		}
		m, err := db.Mail(t.Context(), fmt.Sprintf("mail_t%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(fmt.Sprintf("%+v", m), token(i)) {
			t.Errorf("the sent mail keeps its token: %+v", m)
		}
	}
}

// TestWorkerSendsNoDeadLink: a claimed mail whose link is already gone is
// given up, not sent.
func TestWorkerSendsNoDeadLink(t *testing.T) {
	db := openStore(t)
	sink := mailtest.Start(t)
	html := `<p><a href="https://id.example.com/lo/reset?ticket=` + mail.HiddenTicket + `#">Accept</a></p>`
	if err := db.EnqueueMail(t.Context(), outbox.Mail{ID: "mail_gone", MessageID: "gone@usher.test", Template: "reset_email",
		To: "p@example.com", From: "Usher <no-reply@usher.test>", Subject: "Invited", HTML: html, Text: mail.TextOf(html), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	queue(t, db, 2, time.Now()) // mails without a hidden link go as ever
	startWorker(t, db, transportTo(t, sink.Addr), nil)
	eventually(t, "the linkless mail given up", func() bool { return statuses(t, db)["mail_gone"].Status == outbox.Dead })
	eventually(t, "the others sent", all(t, db, 2, outbox.Sent))
	if m := statuses(t, db)["mail_gone"]; !strings.Contains(m.LastReply, "link") {
		t.Errorf("the reply does not say why: %q", m.LastReply)
	}
	for _, msg := range sink.Messages() {
		if msg.MessageID == "gone@usher.test" || strings.Contains(msg.MessageID, "gone@") {
			t.Errorf("a mail with a dead link was sent")
		}
	}
}
