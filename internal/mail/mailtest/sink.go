// Package mailtest is a real SMTP server for tests: it speaks SMTP over
// loopback (github.com/emersion/go-smtp) and keeps what it receives.
package mailtest

import (
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is a mail the sink accepted.
type Message struct {
	From      string
	To        []string
	Subject   string
	MessageID string
	Text      string
	HTML      string
	Raw       string
}

// Sink is an SMTP server on 127.0.0.1 that accepts every mail, or refuses
// them with a temporary error while Refuse is on.
type Sink struct {
	Addr string

	mu       sync.Mutex
	messages []Message
	refuse   bool
	reject   bool          // Reject: permanent failures
	delay    time.Duration // Delay: how long a kept mail waits for its answer
	server   *smtp.Server
	ln       net.Listener // closed by Stop itself: Serve may not have registered it yet
	arrived  chan struct{}
}

// Start runs a sink on a free port until the test ends.
func Start(t testing.TB) *Sink {
	t.Helper()
	s := &Sink{arrived: make(chan struct{}, 1)}
	if err := s.listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func (s *Sink) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{sink: s}, nil }))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.mu.Lock()
	s.Addr, s.server, s.ln = ln.Addr().String(), srv, ln
	s.mu.Unlock()
	go srv.Serve(ln)
	return nil
}

// URL is the sink as USHER_SMTP_URL.
func (s *Sink) URL() string { return "smtp://" + s.Addr }

// Stop shuts the server down: connections are refused until Restart.
func (s *Sink) Stop() {
	s.mu.Lock()
	srv, ln := s.server, s.ln
	s.server, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
		ln.Close()
	}
}

// Restart serves again on the same address.
func (s *Sink) Restart(t testing.TB) {
	t.Helper()
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly after Stop
		if err = s.listen(s.Addr); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("restart sink: %v", err)
}

// Refuse makes the sink answer every mail with a temporary failure (451).
func (s *Sink) Refuse(on bool) {
	s.mu.Lock()
	s.refuse = on
	s.mu.Unlock()
}

// Reject makes the sink refuse every recipient permanently (550 5.1.1), as
// a server does for an address that does not exist.
func (s *Sink) Reject(on bool) {
	s.mu.Lock()
	s.reject = on
	s.mu.Unlock()
}

// Delay makes the sink keep each mail at once but answer its DATA only d
// later, like a slow server that has already queued the mail. A client that
// dies in that window has delivered a mail without knowing it.
func (s *Sink) Delay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// Messages returns what arrived so far.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait waits until at least n mails arrived and returns them.
func (s *Sink) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := s.Messages(); len(got) >= n {
			return got
		}
		select {
		case <-s.arrived:
		case <-deadline:
			t.Fatalf("waited %v for %d mails, %d arrived", timeout, n, len(s.Messages()))
		}
	}
}

type session struct {
	sink *Sink
	from string
	to   []string
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.sink.mu.Lock()
	refuse := ss.sink.refuse
	ss.sink.mu.Unlock()
	if refuse {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.sink.mu.Lock()
	reject := ss.sink.reject
	ss.sink.mu.Unlock()
	if reject {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := parse(string(raw))
	m.From, m.To = ss.from, ss.to
	ss.sink.mu.Lock()
	ss.sink.messages = append(ss.sink.messages, m)
	delay := ss.sink.delay
	ss.sink.mu.Unlock()
	select {
	case ss.sink.arrived <- struct{}{}:
	default:
	}
	time.Sleep(delay)
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// parse reads the headers and the text and HTML parts of a mail.
func parse(raw string) Message {
	m := Message{Raw: raw}
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return m
	}
	dec := new(mime.WordDecoder)
	m.Subject, _ = dec.DecodeHeader(msg.Header.Get("Subject"))
	m.MessageID = strings.Trim(msg.Header.Get("Message-Id"), "<>")
	mediaType, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if !strings.HasPrefix(mediaType, "multipart/") {
		body, _ := io.ReadAll(msg.Body)
		m.Text = string(body)
		return m
	}
	walk(multipart.NewReader(msg.Body, params["boundary"]), &m)
	return m
}

func walk(mr *multipart.Reader, m *Message) {
	for {
		p, err := mr.NextPart()
		if err != nil {
			return
		}
		mediaType, params, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch {
		case strings.HasPrefix(mediaType, "multipart/"):
			walk(multipart.NewReader(p, params["boundary"]), m)
		case mediaType == "text/plain":
			b, _ := io.ReadAll(p)
			m.Text = string(b)
		case mediaType == "text/html":
			b, _ := io.ReadAll(p)
			m.HTML = string(b)
		}
	}
}
