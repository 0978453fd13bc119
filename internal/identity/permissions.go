package identity

import (
	"context"
	"errors"
	"time"

	"github.com/usherid/usher/internal/errs"
)

// userPermissions are the permissions Usher lets a user hold, on the
// Management API: it has no other API whose permissions mean anything.
var userPermissions = []string{AdminPermission}

// managementAPI is how the store names the Management API in a permission:
// its audience follows PUBLIC_URL, which may change (or, for a command
// working on the database, be unknown), and a permission must not be lost
// with it.
const managementAPI = "usher:management-api"

// checkPermissions validates permissions to grant or take back, naming the
// Management API as the store does.
func (s *Service) checkPermissions(ps []Permission) ([]Permission, error) {
	if len(ps) == 0 {
		return nil, errs.Invalid("invalid_body", "Payload validation error: 'Array is too short (0), minimum 1' on property permissions.")
	}
	out := make([]Permission, len(ps))
	for i, p := range ps {
		p.ResourceServerIdentifier = s.CanonicalAudience(p.ResourceServerIdentifier)
		if p.ResourceServerIdentifier != s.mgmtAudience || !contains(userPermissions, p.PermissionName) {
			return nil, errs.Invalid("invalid_body", "Permission %q of resource server %q does not exist: Usher knows %s on %s.",
				p.PermissionName, p.ResourceServerIdentifier, AdminPermission, s.mgmtAudience)
		}
		p.ResourceServerIdentifier = managementAPI
		out[i] = p
	}
	return out, nil
}

// UserPermissions lists the permissions granted to a user.
func (s *Service) UserPermissions(ctx context.Context, userID string) ([]Permission, error) {
	if _, err := s.User(ctx, userID); err != nil {
		return nil, err
	}
	ps, err := s.store.UserPermissions(ctx, userID)
	for i := range ps {
		if ps[i].ResourceServerIdentifier == managementAPI {
			ps[i].ResourceServerIdentifier = s.mgmtAudience
		}
	}
	return ps, err
}

// AssignPermissions grants permissions to a user.
func (s *Service) AssignPermissions(ctx context.Context, userID string, ps []Permission) error {
	ps, err := s.checkPermissions(ps)
	if err != nil {
		return err
	}
	if _, err := s.User(ctx, userID); err != nil {
		return err
	}
	return s.store.AddUserPermissions(ctx, userID, ps, s.now().UTC())
}

// RemovePermissions takes permissions back from a user.
func (s *Service) RemovePermissions(ctx context.Context, userID string, ps []Permission) error {
	ps, err := s.checkPermissions(ps)
	if err != nil {
		return err
	}
	if _, err := s.User(ctx, userID); err != nil {
		return err
	}
	return s.store.RemoveUserPermissions(ctx, userID, ps)
}

// AdminPermission is usher:admin on this tenant's Management API.
func (s *Service) AdminPermission() Permission {
	return Permission{ResourceServerIdentifier: s.mgmtAudience, PermissionName: AdminPermission}
}

// storedAdmin is usher:admin as the store keeps it.
var storedAdmin = Permission{ResourceServerIdentifier: managementAPI, PermissionName: AdminPermission}

// IsAdmin reports whether a user may use the dashboard: not blocked, and
// holding usher:admin.
func (s *Service) IsAdmin(ctx context.Context, u User) (bool, error) {
	if u.Blocked {
		return false, nil
	}
	return s.store.HasUserPermission(ctx, u.ID, storedAdmin)
}

// AdminInvited is what InviteAdministrator did for one email.
type AdminInvited struct {
	Invited
	// HadAccount is true when the email had an account with a password,
	// which now holds the permission: nobody was invited.
	HadAccount bool
}

// InviteAdministrator makes email an administrator: a new person is invited
// like anyone else (the link is returned); someone invited before whose
// invitation is still open gets a new link; someone with an account keeps
// it. Each way they hold usher:admin afterwards.
func (s *Service) InviteAdministrator(ctx context.Context, email string) (AdminInvited, error) {
	invited, _, err := s.CreateInvitation(ctx, InvitationRequest{Email: email}, "")
	var de *errs.Error
	if errors.As(err, &de) && de.Code == "user_exists" {
		return s.reinviteAdministrator(ctx, email)
	}
	if err != nil {
		return AdminInvited{}, err
	}
	return AdminInvited{Invited: invited}, s.AssignPermissions(ctx, invited.Invitation.UserID, []Permission{s.AdminPermission()})
}

func (s *Service) reinviteAdministrator(ctx context.Context, email string) (AdminInvited, error) {
	tenant, err := s.store.TenantSettings(ctx)
	if err != nil {
		return AdminInvited{}, err
	}
	conn, err := s.conns.get(ctx, s.store, tenant.DefaultDirectory, s.now())
	if err != nil {
		return AdminInvited{}, err
	}
	u, err := s.userInConnection(ctx, email, conn.ID)
	if err != nil {
		return AdminInvited{}, err
	}
	if err := s.AssignPermissions(ctx, u.ID, []Permission{s.AdminPermission()}); err != nil {
		return AdminInvited{}, err
	}
	if u.PasswordHash != "" {
		return AdminInvited{HadAccount: true, Invited: Invited{Invitation: Invitation{UserID: u.ID, Email: u.Email}}}, nil
	}
	invs, _, err := s.store.Invitations(ctx, InvitationQuery{Email: u.Email, PerPage: 1, Now: s.now()})
	if err != nil {
		return AdminInvited{}, err
	}
	if len(invs) == 0 || invs[0].Status(s.now()) == InvitationAccepted || invs[0].Status(s.now()) == InvitationRevoked {
		invited, _, err := s.CreateInvitation(ctx, InvitationRequest{Email: u.Email, Reinvite: true}, "")
		return AdminInvited{Invited: invited}, err
	}
	invited, err := s.ResendInvitation(ctx, invs[0].ID)
	return AdminInvited{Invited: invited}, err
}

// InvitationStats returns the invitations of the last days days, today included.
func (s *Service) InvitationStats(ctx context.Context, days int) (InvitationStats, error) {
	now := s.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	return s.store.InvitationStats(ctx, today.AddDate(0, 0, 1-days), now)
}

const settingDashboardClient = "dashboard_client_id"

// DashboardClient returns the dashboard's own client, making it when it is
// missing: a first-party public client (PKCE, no secret) whose only callback
// is the dashboard's callback and whose only logout URL its signedOut page,
// so that administrators sign in through the hosted login like everyone else.
func (s *Service) DashboardClient(ctx context.Context, callback, signedOut string) (Client, error) {
	ready := func(c Client) bool {
		return contains(c.Callbacks, callback) && contains(c.AllowedLogoutURLs, signedOut) && c.HasGrantType("authorization_code")
	}
	// Every sign-in asks: the usual answer needs no transaction.
	if id, err := s.store.Setting(ctx, settingDashboardClient); err == nil {
		if c, err := s.store.Client(ctx, id); err == nil && ready(c) {
			return c, nil
		}
	}
	var out Client
	err := s.store.Atomic(ctx, func(st Store) error {
		id, err := st.Setting(ctx, settingDashboardClient)
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return err
		}
		c, err := st.Client(ctx, id)
		switch {
		case id == "" || errors.Is(err, errs.ErrNotFound):
			c = Client{ClientID: NewClientID(), Name: "Usher Dashboard", AppType: "regular_web", IsFirstParty: true, OIDCConformant: true,
				Callbacks: []string{callback}, AllowedLogoutURLs: []string{signedOut}, GrantTypes: []string{"authorization_code"},
				TokenEndpointAuthMethod: "none", CreatedAt: s.now().UTC()}
			if err := c.normalize(); err != nil {
				return err
			}
			if err := st.CreateClient(ctx, c); err != nil {
				return err
			}
			out = c
			return st.PutSetting(ctx, settingDashboardClient, c.ClientID)
		case err != nil:
			return err
		}
		// The public URL may have changed since the client was made.
		if !ready(c) {
			if !contains(c.Callbacks, callback) {
				c.Callbacks = append(c.Callbacks, callback)
			}
			if !contains(c.AllowedLogoutURLs, signedOut) {
				c.AllowedLogoutURLs = append(c.AllowedLogoutURLs, signedOut)
			}
			if !c.HasGrantType("authorization_code") {
				c.GrantTypes = append(c.GrantTypes, "authorization_code")
			}
			if err := st.UpdateClient(ctx, c); err != nil {
				return err
			}
		}
		out = c
		return nil
	})
	return out, err
}
