// Package store keeps Usher's data in SQLite or PostgreSQL. One set of SQL
// serves both engines; the few places they differ are the dialect's.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/secretbox"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Engine names a database engine.
type Engine string

// The engines Usher runs on.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is an open database. Its methods run outside any transaction; Atomic
// hands out a transaction-bound view with the same methods.
type DB struct {
	*queries
	engine Engine
	write  *sql.DB        // SQLite: the one writer connection; PostgreSQL: the pool
	read   *sql.DB        // SQLite: a pool of readers; PostgreSQL: the same pool
	group  *groupCommit   // SQLite: runs Atomic; PostgreSQL commits in parallel instead
	box    *secretbox.Box // seals secrets at rest; nil: see WithSecretBox
}

// Open connects to dsn: "sqlite:PATH" or a postgres:// URL. It does not migrate.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	var db *DB
	var err error
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		db, err = openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err = openPostgres(ctx, dsn)
	default:
		return nil, fmt.Errorf("open database: %q is neither sqlite:PATH nor a postgres:// URL", Redact(dsn))
	}
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(db)
	}
	return db, nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open database: sqlite: needs a file path, as in sqlite:usher.db")
	}
	pragmas := "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	// The writer keeps its temporary files in memory: group commit gives each
	// caller a savepoint, and SQLite saves the first change of every page
	// under a savepoint (or of a multi-row insert) to a sub-journal, one
	// write call per page when that is a file. Its page cache holds a bulk
	// batch's pages until commit rather than spilling them half way (64 MB
	// at most).
	write, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(16384)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// SQLite has one writer at a time; one connection serialises writes
	// without busy waits.
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	read.SetMaxOpenConns(max(4, runtime.NumCPU()))
	read.SetMaxIdleConns(max(4, runtime.NumCPU()))
	db := &DB{engine: SQLite, write: write, read: read}
	db.queries = &queries{db: db, r: newPrepared(read, false), w: newPrepared(write, false)}
	db.group = newGroupCommit(db)
	return db, nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool.SetMaxOpenConns(max(8, 4*runtime.NumCPU()))
	pool.SetMaxIdleConns(max(8, 4*runtime.NumCPU()))
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", Redact(dsn), err)
	}
	db := &DB{engine: Postgres, write: pool, read: pool}
	w := newPrepared(pool, true)
	db.queries = &queries{db: db, r: w, w: w}
	return db, nil
}

// Redact hides the password in a database URL so it can be logged.
func Redact(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 {
		return dsn
	}
	userinfo := dsn[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return dsn[:scheme+3] + user + ":xxxxx" + dsn[at:]
	}
	return dsn
}

// Engine tells which engine the database runs on.
func (db *DB) Engine() Engine { return db.engine }

// Close closes every connection.
func (db *DB) Close() error {
	if db.group != nil {
		db.group.close()
	}
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// Migrate applies every pending migration. On PostgreSQL an advisory lock
// lets several instances start at once.
func (db *DB) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	dialect, opts := goose.DialectSQLite3, []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if db.engine == Postgres {
		dialect = goose.DialectPostgres
		// The lock is the schema's: Usher's tables (and goose's version
		// table) live in one schema, and instances of other schemas on the
		// same database need not wait for each other. Waiters look again
		// every second rather than goose's default five.
		var schema string
		if err := db.write.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		h := fnv.New64a()
		h.Write([]byte("usher-migrations:" + schema))
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64()>>1)), lock.WithLockTimeout(1, 300))
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.write, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return db.hideOldTickets(ctx)
}

// Migrated reports whether every migration has been applied.
func (db *DB) Migrated(ctx context.Context) (bool, error) {
	fsys, _ := fs.Sub(migrations, "migrations")
	dialect := goose.DialectSQLite3
	if db.engine == Postgres {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, db.read, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return false, err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		// HasPending's false on error does not mean nothing is pending.
		return false, err
	}
	return !pending, nil
}

// execer is what a query needs: a pool or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// prepared runs each distinct statement through one prepared statement per
// pool, reused across calls: SQLite otherwise parses every statement on every
// call, which costs more than the insert itself.
type prepared struct {
	pool  *sql.DB
	tx    *sql.Tx // set: run the statements in this transaction
	mu    *sync.Mutex
	stmts map[string]*sql.Stmt
	// wanted are statements first met inside a transaction, to prepare once
	// the transaction has given its connection back.
	wanted map[string]bool
	// detached runs statements without their context's cancellation: in a
	// transaction several callers share, one caller's cancellation must not
	// interrupt a statement, which would make SQLite roll back everyone's work.
	detached bool
	// rawInTx runs a transaction's statements as they are: database/sql
	// would prepare a pool statement again on the transaction's connection
	// at every call, a round trip each (with thousands of parameters for a
	// bulk insert), while pgx prepares and caches statements per connection
	// by itself.
	rawInTx bool
}

// maxPrepared bounds the cache; user searches build their SQL from the terms
// asked for, and rare shapes need not stay prepared.
const maxPrepared = 256

func newPrepared(pool *sql.DB, rawInTx bool) *prepared {
	return &prepared{pool: pool, mu: &sync.Mutex{}, stmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}, rawInTx: rawInTx}
}

// in returns the same cache bound to tx.
func (p *prepared) in(tx *sql.Tx) *prepared {
	return &prepared{pool: p.pool, tx: tx, mu: p.mu, stmts: p.stmts, wanted: p.wanted, rawInTx: p.rawInTx}
}

// stmt returns the prepared statement for query, or nil when the cache is
// full and query should run unprepared.
func (p *prepared) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if p.tx != nil && p.rawInTx {
		return nil, nil
	}
	p.mu.Lock()
	st, ok := p.stmts[query]
	full := len(p.stmts) >= maxPrepared
	p.mu.Unlock()
	if !ok {
		// Inside a transaction the pool may have no other connection to
		// prepare on (SQLite's writer has one): run it unprepared this time,
		// and prepare it once the transaction is over (warm).
		if full {
			return nil, nil
		}
		if p.tx != nil {
			p.mu.Lock()
			p.wanted[query] = true
			p.mu.Unlock()
			return nil, nil
		}
		var err error
		if st, err = p.pool.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		p.mu.Lock()
		if prev, raced := p.stmts[query]; raced {
			st.Close()
			st = prev
		} else {
			p.stmts[query] = st
		}
		p.mu.Unlock()
	}
	if p.tx != nil {
		return p.tx.StmtContext(ctx, st), nil
	}
	return st, nil
}

// warm prepares the statements transactions met unprepared, so that the
// next transaction finds them ready.
func (p *prepared) warm(ctx context.Context) {
	p.mu.Lock()
	var queries []string
	for q := range p.wanted {
		queries = append(queries, q)
	}
	clear(p.wanted)
	p.mu.Unlock()
	for _, q := range queries {
		if st, err := p.stmt(ctx, q); err == nil && st != nil && p.tx != nil {
			st.Close()
		}
	}
}

// context is ctx without its cancellation when p is detached.
func (p *prepared) context(ctx context.Context) context.Context {
	if p.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// raw is where unprepared statements run.
func (p *prepared) raw() execer {
	if p.tx != nil {
		return p.tx
	}
	return p.pool
}

// storable returns args with each string, nullable or not, made text both
// engines store: PostgreSQL refuses invalid UTF-8 and the NUL character, so
// that a stray byte in an id, a query or a form would otherwise be a server
// error. Both become U+FFFD, as encoding/json makes invalid UTF-8: a
// lookup then finds nothing, as for any unknown value, and no caller's text
// needs them.
func storable(args []any) []any {
	cloned := false
	for i, a := range args {
		var s string
		switch v := a.(type) {
		case string:
			s = v
		case sql.NullString:
			s = v.String
		default:
			continue
		}
		if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
			continue
		}
		if !cloned {
			args, cloned = slices.Clone(args), true
		}
		text := strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
		if v, ok := a.(sql.NullString); ok {
			args[i] = sql.NullString{String: text, Valid: v.Valid}
		} else {
			args[i] = text
		}
	}
	return args
}

func (p *prepared) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, args = p.context(ctx), storable(args)
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return p.raw().ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (p *prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, args = p.context(ctx), storable(args)
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return p.raw().QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (p *prepared) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx, args = p.context(ctx), storable(args)
	st, err := p.stmt(ctx, query)
	if err != nil || st == nil {
		// A failed prepare surfaces through Scan, as database/sql's own QueryRow does.
		return p.raw().QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// queries runs Usher's SQL on r (reads) and w (writes), which are the same
// transaction inside Atomic.
type queries struct {
	db   *DB
	r, w execer
	inTx bool
}

// Atomic runs fn in one transaction; nested calls join the outer one. On
// SQLite, calls made at the same time share one (see groupCommit).
func (q *queries) Atomic(ctx context.Context, fn func(identity.Store) error) error {
	return q.atomic(ctx, func(tx *queries) error { return fn(tx) })
}

// atomic is Atomic handing fn the store's own transaction-bound queries.
// On PostgreSQL, a transaction that lost a deadlock (or a serialization
// check) to a concurrent one was rolled back whole: it runs again, a few
// times, as if it had come later.
func (q *queries) atomic(ctx context.Context, fn func(tx *queries) error) error {
	if q.inTx {
		return fn(q)
	}
	if q.db.group != nil {
		return q.db.group.atomic(ctx, fn)
	}
	for attempt := 1; ; attempt++ {
		err := q.transact(ctx, fn)
		if attempt == maxAttempts || !lostToConcurrentWriter(err) || ctx.Err() != nil {
			return err
		}
	}
}

// maxAttempts bounds how often a PostgreSQL transaction that lost to a
// concurrent one runs again.
const maxAttempts = 5

// lostToConcurrentWriter reports whether PostgreSQL rolled a transaction
// back because of another one: a deadlock or a serialization failure.
func lostToConcurrentWriter(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// transact runs fn in one PostgreSQL transaction.
func (q *queries) transact(ctx context.Context, fn func(tx *queries) error) error {
	tx, err := q.db.write.BeginTx(ctx, nil)
	// database/sql retries a bad connection twice, but under a burst of
	// cancelled queries the pool can hand over connections pgx is still
	// closing; nothing has happened yet, so beginning again is safe.
	for try := 0; errors.Is(err, driver.ErrBadConn) && try < 5; try++ {
		tx, err = q.db.write.BeginTx(ctx, nil)
	}
	if err != nil {
		return fmt.Errorf("begin: %w", translate(err))
	}
	// Deferred so that a panic in fn also ends the transaction and frees its
	// connection; after Commit it does nothing.
	defer tx.Rollback()
	inTx := q.w.(*prepared).in(tx)
	if err := fn(&queries{db: q.db, r: inTx, w: inTx, inTx: true}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", translate(err))
	}
	q.w.(*prepared).warm(ctx)
	return nil
}

// forUpdate is the clause that makes a read inside a PostgreSQL transaction
// lock the rows it returns until the transaction ends (of names the table
// to lock when the query joins several): whoever reads a record to change
// it holds it, and a concurrent writer waits for the change and then reads
// it, rather than writing over it. Outside a transaction, and on SQLite,
// whose one writer runs transactions one at a time, it is "".
func (q *queries) forUpdate(of ...string) string {
	if !q.inTx || q.db.engine != Postgres {
		return ""
	}
	if len(of) > 0 {
		return " FOR UPDATE OF " + strings.Join(of, ", ")
	}
	return " FOR UPDATE"
}

// lock holds, until the transaction ends, the lock called name: what a
// read inside a PostgreSQL transaction takes for a record that may not be
// stored yet (a setting, a template at its default) or a set of rows that
// may be empty (a trigger's bindings), where FOR UPDATE would find no row
// to hold. Every transaction that reads the record to change it takes the
// same lock first, so they change it one after the other. Locks are named
// within the schema, so that instances of other schemas never wait on
// them. Outside a transaction, and on SQLite, whose one writer runs
// transactions one at a time, it does nothing.
func (q *queries) lock(ctx context.Context, name string) error {
	if !q.inTx || q.db.engine != Postgres {
		return nil
	}
	_, err := q.w.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || $1, 0))`, name)
	return translate(err)
}

// locked runs fn holding the lock called name (see lock): a write that
// needs no read first still waits for a transaction that read the record
// to change it, so that neither undoes the other. Outside a transaction on
// PostgreSQL it runs in one of its own.
func (q *queries) locked(ctx context.Context, name string, fn func(q *queries) error) error {
	if q.inTx || q.db.engine != Postgres {
		if err := q.lock(ctx, name); err != nil {
			return err
		}
		return fn(q)
	}
	return q.atomic(ctx, func(tx *queries) error { return tx.locked(ctx, name, fn) })
}

// translate maps engine errors to the domain's: unique violations become
// errs.ErrDuplicate, missing rows errs.ErrNotFound.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errs.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return fmt.Errorf("%w: %v", errs.ErrDuplicate, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: %v", errs.ErrDuplicate, err)
	}
	var named *opError
	if errors.As(err, &named) || errors.Is(err, errs.ErrNotFound) || errors.Is(err, errs.ErrDuplicate) || errors.Is(err, errs.ErrLeaseLost) {
		return err
	}
	if unavailable(err) {
		err = fmt.Errorf("%w: %w", errs.ErrUnavailable, err)
	}
	return &opError{op: operation(), err: err}
}

// unavailable tells an error of the database's reach or room (refused or
// broken connections, a server shutting down or starting, a full disk)
// from one of the statement.
func unavailable(err error) bool {
	var netErr net.Error
	var connect *pgconn.ConnectError
	var pe *pgconn.PgError
	var se *sqlite.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.As(err, &netErr), errors.As(err, &connect), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &pe):
		// Class 08: connection exception; 57P0x: the server is shutting down,
		// crashed or not yet accepting; 53100: disk full.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P0") || pe.Code == "53100"
	case errors.As(err, &se):
		return se.Code()&0xff == sqlite3.SQLITE_FULL || se.Code()&0xff == sqlite3.SQLITE_IOERR
	}
	return false
}

// opError is an unexpected database error with the store method it came
// from, so that a failure in the log names what failed ("store SaveJob:
// context canceled") rather than only how.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// operation names the outermost exported store method on the stack of its
// caller, found only when something failed.
func operation() string {
	pcs := make([]uintptr, 16)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	op := "store"
	for more := true; more; {
		var f runtime.Frame
		f, more = frames.Next()
		_, name, inStore := strings.Cut(f.Function, "usher/internal/store.")
		if !inStore && op != "store" {
			break // out of the store, past its method
		}
		name = name[strings.LastIndex(name, ".")+1:]
		if name != "" && name[0] >= 'A' && name[0] <= 'Z' {
			op = "store " + name
		}
	}
	return op
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func fromNullMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return fromMillis(ms.Int64)
}

// mustAffect turns "no row changed" into errs.ErrNotFound.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return translate(err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return errs.ErrNotFound
	}
	return nil
}
