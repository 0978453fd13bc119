package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"time"

	"github.com/usherid/usher/internal/outbox"
	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
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
// A failure to connect fails every mail temporarily; so does a mail SendEach
// did not get to.
func (s SMTP) Send(ctx context.Context, mails []outbox.Mail) []Result {
	results := make([]Result, len(mails))
	for i := range results {
		results[i] = Result{Err: errNotTried, Temp: true, Reply: errNotTried.Error()}
	}
	s.SendEach(ctx, mails, func(i int, r Result) { results[i] = r })
	return results
}

var errNotTried = errors.New("not tried: the batch ran out of time")

// SendEach delivers mails in order over one SMTP connection, calling done
// with each mail's result as soon as the server has answered for it, so that
// the caller can record a delivery while the next mail is on its way.
//
// It starts no new mail once ctx is done: the mails it did not get to have no
// result. A failure to connect fails every mail temporarily. When the server
// hangs up after at least one mail (some servers cap mails per connection)
// it connects again for the rest; a connection lost before any mail fails
// the rest temporarily.
//
// When the server offers PIPELINING (RFC 2920), MAIL, RCPT and DATA go out in
// one write, so a mail costs two round trips: the envelope, then the message.
func (s SMTP) SendEach(ctx context.Context, mails []outbox.Mail, done func(i int, r Result)) {
	todo := make([]envelope, 0, len(mails))
	for i, m := range mails {
		e, err := prepare(m)
		if err != nil {
			done(i, Result{Err: err, Reply: err.Error()}) // a mail that cannot be built never will be
			continue
		}
		e.i = i
		todo = append(todo, e)
	}
	for len(todo) > 0 && ctx.Err() == nil {
		sess, err := s.dial(ctx)
		if err != nil {
			for _, p := range todo {
				done(p.i, Result{Err: err, Temp: true, Reply: err.Error()})
			}
			return
		}
		progress := 0
		for len(todo) > 0 && ctx.Err() == nil {
			p := todo[0]
			r, broken := sess.deliver(p.from, p.rcpts, p.msg)
			if broken && !r.answered {
				// Lost before the server answered for this mail: it goes
				// again on the next connection (see deliver for the case
				// where the server may have kept it).
				break
			}
			done(p.i, r.Result)
			todo, progress = todo[1:], progress+1
			if broken {
				break
			}
		}
		sess.close()
		if len(todo) > 0 && progress == 0 && ctx.Err() == nil {
			err := fmt.Errorf("connection to %s lost: %w", s.addr(), sess.lost)
			for _, p := range todo {
				done(p.i, Result{Err: err, Temp: true, Reply: err.Error()})
			}
			return
		}
	}
}

func (s SMTP) addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// smtpTimeout bounds each exchange with the server.
const smtpTimeout = 30 * time.Second

// session is one SMTP connection, greeted, secured and authenticated.
type session struct {
	c          *gosmtp.Client
	text       *textproto.Conn
	pipelining bool
	params     string // MAIL FROM parameters
	lost       error  // why the connection broke
}

func (s SMTP) dial(ctx context.Context) (*session, error) {
	client, err := s.client()
	if err != nil {
		return nil, err
	}
	dialCtx, cancel := context.WithTimeout(ctx, smtpTimeout)
	defer cancel()
	c, err := client.DialToSMTPClientWithContext(dialCtx)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", s.addr(), err)
	}
	sess := &session{c: c, text: c.Text}
	sess.pipelining, _ = c.Extension("PIPELINING")
	// As go-mail's own client does.
	if ok, _ := c.Extension("8BITMIME"); ok {
		sess.params += " BODY=8BITMIME"
	}
	if ok, _ := c.Extension("SMTPUTF8"); ok {
		sess.params += " SMTPUTF8"
	}
	return sess, nil
}

// outcome is a mail's Result, and whether the server answered for the mail
// at all.
type outcome struct {
	Result
	answered bool
}

// deliver sends one mail. broken reports that the connection cannot be used
// any more.
func (ss *session) deliver(from string, rcpts []string, msg *gomail.Msg) (o outcome, broken bool) {
	if err := ss.c.UpdateDeadline(smtpTimeout); err != nil {
		return ss.broke(err)
	}
	cmds := append(append([]string{"MAIL FROM:" + from + ss.params}, prefixed("RCPT TO:", rcpts)...), "DATA")
	expect := make([]int, len(cmds))
	for i := range expect {
		expect[i] = 25 // 250, or 251 for a forwarded recipient
	}
	expect[len(cmds)-1] = 354
	// The envelope: every command, then every reply (RFC 2920), or one by one.
	var refused error
	dataOpen := false
	if ss.pipelining {
		for _, cmd := range cmds {
			ss.text.W.WriteString(cmd + "\r\n")
		}
		if err := ss.text.W.Flush(); err != nil {
			return ss.broke(err)
		}
	}
	for i, cmd := range cmds {
		if !ss.pipelining {
			if refused != nil {
				break
			}
			if err := ss.text.PrintfLine("%s", cmd); err != nil {
				return ss.broke(err)
			}
		}
		_, _, err := ss.text.ReadResponse(expect[i])
		var reply *textproto.Error
		switch {
		case err == nil && i == len(cmds)-1:
			dataOpen = true
		case err == nil:
		case errors.As(err, &reply):
			if refused == nil {
				refused = err
			}
		case refused != nil:
			return ss.brokeWith(refused, err)
		default:
			return ss.broke(err)
		}
	}
	if refused != nil {
		if dataOpen {
			// DATA was accepted although the envelope was not: end it empty.
			if err := ss.text.DotWriter().Close(); err != nil {
				return ss.brokeWith(refused, err)
			}
			ss.text.ReadResponse(250)
		}
		o = outcome{Result: failure(refused), answered: true}
		if _, _, err := ss.cmd("RSET", 250); err != nil {
			ss.lost = err
			return o, true
		}
		return o, false
	}
	// The message, then the server's verdict on it.
	w := ss.text.DotWriter()
	if _, err := msg.WriteTo(w); err != nil {
		return ss.broke(err)
	}
	if err := w.Close(); err != nil {
		return ss.broke(err)
	}
	code, text, err := ss.text.ReadResponse(250)
	var reply *textproto.Error
	switch {
	case err == nil:
		return outcome{Result: Result{Reply: fmt.Sprintf("%d %s", code, text)}, answered: true}, false
	case errors.As(err, &reply):
		// The transaction ended refused; some servers (Mailpit while it
		// stops) then answer the next MAIL 503 until they see an RSET.
		o = outcome{Result: failure(err), answered: true}
		if _, _, err := ss.cmd("RSET", 250); err != nil {
			ss.lost = err
			return o, true
		}
		return o, false
	}
	// Lost while waiting for the verdict: the server may have kept the mail.
	// Reporting it as not delivered means it will be sent again; that is the
	// at-least-once window, and the Message-ID stays the same so that a
	// receiver can drop the duplicate.
	return ss.broke(err)
}

func (ss *session) cmd(cmd string, expect int) (int, string, error) {
	if err := ss.text.PrintfLine("%s", cmd); err != nil {
		return 0, "", err
	}
	return ss.text.ReadResponse(expect)
}

// broke reports a mail not delivered because the connection failed.
func (ss *session) broke(err error) (outcome, bool) {
	ss.lost = err
	return outcome{Result: Result{Err: err, Temp: true, Reply: err.Error()}}, true
}

// brokeWith reports the server's refusal of a mail on a connection that then failed.
func (ss *session) brokeWith(refused, err error) (outcome, bool) {
	ss.lost = err
	return outcome{Result: failure(refused), answered: true}, true
}

func (ss *session) close() {
	if ss.lost != nil {
		ss.c.Close()
		return
	}
	ss.c.Quit()
}

func prefixed(prefix string, list []string) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = prefix + v
	}
	return out
}

// failure is the Result of a server's reply other than success. Only the
// replies that refuse the message itself (RFC 5321: no such mailbox, not
// accepted, too big, name not allowed, transaction failed, domain takes no
// mail) are permanent. Anything else is worth retrying: a 4xx, a lost
// connection, and the 5xx replies about the conversation rather than the
// mail (500-504 syntax and sequence, 530/535 authentication, 555
// parameters), which a fix on either side ends.
func failure(err error) Result {
	var reply *textproto.Error
	permanent := errors.As(err, &reply) && refusesMessage[reply.Code]
	return Result{Err: err, Temp: !permanent, Reply: err.Error()}
}

var refusesMessage = map[int]bool{521: true, 550: true, 551: true, 552: true, 553: true, 554: true, 556: true}

func (s SMTP) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(s.Port), gomail.WithTimeout(smtpTimeout)}
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

// envelope is a built mail, its SMTP envelope, and its place in the batch.
type envelope struct {
	i     int
	msg   *gomail.Msg
	from  string
	rcpts []string
}

func prepare(m outbox.Mail) (envelope, error) {
	msg, err := buildMsg(m)
	if err != nil {
		return envelope{}, err
	}
	from, err := msg.GetSender(false)
	if err != nil {
		return envelope{}, err
	}
	rcpts, err := msg.GetRecipients()
	if err != nil {
		return envelope{}, err
	}
	return envelope{msg: msg, from: from, rcpts: rcpts}, nil
}

func buildMsg(m outbox.Mail) (*gomail.Msg, error) {
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
