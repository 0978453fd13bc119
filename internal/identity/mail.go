package identity

import (
	"context"
	"time"

	"github.com/usherid/usher/internal/outbox"
)

// MailData is what a template is rendered with.
type MailData struct {
	User       User
	URL        string
	Client     *Client
	Connection string
	Tenant     TenantSettings
	// Inviter is who invited the person, as the invitation records it
	// ("" when unknown or not an invitation).
	Inviter string
	// LinkExpires is when URL stops working (zero when there is no link).
	LinkExpires time.Time
}

// Composer renders a tenant's email template into a Mail ready for the outbox.
// ok is false when the tenant disabled the template: nothing is to be sent.
type Composer interface {
	// Settings returns the template's link settings (lifetime, result URL).
	Settings(ctx context.Context, template string) (MailSettings, error)
	Compose(ctx context.Context, template string, d MailData) (m outbox.Mail, ok bool, err error)
}
