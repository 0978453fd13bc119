package pages

import (
	"context"
	"net/http"

	"github.com/usherid/usher/internal/identity"
)

// link is a way on from a page: where and what it says.
type link struct{ URL, Label string }

// nextStep is where a person goes on from a page that is done with them
// (a password set, an email verified, a link already used), so that no
// page is a dead end: the link's result_url, else the application's login
// (its initiate_login_uri), else the tenant's default login route, else
// the dashboard for an administrator, else Usher's home page.
func (p *Pages) nextStep(ctx context.Context, clientID, resultURL string, u *identity.User) link {
	app := ""
	var client identity.Client
	if clientID != "" {
		if c, err := p.ids.Client(ctx, clientID); err == nil {
			client, app = c, c.Name
		}
	}
	name := func(verb string) string {
		if app != "" {
			return verb + " " + app
		}
		return verb + " the application"
	}
	switch {
	case resultURL != "" && identity.RedirectOK(resultURL, false):
		return link{resultURL, name("Continue to")}
	case client.InitiateLoginURI != "" && identity.RedirectOK(client.InitiateLoginURI, false):
		return link{client.InitiateLoginURI, name("Log in to")}
	}
	if tenant, err := p.ids.TenantSettings(ctx); err == nil && tenant.DefaultRedirectionURI != "" && identity.RedirectOK(tenant.DefaultRedirectionURI, false) {
		return link{tenant.DefaultRedirectionURI, "Log in"}
	}
	if u != nil && u.ID != "" {
		if admin, err := p.ids.IsAdmin(ctx, *u); err == nil && admin {
			return link{p.base + "/dashboard/", "Go to the dashboard"}
		}
	}
	return link{p.base + "/", "Go to the home page"}
}

// Home is GET /: what this server is and where to go from here, instead
// of a bare 404 for whoever opens the address.
func (p *Pages) Home() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, err := p.ids.TenantSettings(r.Context())
		if err != nil {
			p.fail(w, err)
			return
		}
		p.render(w, r, http.StatusOK, "home", view{Tenant: tenant.FriendlyName, PageTitle: tenant.FriendlyName,
			SupportEmail: tenant.SupportEmail, SupportURL: tenant.SupportURL})
	})
}
