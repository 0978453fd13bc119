package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/usherid/usher/internal/identity"
)

const userColumns = `u.id, u.connection_id, c.name, u.email, u.email_verified, COALESCE(u.username, ''),
	u.phone_number, u.phone_verified, u.password_hash, u.blocked, u.name, u.nickname, u.given_name,
	u.family_name, u.picture, u.app_metadata, u.user_metadata, u.logins_count, u.last_login, u.last_ip,
	u.last_password_reset, u.created_at, u.updated_at`

const userFrom = ` FROM users u JOIN connections c ON c.id = u.connection_id`

type rowScanner interface{ Scan(dest ...any) error }

func scanUser(row rowScanner) (identity.User, error) {
	var u identity.User
	var app, usr string
	var lastLogin, lastReset sql.NullInt64
	var created, updated int64
	err := row.Scan(&u.ID, &u.ConnectionID, &u.Connection, &u.Email, &u.EmailVerified, &u.Username,
		&u.PhoneNumber, &u.PhoneVerified, &u.PasswordHash, &u.Blocked, &u.Profile.Name, &u.Profile.Nickname,
		&u.Profile.GivenName, &u.Profile.FamilyName, &u.Profile.Picture, &app, &usr, &u.LoginsCount,
		&lastLogin, &u.LastIP, &lastReset, &created, &updated)
	if err != nil {
		return u, translate(err)
	}
	if err := json.Unmarshal([]byte(app), &u.AppMetadata); err != nil {
		return u, fmt.Errorf("user %s app_metadata: %w", u.ID, err)
	}
	if err := json.Unmarshal([]byte(usr), &u.UserMetadata); err != nil {
		return u, fmt.Errorf("user %s user_metadata: %w", u.ID, err)
	}
	u.LastLogin, u.LastPasswordReset = fromNullMillis(lastLogin), fromNullMillis(lastReset)
	u.CreatedAt, u.UpdatedAt = fromMillis(created), fromMillis(updated)
	return u, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// userArgs returns the values of every stored column but id, in column order.
func userArgs(u identity.User) ([]any, error) {
	app, err := jsonText(u.AppMetadata)
	if err != nil {
		return nil, err
	}
	usr, err := jsonText(u.UserMetadata)
	if err != nil {
		return nil, err
	}
	return []any{u.ConnectionID, u.Email, u.EmailVerified, nullString(u.Username), u.PhoneNumber, u.PhoneVerified,
		u.PasswordHash, u.Blocked, u.Profile.Name, u.Profile.Nickname, u.Profile.GivenName, u.Profile.FamilyName,
		u.Profile.Picture, app, usr, u.LoginsCount, nullMillis(u.LastLogin), u.LastIP, nullMillis(u.LastPasswordReset),
		millis(u.CreatedAt), millis(u.UpdatedAt)}, nil
}

func (q *queries) CreateUser(ctx context.Context, u identity.User) error {
	row, err := userRow(u)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return q.insert(ctx, usersTable, [][]any{row})
}

func (q *queries) User(ctx context.Context, id string) (identity.User, error) {
	return scanUser(q.r.QueryRowContext(ctx, `SELECT `+userColumns+userFrom+` WHERE u.id = $1`+q.forUpdate("u"), id))
}

func (q *queries) UpdateUser(ctx context.Context, u identity.User) error {
	args, err := userArgs(u)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	return mustAffect(q.w.ExecContext(ctx, `UPDATE users SET connection_id = $1, email = $2, email_verified = $3,
		username = $4, phone_number = $5, phone_verified = $6, password_hash = $7, blocked = $8, name = $9,
		nickname = $10, given_name = $11, family_name = $12, picture = $13, app_metadata = $14, user_metadata = $15,
		logins_count = $16, last_login = $17, last_ip = $18, last_password_reset = $19, created_at = $20,
		updated_at = $21 WHERE id = $22`, append(args, u.ID)...))
}

func (q *queries) DeleteUser(ctx context.Context, id string) error {
	return mustAffect(q.w.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id))
}

func (q *queries) UsersByEmail(ctx context.Context, email string) ([]identity.User, error) {
	return q.userList(ctx, `SELECT `+userColumns+userFrom+` WHERE u.email = $1 ORDER BY u.created_at, u.id`, email)
}

func (q *queries) userList(ctx context.Context, query string, args ...any) ([]identity.User, error) {
	return q.usersFrom(ctx, q.r, query, args...)
}

func (q *queries) usersFrom(ctx context.Context, ex execer, query string, args ...any) ([]identity.User, error) {
	rows, err := ex.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	users := []identity.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, translate(rows.Err())
}

var sortColumns = map[string]string{
	"created_at": "u.created_at", "updated_at": "u.updated_at", "email": "u.email", "name": "u.name",
	"last_login": "u.last_login", "logins_count": "u.logins_count", "user_id": "u.id", "nickname": "u.nickname",
}

var termColumns = map[string]string{
	"email": "u.email", "user_id": "u.id", "name": "u.name", "nickname": "u.nickname", "username": "u.username",
	"given_name": "u.given_name", "family_name": "u.family_name", "email_verified": "u.email_verified",
	"blocked": "u.blocked", "identities.connection": "c.name", "phone_number": "u.phone_number",
}

func (q *queries) Users(ctx context.Context, uq identity.UserQuery) ([]identity.User, int, error) {
	where, args, err := q.userWhere(uq.Filter)
	if err != nil {
		return nil, 0, err
	}
	order := "u.created_at"
	if col, ok := sortColumns[uq.SortField]; ok {
		order = col
	}
	dir := ""
	if uq.SortDesc {
		dir = " DESC"
	}
	nulls := ""
	if order == "u.last_login" {
		// Users who never logged in go last either way; left to the engine,
		// SQLite puts NULLs first ascending and PostgreSQL first descending.
		nulls = " NULLS LAST"
	}
	n := len(args)
	query := `SELECT ` + userColumns + userFrom + where + ` ORDER BY ` + order + dir + nulls + `, u.id` + dir +
		` LIMIT $` + strconv.Itoa(n+1) + ` OFFSET $` + strconv.Itoa(n+2)
	users, err := q.userList(ctx, query, append(args, uq.PerPage, uq.Page*uq.PerPage)...)
	if err != nil || !uq.IncludeTotals {
		return users, len(users), err
	}
	// Every user has a connection (a foreign key, deleted with it), so the
	// join is needed for the count only when a term names the connection;
	// without it SQLite counts from an index.
	from := userFrom
	if !strings.Contains(where, "c.name") {
		from = ` FROM users u`
	}
	var total int
	if err := q.r.QueryRowContext(ctx, `SELECT count(*)`+from+where, args...).Scan(&total); err != nil {
		return nil, 0, translate(err)
	}
	return users, total, nil
}

// userWhere turns search terms into SQL; values travel as arguments only.
func (q *queries) userWhere(f identity.UserFilter) (string, []any, error) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, t := range f.Terms {
		switch {
		case strings.HasPrefix(t.Field, "app_metadata.") || strings.HasPrefix(t.Field, "user_metadata."):
			col, key, _ := strings.Cut(t.Field, ".")
			conds = append(conds, q.db.jsonMember("u."+col, arg(key))+" = "+q.db.jsonValue(arg(t.JSON)))
		case termColumns[t.Field] != "":
			col := termColumns[t.Field]
			switch {
			case t.Field == "email_verified" || t.Field == "blocked":
				conds = append(conds, col+" = "+arg(t.Value == "true"))
			case t.Prefix && t.Field == "email" && q.db.engine == SQLite && t.Value != "":
				// Emails are kept in lower case, so on SQLite (binary
				// collation) a prefix is a range of the email index.
				low := strings.ToLower(t.Value)
				conds = append(conds, col+" >= "+arg(low)+" AND "+col+" < "+arg(low+"\U0010FFFF"))
			case t.Prefix:
				conds = append(conds, "lower("+col+") LIKE "+arg(escapeLike(strings.ToLower(t.Value))+"%")+" ESCAPE '\\'")
			case t.Field == "email":
				conds = append(conds, col+" = "+arg(strings.ToLower(t.Value)))
			default:
				conds = append(conds, col+" = "+arg(t.Value))
			}
		default:
			return "", nil, fmt.Errorf("store: no column for search field %q", t.Field)
		}
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// jsonMember is the SQL for the JSON text of a top-level member of a JSON
// text column, so that "true", "3" and "\"x\"" compare alike on both engines.
// A row whose text the engine cannot read as JSON (written before metadata
// was bounded: SQLite gives up past 1,000 levels of nesting, PostgreSQL's
// jsonb cannot hold \u0000) has no member, rather than failing the search.
// The cheap test comes first, so that the common row pays little for this.
func (db *DB) jsonMember(col, keyArg string) string {
	if db.engine == Postgres {
		member := "((" + col + "::jsonb) -> " + keyArg + "::text)::text"
		// Without the six characters \u0000 the text has no NUL; with them,
		// an odd number of backslashes before u0000 is the escape itself.
		return "(CASE WHEN strpos(" + col + `, '\u0000') = 0 THEN ` + member +
			" WHEN " + col + ` !~ '(^|[^\\])(\\\\)*\\u0000' THEN ` + member + " END)"
	}
	member := col + " -> " + keyArg
	// Nesting past 1,000 levels takes more than 2,000 bytes; half that
	// leaves room for doubt about where exactly SQLite stops.
	return "(CASE WHEN octet_length(" + col + ") <= 1000 THEN " + member +
		" WHEN json_valid(" + col + ") THEN " + member + " END)"
}

// jsonValue is the SQL for JSON text to compare with jsonMember. PostgreSQL
// prints jsonb in its own form ("R&D" where Go wrote "R\u0026D"), so the
// value goes through jsonb too; SQLite keeps the text as Go wrote it.
func (db *DB) jsonValue(arg string) string {
	if db.engine == Postgres {
		return "((" + arg + "::jsonb)::text)"
	}
	return arg
}
