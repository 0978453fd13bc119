package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/usherid/usher/internal/identity"
)

// SMTP is where mail goes: an smtp:// (STARTTLS when offered) or smtps://
// (implicit TLS) server, with optional credentials.
type SMTP struct {
	Host     string
	Port     int
	Implicit bool // smtps://
	User     string
	Password string
	// TLS overrides the TLS settings (tests trust their own certificate).
	TLS *tls.Config
}

// ParseSMTPURL reads smtp://user:pass@host:port or smtps://….
func ParseSMTPURL(raw string) (SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return SMTP{}, fmt.Errorf("SMTP URL: want smtp://[user:pass@]host[:port] or smtps://…")
	}
	s := SMTP{Host: u.Hostname(), Implicit: u.Scheme == "smtps", Port: 587}
	if s.Implicit {
		s.Port = 465
	}
	if p := u.Port(); p != "" {
		if s.Port, err = strconv.Atoi(p); err != nil {
			return SMTP{}, fmt.Errorf("SMTP URL: bad port %q", p)
		}
	}
	if u.User != nil {
		s.User = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	return s, nil
}

// Result is what one delivery attempt of one mail came to.
type Result struct {
	Err   error  // nil: accepted by the server
	Temp  bool   // the failure is worth retrying
	Reply string // the server's reply or the reason
}

// Send delivers mails over one SMTP connection and reports a result for each.
// A failure to connect fails every mail temporarily.
func (s SMTP) Send(ctx context.Context, mails []identity.Mail) []Result {
	results := make([]Result, len(mails))
	msgs := make([]*gomail.Msg, 0, len(mails))
	index := make([]int, 0, len(mails))
	for i, m := range mails {
		msg, err := buildMsg(m)
		if err != nil {
			results[i] = Result{Err: err, Reply: err.Error()}
			continue
		}
		msgs = append(msgs, msg)
		index = append(index, i)
	}
	if len(msgs) == 0 {
		return results
	}
	client, err := s.client()
	if err != nil {
		return failAll(results, index, err, false)
	}
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.DialWithContext(dialCtx); err != nil {
		return failAll(results, index, fmt.Errorf("connect to %s: %w", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), err), true)
	}
	defer client.Close()
	sendErr := client.Send(msgs...)
	for j, msg := range msgs {
		i := index[j]
		switch {
		case msg.HasSendError():
			results[i] = Result{Err: msg.SendError(), Temp: msg.SendErrorIsTemp(), Reply: msg.SendError().Error()}
		case sendErr != nil && !msg.IsDelivered():
			results[i] = Result{Err: sendErr, Temp: true, Reply: sendErr.Error()}
		default:
			results[i] = Result{Reply: "250 accepted"}
		}
	}
	return results
}

func failAll(results []Result, index []int, err error, temp bool) []Result {
	for _, i := range index {
		results[i] = Result{Err: err, Temp: temp, Reply: err.Error()}
	}
	return results
}

func (s SMTP) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(s.Port), gomail.WithTimeout(30 * time.Second)}
	if s.Implicit {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.TLS != nil {
		opts = append(opts, gomail.WithTLSConfig(s.TLS))
	}
	if s.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.User), gomail.WithPassword(s.Password))
	}
	return gomail.NewClient(s.Host, opts...)
}

func buildMsg(m identity.Mail) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(m.From); err != nil {
		return nil, fmt.Errorf("from %q: %w", m.From, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("to %q: %w", m.To, err)
	}
	if m.MessageID == "" {
		return nil, errors.New("mail has no Message-ID")
	}
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDateWithValue(m.CreatedAt)
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return msg, nil
}
