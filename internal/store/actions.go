package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/usherid/usher/internal/actions"
)

// Actions keep their draft in actions, each deploy's snapshot in
// action_versions, the secrets of both in action_secrets (version_id '' is
// the draft's), and the bindings in action_bindings, ordered by position.

const actionColumns = `id, name, trigger_id, trigger_version, code, runtime, dependencies, status, all_changes_deployed, built_at, created_at, updated_at`

const versionColumns = `id, action_id, number, trigger_id, trigger_version, code, runtime, dependencies, status, deployed, built_at, created_at, updated_at`

const bindingColumns = `id, trigger_id, action_id, display_name, secrets, created_at, updated_at`

func scanAction(row rowScanner) (actions.Action, error) {
	var a actions.Action
	var deps string
	var built, created, updated int64
	err := row.Scan(&a.ID, &a.Name, &a.Trigger.ID, &a.Trigger.Version, &a.Code, &a.Runtime, &deps, &a.Status,
		&a.AllChangesDeployed, &built, &created, &updated)
	if err != nil {
		return a, translate(err)
	}
	if err := json.Unmarshal([]byte(deps), &a.Dependencies); err != nil {
		return a, fmt.Errorf("action %s dependencies: %w", a.ID, err)
	}
	a.BuiltAt, a.CreatedAt, a.UpdatedAt = fromMillis(built), fromMillis(created), fromMillis(updated)
	a.Secrets = []actions.Secret{}
	return a, nil
}

func scanVersion(row rowScanner) (actions.Version, error) {
	var v actions.Version
	var deps string
	var built, created, updated int64
	err := row.Scan(&v.ID, &v.ActionID, &v.Number, &v.Trigger.ID, &v.Trigger.Version, &v.Code, &v.Runtime, &deps,
		&v.Status, &v.Deployed, &built, &created, &updated)
	if err != nil {
		return v, translate(err)
	}
	if err := json.Unmarshal([]byte(deps), &v.Dependencies); err != nil {
		return v, fmt.Errorf("action version %s dependencies: %w", v.ID, err)
	}
	v.BuiltAt, v.CreatedAt, v.UpdatedAt = fromMillis(built), fromMillis(created), fromMillis(updated)
	v.Secrets = []actions.Secret{}
	return v, nil
}

// storedSecret is a binding's secret in its JSON column.
type storedSecret struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	UpdatedAt int64  `json:"updated_at"`
}

func (q *queries) scanBinding(row rowScanner) (actions.Binding, error) {
	var b actions.Binding
	var secrets string
	var created, updated int64
	if err := row.Scan(&b.ID, &b.TriggerID, &b.ActionID, &b.DisplayName, &secrets, &created, &updated); err != nil {
		return b, translate(err)
	}
	var err error
	b.Secrets, err = q.openBindingSecrets(b.ID, secrets)
	b.CreatedAt, b.UpdatedAt = fromMillis(created), fromMillis(updated)
	return b, err
}

// openBindingSecrets reads a binding's secrets column, opening each value.
func (q *queries) openBindingSecrets(bindingID, doc string) ([]actions.Secret, error) {
	var stored []storedSecret
	if err := json.Unmarshal([]byte(doc), &stored); err != nil {
		return nil, fmt.Errorf("binding %s secrets: %w", bindingID, err)
	}
	out := []actions.Secret{}
	for _, s := range stored {
		v, err := q.open(s.Value, bindingSecretLabel(bindingID, s.Name))
		if err != nil {
			return nil, err
		}
		out = append(out, actions.Secret{Name: s.Name, Value: v, UpdatedAt: fromMillis(s.UpdatedAt)})
	}
	return out, nil
}

// secretRow is one row of action_secrets.
type secretRow struct {
	actionID, versionID string
	secret              actions.Secret
}

func (q *queries) scanSecret(row rowScanner) (secretRow, error) {
	var s secretRow
	var updated int64
	if err := row.Scan(&s.actionID, &s.versionID, &s.secret.Name, &s.secret.Value, &updated); err != nil {
		return s, translate(err)
	}
	s.secret.UpdatedAt = fromMillis(updated)
	var err error
	s.secret.Value, err = q.open(s.secret.Value, actionSecretLabel(s.actionID, s.versionID, s.secret.Name))
	return s, err
}

const secretColumns = `action_id, version_id, name, value, updated_at`

func (q *queries) insertSecrets(ctx context.Context, actionID, versionID string, secrets []actions.Secret) error {
	for _, s := range secrets {
		sealed, err := q.seal(s.Value, actionSecretLabel(actionID, versionID, s.Name))
		if err != nil {
			return err
		}
		if _, err := q.w.ExecContext(ctx, `INSERT INTO action_secrets (`+secretColumns+`) VALUES ($1, $2, $3, $4, $5)`,
			actionID, versionID, s.Name, sealed, millis(s.UpdatedAt)); err != nil {
			return translate(err)
		}
	}
	return nil
}

// CreateAction stores a new action and its draft's secrets.
func (q *queries) CreateAction(ctx context.Context, a actions.Action) error {
	deps, err := jsonText(nonNil(a.Dependencies))
	if err != nil {
		return err
	}
	return q.atomic(ctx, func(tx *queries) error {
		if _, err := tx.w.ExecContext(ctx, `INSERT INTO actions (`+actionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			a.ID, a.Name, a.Trigger.ID, a.Trigger.Version, a.Code, a.Runtime, deps, a.Status, a.AllChangesDeployed,
			millis(a.BuiltAt), millis(a.CreatedAt), millis(a.UpdatedAt)); err != nil {
			return translate(err)
		}
		return tx.insertSecrets(ctx, a.ID, "", a.Secrets)
	})
}

// UpdateAction replaces an action's draft and its secrets; its versions stay.
func (q *queries) UpdateAction(ctx context.Context, a actions.Action) error {
	deps, err := jsonText(nonNil(a.Dependencies))
	if err != nil {
		return err
	}
	return q.atomic(ctx, func(tx *queries) error {
		if err := mustAffect(tx.w.ExecContext(ctx, `UPDATE actions SET name = $1, trigger_id = $2, trigger_version = $3, code = $4,
			runtime = $5, dependencies = $6, status = $7, all_changes_deployed = $8, built_at = $9, updated_at = $10 WHERE id = $11`,
			a.Name, a.Trigger.ID, a.Trigger.Version, a.Code, a.Runtime, deps, a.Status, a.AllChangesDeployed,
			millis(a.BuiltAt), millis(a.UpdatedAt), a.ID)); err != nil {
			return err
		}
		if _, err := tx.w.ExecContext(ctx, `DELETE FROM action_secrets WHERE action_id = $1 AND version_id = ''`, a.ID); err != nil {
			return translate(err)
		}
		return tx.insertSecrets(ctx, a.ID, "", a.Secrets)
	})
}

// Action returns an action with its draft's secrets and its deployed version.
func (q *queries) Action(ctx context.Context, id string) (actions.Action, error) {
	return q.actionWhere(ctx, `id = $1`, id)
}

// ActionByName returns the action called name.
func (q *queries) ActionByName(ctx context.Context, name string) (actions.Action, error) {
	return q.actionWhere(ctx, `name = $1`, name)
}

// actionWhere reads one action; inside a transaction it holds the action's
// row until the transaction ends.
func (q *queries) actionWhere(ctx context.Context, where, arg string) (actions.Action, error) {
	a, err := scanAction(q.r.QueryRowContext(ctx, `SELECT `+actionColumns+` FROM actions WHERE `+where+q.forUpdate(), arg))
	if err != nil {
		return a, err
	}
	versions, err := list(ctx, q.r, scanVersion, `SELECT `+versionColumns+` FROM action_versions WHERE action_id = $1 AND deployed`, a.ID)
	if err != nil {
		return a, err
	}
	secrets, err := list(ctx, q.r, q.scanSecret, `SELECT `+secretColumns+` FROM action_secrets
		WHERE action_id = $1 AND (version_id = '' OR version_id IN (SELECT id FROM action_versions WHERE action_id = $1 AND deployed))
		ORDER BY name`, a.ID)
	if err != nil {
		return a, err
	}
	all := []actions.Action{a}
	attach(all, versions, secrets)
	return all[0], nil
}

// attach gives each action its deployed version and the secrets of both.
func attach(as []actions.Action, deployed []actions.Version, secrets []secretRow) {
	byAction := map[string]*actions.Action{}
	for i := range as {
		byAction[as[i].ID] = &as[i]
	}
	for _, v := range deployed {
		if a := byAction[v.ActionID]; a != nil {
			a.Deployed = &v
		}
	}
	for _, s := range secrets {
		a := byAction[s.actionID]
		switch {
		case a == nil:
		case s.versionID == "":
			a.Secrets = append(a.Secrets, s.secret)
		case a.Deployed != nil && a.Deployed.ID == s.versionID:
			a.Deployed.Secrets = append(a.Deployed.Secrets, s.secret)
		}
	}
}

// Actions returns every action, oldest first, each with its deployed version.
func (q *queries) Actions(ctx context.Context) ([]actions.Action, error) {
	as, err := list(ctx, q.r, scanAction, `SELECT `+actionColumns+` FROM actions ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	versions, err := list(ctx, q.r, scanVersion, `SELECT `+versionColumns+` FROM action_versions WHERE deployed`)
	if err != nil {
		return nil, err
	}
	secrets, err := list(ctx, q.r, q.scanSecret, `SELECT `+secretColumns+` FROM action_secrets
		WHERE version_id = '' OR version_id IN (SELECT id FROM action_versions WHERE deployed) ORDER BY name`)
	if err != nil {
		return nil, err
	}
	attach(as, versions, secrets)
	return as, nil
}

// DeleteAction deletes an action; its versions, secrets and bindings go
// with it (ON DELETE CASCADE). A bound action is actions.ErrBound unless force.
func (q *queries) DeleteAction(ctx context.Context, id string, force bool) error {
	return q.atomic(ctx, func(tx *queries) error {
		if !force {
			var n int
			if err := tx.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM action_bindings WHERE action_id = $1`, id).Scan(&n); err != nil {
				return translate(err)
			}
			if n > 0 {
				return actions.ErrBound
			}
		}
		return mustAffect(tx.w.ExecContext(ctx, `DELETE FROM actions WHERE id = $1`, id))
	})
}

// DeployAction snapshots the draft as version versionID. Counting on the
// action's row locks it, so concurrent deploys of one action number their
// versions one after the other and each copies a whole draft.
func (q *queries) DeployAction(ctx context.Context, actionID, versionID string, now time.Time) (actions.Version, error) {
	err := q.atomic(ctx, func(tx *queries) error {
		var number int
		if err := tx.w.QueryRowContext(ctx, `UPDATE actions SET versions = versions + 1, all_changes_deployed = $1 WHERE id = $2 RETURNING versions`,
			true, actionID).Scan(&number); err != nil {
			return translate(err)
		}
		a, err := scanAction(tx.r.QueryRowContext(ctx, `SELECT `+actionColumns+` FROM actions WHERE id = $1`, actionID))
		if err != nil {
			return err
		}
		if _, err := tx.w.ExecContext(ctx, `UPDATE action_versions SET deployed = $1, updated_at = $2 WHERE action_id = $3 AND deployed`,
			false, millis(now), actionID); err != nil {
			return translate(err)
		}
		deps, err := jsonText(nonNil(a.Dependencies))
		if err != nil {
			return err
		}
		if _, err := tx.w.ExecContext(ctx, `INSERT INTO action_versions (`+versionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			versionID, actionID, number, a.Trigger.ID, a.Trigger.Version, a.Code, a.Runtime, deps, a.Status, true,
			millis(a.BuiltAt), millis(now), millis(now)); err != nil {
			return translate(err)
		}
		draft, err := list(ctx, tx.r, tx.scanSecret, `SELECT `+secretColumns+` FROM action_secrets WHERE action_id = $1 AND version_id = ''`, actionID)
		if err != nil {
			return err
		}
		secrets := make([]actions.Secret, len(draft))
		for i, s := range draft {
			secrets[i] = s.secret
		}
		return tx.insertSecrets(ctx, actionID, versionID, secrets)
	})
	if err != nil {
		return actions.Version{}, err
	}
	return q.ActionVersion(ctx, actionID, versionID)
}

// ActionVersions returns an action's versions, newest first, with their secrets.
func (q *queries) ActionVersions(ctx context.Context, actionID string) ([]actions.Version, error) {
	vs, err := list(ctx, q.r, scanVersion, `SELECT `+versionColumns+` FROM action_versions WHERE action_id = $1 ORDER BY number DESC`, actionID)
	if err != nil {
		return nil, err
	}
	secrets, err := list(ctx, q.r, q.scanSecret, `SELECT `+secretColumns+` FROM action_secrets WHERE action_id = $1 AND version_id <> '' ORDER BY name`, actionID)
	if err != nil {
		return nil, err
	}
	byID := map[string]*actions.Version{}
	for i := range vs {
		byID[vs[i].ID] = &vs[i]
	}
	for _, s := range secrets {
		if v := byID[s.versionID]; v != nil {
			v.Secrets = append(v.Secrets, s.secret)
		}
	}
	return vs, nil
}

// ActionVersion returns one version of an action with its secrets.
func (q *queries) ActionVersion(ctx context.Context, actionID, versionID string) (actions.Version, error) {
	v, err := scanVersion(q.r.QueryRowContext(ctx, `SELECT `+versionColumns+` FROM action_versions WHERE id = $1 AND action_id = $2`, versionID, actionID))
	if err != nil {
		return v, err
	}
	secrets, err := list(ctx, q.r, q.scanSecret, `SELECT `+secretColumns+` FROM action_secrets WHERE action_id = $1 AND version_id = $2 ORDER BY name`, actionID, versionID)
	for _, s := range secrets {
		v.Secrets = append(v.Secrets, s.secret)
	}
	return v, err
}

// AtomicActions runs fn in one transaction, as Atomic does, handing it the
// transaction's store typed as the actions package's.
func (q *queries) AtomicActions(ctx context.Context, fn func(actions.Store) error) error {
	return q.atomic(ctx, func(tx *queries) error { return fn(tx) })
}

// Bindings returns a trigger's bindings in order. Inside a transaction it
// holds the trigger's bindings, none or some, until the transaction ends.
func (q *queries) Bindings(ctx context.Context, triggerID string) ([]actions.Binding, error) {
	if err := q.lock(ctx, bindingsLock(triggerID)); err != nil {
		return nil, err
	}
	return list(ctx, q.r, q.scanBinding, `SELECT `+bindingColumns+` FROM action_bindings WHERE trigger_id = $1 ORDER BY position`, triggerID)
}

// bindingsLock names the lock on a trigger's bindings.
func bindingsLock(triggerID string) string { return "action_bindings/" + triggerID }

// ReplaceBindings makes bs, in order, the trigger's only bindings.
func (q *queries) ReplaceBindings(ctx context.Context, triggerID string, bs []actions.Binding) error {
	return q.atomic(ctx, func(tx *queries) error {
		if err := tx.lock(ctx, bindingsLock(triggerID)); err != nil {
			return err
		}
		if _, err := tx.w.ExecContext(ctx, `DELETE FROM action_bindings WHERE trigger_id = $1`, triggerID); err != nil {
			return translate(err)
		}
		for i, b := range bs {
			stored := []storedSecret{}
			for _, s := range b.Secrets {
				sealed, err := tx.seal(s.Value, bindingSecretLabel(b.ID, s.Name))
				if err != nil {
					return err
				}
				stored = append(stored, storedSecret{Name: s.Name, Value: sealed, UpdatedAt: millis(s.UpdatedAt)})
			}
			secrets, err := jsonText(stored)
			if err != nil {
				return err
			}
			if _, err := tx.w.ExecContext(ctx, `INSERT INTO action_bindings (id, trigger_id, position, action_id, display_name, secrets, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				b.ID, triggerID, i, b.ActionID, b.DisplayName, secrets, millis(b.CreatedAt), millis(b.UpdatedAt)); err != nil {
				return translate(err)
			}
		}
		return nil
	})
}

// DeployedBindings returns a trigger's bindings in order with the deployed
// version of each action and that version's secrets.
func (q *queries) DeployedBindings(ctx context.Context, triggerID string) ([]actions.Deployment, error) {
	ds, err := list(ctx, q.r, func(row rowScanner) (actions.Deployment, error) {
		var d actions.Deployment
		var secrets string
		var created, updated int64
		b := &d.Binding
		if err := row.Scan(&b.ID, &b.TriggerID, &b.ActionID, &b.DisplayName, &secrets, &created, &updated, &d.ActionName, &d.VersionID); err != nil {
			return d, translate(err)
		}
		var err error
		b.Secrets, err = q.openBindingSecrets(b.ID, secrets)
		b.CreatedAt, b.UpdatedAt = fromMillis(created), fromMillis(updated)
		return d, err
	}, `SELECT b.id, b.trigger_id, b.action_id, b.display_name, b.secrets, b.created_at, b.updated_at, a.name, v.id
		FROM action_bindings b
		JOIN actions a ON a.id = b.action_id
		JOIN action_versions v ON v.action_id = b.action_id AND v.deployed
		WHERE b.trigger_id = $1 ORDER BY b.position`, triggerID)
	if err != nil || len(ds) == 0 {
		return ds, err
	}
	secrets, err := list(ctx, q.r, q.scanSecret, `SELECT s.action_id, s.version_id, s.name, s.value, s.updated_at
		FROM action_secrets s
		JOIN action_versions v ON v.id = s.version_id AND v.deployed
		JOIN action_bindings b ON b.action_id = v.action_id
		WHERE b.trigger_id = $1 ORDER BY s.name`, triggerID)
	if err != nil {
		return nil, err
	}
	for i := range ds {
		for _, s := range secrets {
			if s.versionID == ds[i].VersionID {
				ds[i].Secrets = append(ds[i].Secrets, s.secret)
			}
		}
	}
	return ds, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
