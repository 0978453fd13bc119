package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/usherid/usher/internal/identity"
)

// Clients and connections are stored as JSON documents beside the columns
// they are looked up by: they are few, read whole, and change shape with Auth0.

func (q *queries) CreateClient(ctx context.Context, c identity.Client) error {
	doc, err := jsonText(c)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO clients (id, name, secret_hash, config, created_at) VALUES ($1, $2, $3, $4, $5)`,
		c.ClientID, c.Name, c.SecretHash, doc, millis(c.CreatedAt))
	return translate(err)
}

func (q *queries) UpdateClient(ctx context.Context, c identity.Client) error {
	doc, err := jsonText(c)
	if err != nil {
		return fmt.Errorf("update client: %w", err)
	}
	return mustAffect(q.w.ExecContext(ctx, `UPDATE clients SET name = $1, secret_hash = $2, config = $3 WHERE id = $4`,
		c.Name, c.SecretHash, doc, c.ClientID))
}

func scanClient(row rowScanner) (identity.Client, error) {
	var c identity.Client
	var doc, hash string
	var created int64
	if err := row.Scan(&doc, &hash, &created); err != nil {
		return c, translate(err)
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return c, fmt.Errorf("client document: %w", err)
	}
	c.SecretHash, c.CreatedAt = hash, fromMillis(created)
	return c, nil
}

func (q *queries) Client(ctx context.Context, id string) (identity.Client, error) {
	return scanClient(q.r.QueryRowContext(ctx, `SELECT config, secret_hash, created_at FROM clients WHERE id = $1`+q.forUpdate(), id))
}

func (q *queries) Clients(ctx context.Context) ([]identity.Client, error) {
	return list(ctx, q.r, scanClient, `SELECT config, secret_hash, created_at FROM clients ORDER BY created_at, id`)
}

func (q *queries) DeleteClient(ctx context.Context, id string) error {
	return mustAffect(q.w.ExecContext(ctx, `DELETE FROM clients WHERE id = $1`, id))
}

func scanGrant(row rowScanner) (identity.ClientGrant, error) {
	var g identity.ClientGrant
	var scope string
	var created int64
	if err := row.Scan(&g.ID, &g.ClientID, &g.Audience, &scope, &created); err != nil {
		return g, translate(err)
	}
	g.CreatedAt = fromMillis(created)
	return g, json.Unmarshal([]byte(scope), &g.Scope)
}

func (q *queries) CreateClientGrant(ctx context.Context, g identity.ClientGrant) error {
	scope, err := jsonText(g.Scope)
	if err != nil {
		return err
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO client_grants (id, client_id, audience, scope, created_at) VALUES ($1, $2, $3, $4, $5)`,
		g.ID, g.ClientID, g.Audience, scope, millis(g.CreatedAt))
	return translate(err)
}

func (q *queries) ClientGrant(ctx context.Context, id string) (identity.ClientGrant, error) {
	return scanGrant(q.r.QueryRowContext(ctx, `SELECT id, client_id, audience, scope, created_at FROM client_grants WHERE id = $1`+q.forUpdate(), id))
}

func (q *queries) ClientGrants(ctx context.Context) ([]identity.ClientGrant, error) {
	return list(ctx, q.r, scanGrant, `SELECT id, client_id, audience, scope, created_at FROM client_grants ORDER BY created_at, id`)
}

func (q *queries) UpdateClientGrant(ctx context.Context, g identity.ClientGrant) error {
	scope, err := jsonText(g.Scope)
	if err != nil {
		return err
	}
	return mustAffect(q.w.ExecContext(ctx, `UPDATE client_grants SET scope = $1 WHERE id = $2`, scope, g.ID))
}

func (q *queries) DeleteClientGrant(ctx context.Context, id string) error {
	return mustAffect(q.w.ExecContext(ctx, `DELETE FROM client_grants WHERE id = $1`, id))
}

func scanConnection(row rowScanner) (identity.Connection, error) {
	var c identity.Connection
	var doc string
	var created int64
	if err := row.Scan(&doc, &created); err != nil {
		return c, translate(err)
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return c, fmt.Errorf("connection document: %w", err)
	}
	c.CreatedAt = fromMillis(created)
	return c, nil
}

func (q *queries) CreateConnection(ctx context.Context, c identity.Connection) error {
	doc, err := jsonText(c)
	if err != nil {
		return fmt.Errorf("create connection: %w", err)
	}
	_, err = q.w.ExecContext(ctx, `INSERT INTO connections (id, name, strategy, config, created_at) VALUES ($1, $2, $3, $4, $5)`,
		c.ID, c.Name, c.Strategy, doc, millis(c.CreatedAt))
	return translate(err)
}

func (q *queries) Connection(ctx context.Context, id string) (identity.Connection, error) {
	return scanConnection(q.r.QueryRowContext(ctx, `SELECT config, created_at FROM connections WHERE id = $1`+q.forUpdate(), id))
}

func (q *queries) ConnectionByName(ctx context.Context, name string) (identity.Connection, error) {
	return scanConnection(q.r.QueryRowContext(ctx, `SELECT config, created_at FROM connections WHERE name = $1`, name))
}

func (q *queries) Connections(ctx context.Context) ([]identity.Connection, error) {
	return list(ctx, q.r, scanConnection, `SELECT config, created_at FROM connections ORDER BY created_at, id`)
}

func (q *queries) UpdateConnection(ctx context.Context, c identity.Connection) error {
	doc, err := jsonText(c)
	if err != nil {
		return fmt.Errorf("update connection: %w", err)
	}
	return mustAffect(q.w.ExecContext(ctx, `UPDATE connections SET config = $1 WHERE id = $2`, doc, c.ID))
}

func (q *queries) DeleteConnection(ctx context.Context, id string) error {
	return mustAffect(q.w.ExecContext(ctx, `DELETE FROM connections WHERE id = $1`, id))
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, ex execer, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := ex.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, translate(rows.Err())
}
