package identity

import (
	"context"
	"errors"
	"sort"

	"github.com/usherid/usher/internal/errs"
)

var errNoClient = errs.NotFound("inexistent_client", "The client does not exist.")

// CreateClient makes a client from the properties in p and returns it with
// its secret, which is stored only as a hash and never shown again.
func (s *Service) CreateClient(ctx context.Context, p Patch) (Client, string, error) {
	// Auth0 makes new clients first-party and OIDC-conformant unless told otherwise.
	c := Client{IsFirstParty: true, OIDCConformant: true}
	if err := p.apply(&c, "client_id"); err != nil {
		return Client{}, "", err
	}
	if err := c.normalize(); err != nil {
		return Client{}, "", err
	}
	secret := NewClientSecret()
	c.ClientID, c.SecretHash, c.CreatedAt = NewClientID(), hashSecret(secret), s.now().UTC()
	if err := s.store.CreateClient(ctx, c); err != nil {
		return Client{}, "", err
	}
	s.originCache.Forget()
	return c, secret, nil
}

// Client returns the client with id.
func (s *Service) Client(ctx context.Context, id string) (Client, error) {
	c, err := s.store.Client(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Client{}, errNoClient
	}
	return c, err
}

// Clients returns every client, oldest first.
func (s *Service) Clients(ctx context.Context) ([]Client, error) {
	cs, err := s.store.Clients(ctx)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].CreatedAt.Before(cs[j].CreatedAt) })
	return cs, err
}

// UpdateClient replaces the top-level properties named in p.
func (s *Service) UpdateClient(ctx context.Context, id string, p Patch) (Client, error) {
	var out Client
	err := s.store.Atomic(ctx, func(st Store) error {
		c, err := st.Client(ctx, id)
		if errors.Is(err, errs.ErrNotFound) {
			return errNoClient
		} else if err != nil {
			return err
		}
		hash, created := c.SecretHash, c.CreatedAt
		if err := p.apply(&c, "client_id"); err != nil {
			return err
		}
		if err := c.normalize(); err != nil {
			return err
		}
		c.SecretHash, c.CreatedAt = hash, created
		out = c
		return st.UpdateClient(ctx, c)
	})
	s.originCache.Forget()
	return out, err
}

// RotateClientSecret gives the client a new secret; the old one stops working at once.
func (s *Service) RotateClientSecret(ctx context.Context, id string) (Client, string, error) {
	secret := NewClientSecret()
	var out Client
	err := s.store.Atomic(ctx, func(st Store) error {
		c, err := st.Client(ctx, id)
		if errors.Is(err, errs.ErrNotFound) {
			return errNoClient
		} else if err != nil {
			return err
		}
		c.SecretHash = hashSecret(secret)
		out = c
		return st.UpdateClient(ctx, c)
	})
	return out, secret, err
}

// DeleteClient removes a client and its grants.
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	if err := s.store.DeleteClient(ctx, id); err != nil && !errors.Is(err, errs.ErrNotFound) {
		return err
	}
	s.originCache.Forget()
	return nil
}

// AuthenticateClient returns the client when secret is its secret.
func (s *Service) AuthenticateClient(ctx context.Context, id, secret string) (Client, bool, error) {
	c, err := s.store.Client(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Client{}, false, nil
	} else if err != nil {
		return Client{}, false, err
	}
	return c, c.CheckSecret(secret), nil
}

// NewClientGrant is the body of POST /api/v2/client-grants.
type NewClientGrant struct {
	ClientID             string   `json:"client_id"`
	Audience             string   `json:"audience"`
	Scope                []string `json:"scope"`
	OrganizationUsage    string   `json:"organization_usage,omitempty"`
	AllowAnyOrganization bool     `json:"allow_any_organization,omitempty"`
}

// CreateClientGrant lets a client obtain Management API tokens with some scopes.
func (s *Service) CreateClientGrant(ctx context.Context, in NewClientGrant) (ClientGrant, error) {
	switch {
	case in.ClientID == "":
		return ClientGrant{}, errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: client_id'.")
	case in.Audience == "":
		return ClientGrant{}, errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: audience'.")
	case in.Scope == nil:
		return ClientGrant{}, errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: scope'.")
	}
	aud := s.CanonicalAudience(in.Audience)
	if aud != s.mgmtAudience {
		return ClientGrant{}, errs.NotFound("inexistent_resource_server", "No resource server found for audience "+in.Audience)
	}
	if err := checkScopes(in.Scope); err != nil {
		return ClientGrant{}, err
	}
	if _, err := s.store.Client(ctx, in.ClientID); errors.Is(err, errs.ErrNotFound) {
		return ClientGrant{}, errs.NotFound("inexistent_client", "No client found with id "+in.ClientID)
	} else if err != nil {
		return ClientGrant{}, err
	}
	g := ClientGrant{ID: NewGrantID(), ClientID: in.ClientID, Audience: aud, Scope: in.Scope, CreatedAt: s.now().UTC()}
	if err := s.store.CreateClientGrant(ctx, g); errors.Is(err, errs.ErrDuplicate) {
		return ClientGrant{}, errs.Conflict("client_grant_conflict", "A client grant for this client and audience already exists.")
	} else if err != nil {
		return ClientGrant{}, err
	}
	return g, nil
}

func checkScopes(scopes []string) error {
	for _, sc := range scopes {
		if !IsManagementScope(sc) {
			return errs.Invalid("invalid_body", "Scope %q is not defined by the Management API.", sc)
		}
	}
	return nil
}

// ClientGrants returns the grants for a client and audience; empty filters match all.
func (s *Service) ClientGrants(ctx context.Context, clientID, audience string) ([]ClientGrant, error) {
	all, err := s.store.ClientGrants(ctx)
	if err != nil {
		return nil, err
	}
	if audience != "" {
		audience = s.CanonicalAudience(audience)
	}
	out := []ClientGrant{}
	for _, g := range all {
		if (clientID == "" || g.ClientID == clientID) && (audience == "" || g.Audience == audience) {
			out = append(out, g)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// ClientGrantPatch is the body of PATCH /api/v2/client-grants/{id}.
type ClientGrantPatch struct {
	Scope                []string `json:"scope"`
	OrganizationUsage    *string  `json:"organization_usage,omitempty"`
	AllowAnyOrganization *bool    `json:"allow_any_organization,omitempty"`
}

// UpdateClientGrant replaces a grant's scopes.
func (s *Service) UpdateClientGrant(ctx context.Context, id string, p ClientGrantPatch) (ClientGrant, error) {
	if err := checkScopes(p.Scope); err != nil {
		return ClientGrant{}, err
	}
	var out ClientGrant
	err := s.store.Atomic(ctx, func(st Store) error {
		g, err := st.ClientGrant(ctx, id)
		if errors.Is(err, errs.ErrNotFound) {
			return errs.NotFound("inexistent_client_grant", "The client grant does not exist.")
		} else if err != nil {
			return err
		}
		if p.Scope != nil {
			g.Scope = p.Scope
		}
		out = g
		return st.UpdateClientGrant(ctx, g)
	})
	return out, err
}

// DeleteClientGrant removes a grant; tokens already issued stay valid until they expire.
func (s *Service) DeleteClientGrant(ctx context.Context, id string) error {
	if err := s.store.DeleteClientGrant(ctx, id); err != nil && !errors.Is(err, errs.ErrNotFound) {
		return err
	}
	return nil
}
