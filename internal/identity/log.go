package identity

import "time"

// LogEvent is an entry of the tenant log, with Auth0's event type codes
// (scpr: change-password mail sent, scp: password changed, …).
type LogEvent struct {
	ID          string         `json:"log_id"`
	Date        time.Time      `json:"-"`
	Type        string         `json:"type"`
	Description string         `json:"description,omitempty"`
	ClientID    string         `json:"client_id,omitempty"`
	ClientName  string         `json:"client_name,omitempty"`
	IP          string         `json:"ip,omitempty"`
	UserAgent   string         `json:"user_agent,omitempty"`
	UserID      string         `json:"user_id,omitempty"`
	UserName    string         `json:"user_name,omitempty"`
	Connection  string         `json:"connection,omitempty"`
	Details     map[string]any `json:"details,omitempty"`
}

// LogQuery selects tenant log events, newest first unless Ascending.
type LogQuery struct {
	Types         []string
	UserID        string
	From, To      time.Time
	Page, PerPage int
	IncludeTotals bool
	Ascending     bool
}

// NewLogID returns a sortable, unique id for a log event written at now.
func NewLogID(now time.Time) string {
	return "log_" + now.UTC().Format("20060102150405") + randomAlnum(12)
}

// Requester is who asked for something, for the log: an address and a browser.
type Requester struct {
	IP        string
	UserAgent string
}
