package identity

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"sort"

	"github.com/usherid/usher/internal/errs"
)

var errNoConnection = errs.NotFound("inexistent_connection", "The connection does not exist.")

var connectionName = regexp.MustCompile(`^[a-zA-Z0-9](-[a-zA-Z0-9]|[a-zA-Z0-9])*$`)

func (c *Connection) normalize() error {
	if c.Name == "" {
		return errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: name'.")
	}
	if len(c.Name) > 128 || !connectionName.MatchString(c.Name) {
		return errs.Invalid("invalid_body", "Payload validation error: 'String does not match pattern ^[a-zA-Z0-9](-[a-zA-Z0-9]|[a-zA-Z0-9])*$' on property name.")
	}
	if c.Strategy != "auth0" {
		return errs.Invalid("invalid_body", "Usher supports database connections only (strategy \"auth0\").")
	}
	if c.Options == nil {
		c.Options = map[string]any{}
	}
	if err := validateConnectionOptions(c.Options); err != nil {
		return err
	}
	if c.EnabledClients == nil {
		c.EnabledClients = []string{}
	}
	c.Realms = []string{c.Name}
	return nil
}

// CreateConnection makes a database connection from the properties in p.
func (s *Service) CreateConnection(ctx context.Context, p Patch) (Connection, error) {
	var c Connection
	var name string
	if raw, ok := p["name"]; ok {
		json.Unmarshal(raw, &name) // a name of the wrong type is apply's error
	}
	if err := dropRealms(p, name); err != nil {
		return Connection{}, err
	}
	if err := p.apply(&c, "id", "realms"); err != nil {
		return Connection{}, err
	}
	if _, sent := p["options"]; !sent {
		c.Options = DefaultConnectionOptions()
	}
	if err := c.normalize(); err != nil {
		return Connection{}, err
	}
	c.ID, c.CreatedAt = NewConnectionID(), s.now().UTC()
	defer s.conns.forget()
	if err := s.store.CreateConnection(ctx, c); errors.Is(err, errs.ErrDuplicate) {
		return Connection{}, errs.Conflict("connection_conflict", "A connection with the same name already exists")
	} else if err != nil {
		return Connection{}, err
	}
	return c, nil
}

// Connection returns the connection with id.
func (s *Service) Connection(ctx context.Context, id string) (Connection, error) {
	c, err := s.store.Connection(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Connection{}, errNoConnection
	}
	return c, err
}

// Connections returns every connection, oldest first.
func (s *Service) Connections(ctx context.Context) ([]Connection, error) {
	cs, err := s.store.Connections(ctx)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].CreatedAt.Before(cs[j].CreatedAt) })
	return cs, err
}

// UpdateConnection replaces the top-level properties named in p; as in Auth0,
// options are replaced whole. The name and strategy cannot change.
func (s *Service) UpdateConnection(ctx context.Context, id string, p Patch) (Connection, error) {
	return s.changeConnection(ctx, id, func(c *Connection) error {
		if err := dropRealms(p, c.Name); err != nil {
			return err
		}
		return p.apply(c, "id", "name", "strategy", "realms")
	})
}

// EditConnectionOptions changes a connection's options with edit, which is
// given them as they are in the transaction that stores the change: the
// dashboard's form sets a few options and keeps the others, those changed
// meanwhile through the API included.
func (s *Service) EditConnectionOptions(ctx context.Context, id string, edit func(options map[string]any) error) (Connection, error) {
	return s.changeConnection(ctx, id, func(c *Connection) error {
		if c.Options == nil {
			c.Options = map[string]any{}
		}
		return edit(c.Options)
	})
}

// changeConnection stores what change makes of a connection, read in the
// same transaction.
func (s *Service) changeConnection(ctx context.Context, id string, change func(c *Connection) error) (Connection, error) {
	var out Connection
	defer s.conns.forget()
	err := s.store.Atomic(ctx, func(st Store) error {
		c, err := st.Connection(ctx, id)
		if errors.Is(err, errs.ErrNotFound) {
			return errNoConnection
		} else if err != nil {
			return err
		}
		created := c.CreatedAt
		if err := change(&c); err != nil {
			return err
		}
		if err := c.normalize(); err != nil {
			return err
		}
		c.CreatedAt = created
		out = c
		return st.UpdateConnection(ctx, c)
	})
	return out, err
}

// dropRealms takes realms out of p when they are what a database
// connection's realms always are, its name alone: Auth0 lists them with the
// connection, and tools that copy a connection send them back.
func dropRealms(p Patch, name string) error {
	raw, ok := p["realms"]
	if !ok {
		return nil
	}
	var realms []string
	if err := json.Unmarshal(raw, &realms); err != nil || len(realms) != 1 || realms[0] != name {
		return errs.Invalid("invalid_body", "Payload validation error: 'A database connection has one realm, its name' on property realms.")
	}
	delete(p, "realms")
	return nil
}

// DeleteConnection removes a connection and, as in Auth0, every user in it.
func (s *Service) DeleteConnection(ctx context.Context, id string) error {
	defer s.conns.forget()
	if err := s.store.DeleteConnection(ctx, id); err != nil && !errors.Is(err, errs.ErrNotFound) {
		return err
	}
	return nil
}

// ConnectionClients returns the ids of the clients enabled for a connection.
func (s *Service) ConnectionClients(ctx context.Context, id string) ([]string, error) {
	c, err := s.Connection(ctx, id)
	return c.EnabledClients, err
}

// ClientStatus is one change of a connection's enabled clients: the client
// enabled (Status true) or disabled for it.
type ClientStatus struct {
	ClientID string `json:"client_id"`
	Status   bool   `json:"status"`
}

// maxClientChanges bounds one change of a connection's clients, as Auth0 does.
const maxClientChanges = 50

// SetConnectionClients enables and disables clients for a connection, in
// the order given.
func (s *Service) SetConnectionClients(ctx context.Context, id string, changes []ClientStatus) error {
	if len(changes) > maxClientChanges {
		return errs.Invalid("invalid_body", "Payload validation error: 'Array is too long (%d), maximum %d'.", len(changes), maxClientChanges)
	}
	defer s.conns.forget()
	return s.store.Atomic(ctx, func(st Store) error {
		c, err := st.Connection(ctx, id)
		if errors.Is(err, errs.ErrNotFound) {
			return errNoConnection
		} else if err != nil {
			return err
		}
		for _, ch := range changes {
			if _, err := st.Client(ctx, ch.ClientID); errors.Is(err, errs.ErrNotFound) {
				return errs.Invalid("invalid_body", "Payload validation error: 'No client found with id %s' on property client_id.", Clip(ch.ClientID))
			} else if err != nil {
				return err
			}
			enabled := slices.Contains(c.EnabledClients, ch.ClientID)
			switch {
			case ch.Status && !enabled:
				c.EnabledClients = append(c.EnabledClients, ch.ClientID)
			case !ch.Status && enabled:
				c.EnabledClients = slices.DeleteFunc(c.EnabledClients, func(id string) bool { return id == ch.ClientID })
			}
		}
		return st.UpdateConnection(ctx, c)
	})
}
