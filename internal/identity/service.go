package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/usherid/usher/internal/cache"
	"github.com/usherid/usher/internal/errs"
)

// Service holds the identity rules: it validates what callers ask for and
// keeps users, clients, connections and tenant settings through a Store.
type Service struct {
	store        Store
	now          Clock
	mgmtAudience string
	publicURL    string
	links        Links
	composer     Composer
	checkLiquid  func(name, src string) error
	mailQueued   func()
	trigger      TriggerFunc
	passwords    *Passwords
	changes      chan passwordChange
	conns        connCache
	tenantCache  *cache.TTL[struct{}, TenantSettings]
	originCache  *cache.TTL[struct{}, origins]
}

// TriggerFunc runs the tenant's Actions bound to a trigger with Auth0's
// event object and reports what they decided.
type TriggerFunc func(ctx context.Context, trigger string, event map[string]any) (TriggerOutcome, error)

// TriggerOutcome is what Actions decided: metadata to set (a nil value
// removes a key) and, when they stopped the flow, why.
type TriggerOutcome struct {
	AppMetadata, UserMetadata map[string]any
	Denied                    string
}

// Links builds the addresses of Usher's hosted pages, which the HTTP edge
// routes: the domain hands them out in mails without knowing their paths.
type Links interface {
	// Ticket returns the page a ticket's token of kind opens.
	Ticket(kind, token string) string
}

// Options are the Service's settings and collaborators.
type Options struct {
	// PublicURL is where people reach Usher: the Management API's audience
	// and the host of mails' Message-IDs start with it.
	PublicURL string
	// Links builds the addresses of the hosted pages mails link to.
	Links Links
	// Composer renders the tenant's email templates.
	Composer Composer
	// CheckLiquid validates a Liquid template the tenant saves in its
	// settings (the classic password-reset page).
	CheckLiquid func(name, src string) error
	// MailQueued is called after a transaction that queued mail commits,
	// to wake the delivery worker. Optional.
	MailQueued func()
	// Trigger runs the pre-user-registration and post-change-password
	// Actions; nil runs none.
	Trigger TriggerFunc
	// Passwords hashes and checks passwords; nil: one with the default
	// PasswordLimits (made here, which costs one hash).
	Passwords *Passwords
	Now       Clock
}

// NewService returns a Service over store.
func NewService(store Store, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MailQueued == nil {
		o.MailQueued = func() {}
	}
	if o.Trigger == nil {
		o.Trigger = func(context.Context, string, map[string]any) (TriggerOutcome, error) { return TriggerOutcome{}, nil }
	}
	if o.Passwords == nil {
		o.Passwords = NewPasswords(PasswordLimits{})
	}
	return &Service{store: store, now: o.Now, mgmtAudience: o.PublicURL + "/api/v2/", publicURL: o.PublicURL, links: o.Links,
		composer: o.Composer, checkLiquid: o.CheckLiquid, mailQueued: o.MailQueued, trigger: o.Trigger,
		passwords: o.Passwords, changes: make(chan passwordChange, passwordChangeQueue),
		conns: newConnCache(), tenantCache: cache.New[struct{}, TenantSettings](settingsTTL, 1),
		originCache: cache.New[struct{}, origins](settingsTTL, 1)}
}

// Now is the time on the service's clock (Options.Now), by which tickets,
// invitations and jobs expire: what the layers that show them read too.
func (s *Service) Now() time.Time { return s.now() }

// PasswordStats says what the password hashing did so far, for /metrics.
func (s *Service) PasswordStats() PasswordStats { return s.passwords.Stats() }

// ManagementAudience is the audience Management API tokens carry.
func (s *Service) ManagementAudience() string { return s.mgmtAudience }

// CanonicalAudience maps the Management API audience in either its https://
// or http:// spelling to the canonical one; other audiences are returned as is.
func (s *Service) CanonicalAudience(aud string) string {
	strip := func(u string) string {
		u = strings.TrimPrefix(u, "https://")
		return strings.TrimPrefix(u, "http://")
	}
	if strings.HasPrefix(aud, "http") && strip(aud) == strip(s.mgmtAudience) {
		return s.mgmtAudience
	}
	return aud
}

// TenantSettings returns the tenant's settings.
func (s *Service) TenantSettings(ctx context.Context) (TenantSettings, error) {
	return s.store.TenantSettings(ctx)
}

// tenant returns the tenant's settings from a cache: every mail and every
// invitation needs them, and they change rarely.
func (s *Service) tenant(ctx context.Context) (TenantSettings, error) {
	return s.tenantCache.Get(struct{}{}, s.now(), func() (TenantSettings, error) { return s.store.TenantSettings(ctx) })
}

// UpdateTenantSettings replaces the top-level settings named in p.
func (s *Service) UpdateTenantSettings(ctx context.Context, p Patch) (TenantSettings, error) {
	if err := p.sessionMinutes(); err != nil {
		return TenantSettings{}, err
	}
	var out TenantSettings
	defer s.tenantCache.Forget()
	err := s.store.Atomic(ctx, func(st Store) error {
		cur, err := st.TenantSettings(ctx)
		if err != nil {
			return err
		}
		if err := p.apply(&cur); err != nil {
			return err
		}
		if err := cur.validate(); err != nil {
			return err
		}
		if err := s.checkPages(cur); err != nil {
			return err
		}
		if cur.DefaultDirectory != "" {
			if _, err := st.ConnectionByName(ctx, cur.DefaultDirectory); errors.Is(err, errs.ErrNotFound) {
				return errs.Invalid("invalid_body", "The connection %q set as default_directory does not exist.", cur.DefaultDirectory)
			}
		}
		out = cur
		return st.SaveTenantSettings(ctx, cur)
	})
	return out, err
}

// checkPages validates every page template the settings hold as Liquid
// (the classic password-reset, MFA and error pages): each is refused when
// saved rather than failing, or reading anything, when shown.
func (s *Service) checkPages(t TenantSettings) error {
	if s.checkLiquid == nil {
		return nil
	}
	type page struct{ property, html string }
	var pages []page
	if p := t.ChangePassword; p != nil {
		pages = append(pages, page{"change_password", p.HTML})
	}
	if p := t.GuardianMFAPage; p != nil {
		pages = append(pages, page{"guardian_mfa_page", p.HTML})
	}
	if p := t.ErrorPage; p != nil {
		pages = append(pages, page{"error_page", p.HTML})
	}
	for _, p := range pages {
		if p.html == "" {
			continue
		}
		if err := s.checkLiquid(p.property, p.html); err != nil {
			return errs.Invalid("invalid_template", "%s.html is not valid Liquid: %v", p.property, err)
		}
	}
	return nil
}

// Bootstrap says which Management API client to make sure of at start.
type Bootstrap struct {
	ClientID, ClientSecret string // both empty: make one at first start
}

// BootstrapResult tells what Bootstrap made. ClientSecret is set only when
// Usher generated the client just now, so it can be shown once.
type BootstrapResult struct {
	ClientID, ClientSecret string
}

const (
	settingInitialized     = "tenant_initialized"
	settingBootstrapClient = "bootstrap_client_id"
)

// BootstrapClientID returns the id of the Management API client made at the
// first start (or named by USHER_BOOTSTRAP_CLIENT_ID at the last one).
func (s *Service) BootstrapClientID(ctx context.Context) (string, error) {
	id, err := s.store.Setting(ctx, settingBootstrapClient)
	if errors.Is(err, errs.ErrNotFound) {
		return "", errs.NotFound("inexistent_client", "There is no Management API client yet: start usher serve once to make it.")
	}
	return id, err
}

// Bootstrap creates the tenant's defaults on first start (settings, the
// database connection) and makes sure the bootstrap client exists and holds
// every Management API scope. It is safe to run at every start and from
// several instances at once.
func (s *Service) Bootstrap(ctx context.Context, b Bootstrap) (BootstrapResult, error) {
	var res BootstrapResult
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		res, err = s.bootstrapOnce(ctx, b)
		if !errors.Is(err, errs.ErrDuplicate) {
			break
		}
		// Another instance bootstrapped at the same moment: read what it made.
	}
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("bootstrap: %w", err)
	}
	return res, nil
}

func (s *Service) bootstrapOnce(ctx context.Context, b Bootstrap) (BootstrapResult, error) {
	var res BootstrapResult
	defer s.tenantCache.Forget()
	defer s.conns.forget()
	err := s.store.Atomic(ctx, func(st Store) error {
		now := s.now()
		if _, err := st.Setting(ctx, settingInitialized); errors.Is(err, errs.ErrNotFound) {
			if err := st.SaveTenantSettings(ctx, DefaultTenantSettings()); err != nil {
				return err
			}
			conn := Connection{ID: NewConnectionID(), Name: DefaultConnection, Strategy: "auth0", Options: DefaultConnectionOptions(), CreatedAt: now}
			conn.normalize()
			if err := st.CreateConnection(ctx, conn); err != nil {
				return err
			}
			if err := st.PutSetting(ctx, settingInitialized, now.UTC().Format(time.RFC3339)); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}

		id, secret := b.ClientID, b.ClientSecret
		if id == "" {
			stored, err := st.Setting(ctx, settingBootstrapClient)
			if err != nil && !errors.Is(err, errs.ErrNotFound) {
				return err
			}
			if _, cerr := st.Client(ctx, stored); stored != "" && cerr == nil {
				id = stored
			} else {
				id, secret = NewClientID(), NewClientSecret()
				res.ClientSecret = secret
			}
		}
		res.ClientID = id
		c, err := st.Client(ctx, id)
		switch {
		case errors.Is(err, errs.ErrNotFound):
			c = Client{ClientID: id, Name: "Usher Management API (bootstrap)", AppType: "non_interactive", IsFirstParty: true, OIDCConformant: true, CreatedAt: now}
			c.normalize()
			c.SecretHash = hashSecret(secret)
			if err := st.CreateClient(ctx, c); err != nil {
				return err
			}
		case err != nil:
			return err
		case secret != "" && !c.CheckSecret(secret):
			c.SecretHash = hashSecret(secret)
			if err := st.UpdateClient(ctx, c); err != nil {
				return err
			}
		}
		if err := st.PutSetting(ctx, settingBootstrapClient, id); err != nil {
			return err
		}
		return s.grantAllScopes(ctx, st, id, now)
	})
	return res, err
}

func (s *Service) grantAllScopes(ctx context.Context, st ClientStore, clientID string, now time.Time) error {
	grants, err := st.ClientGrants(ctx)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if g.ClientID == clientID && g.Audience == s.mgmtAudience {
			g.Scope = ManagementScopes()
			return st.UpdateClientGrant(ctx, g)
		}
	}
	return st.CreateClientGrant(ctx, ClientGrant{ID: NewGrantID(), ClientID: clientID, Audience: s.mgmtAudience, Scope: ManagementScopes(), CreatedAt: now})
}
