package api

import "github.com/usherid/usher/internal/identity"

// Links builds the addresses of the hosted pages routes.go serves that
// leave Usher in mails: the domain is handed one and never spells a path.
type Links struct {
	// Base is where people reach Usher, without a trailing slash.
	Base string
}

// Ticket returns the page a ticket's token opens. Like Auth0's, the link
// ends in "#", so text a template appends ("type=invite") lands in the
// fragment and never reaches the server.
func (l Links) Ticket(kind, token string) string {
	path := "/lo/reset"
	if kind == identity.TicketEmailVerification {
		path = "/u/email-verification"
	}
	return l.Base + path + "?ticket=" + token + "#"
}
