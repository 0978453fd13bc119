package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// maxGroup bounds how many callers share one transaction, and so how long
// the first of them waits for the last.
const maxGroup = 64

// groupCommit runs the Atomic calls that arrive while SQLite's one writer is
// busy in one transaction, each caller's work under its own savepoint.
// Writing a transaction's pages to the WAL costs more than the statements
// that made them, and concurrent callers touch many of the same pages (the
// ends of every index ordered by time), so one commit for many callers does
// much of the work once. A caller whose work fails is rolled back to its
// savepoint and leaves nothing; the others' work stays, and each caller is
// told its own result only once COMMIT has returned.
type groupCommit struct {
	db    *DB
	queue chan *member // unbuffered: the callers blocked sending are the next group
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// member is one caller's Atomic call in a group.
type member struct {
	ctx      context.Context
	fn       func(*queries) error
	err      error
	panicked any // what fn panicked with, to panic with again in the caller
	done     chan struct{}
}

// errPanicked marks a member whose function panicked.
var errPanicked = errors.New("the transaction's function panicked")

// errClosed answers an Atomic call made after Close.
var errClosed = errors.New("database is closed")

func newGroupCommit(db *DB) *groupCommit {
	g := &groupCommit{db: db, queue: make(chan *member), quit: make(chan struct{}), done: make(chan struct{})}
	go g.run()
	return g
}

// atomic runs fn in the next group and returns its own result.
func (g *groupCommit) atomic(ctx context.Context, fn func(*queries) error) error {
	m := &member{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case g.queue <- m:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.quit:
		return errClosed
	}
	<-m.done
	if m.panicked != nil {
		panic(m.panicked)
	}
	return m.err
}

// close stops the committer once the group it is running has committed.
func (g *groupCommit) close() {
	g.once.Do(func() { close(g.quit) })
	<-g.done
}

func (g *groupCommit) run() {
	defer close(g.done)
	for {
		var group []*member
		select {
		case m := <-g.queue:
			group = append(group, m)
		case <-g.quit:
			return
		}
	gather:
		for len(group) < maxGroup {
			select {
			case m := <-g.queue:
				group = append(group, m)
			default:
				break gather
			}
		}
		g.commit(group)
	}
}

// commit runs group in one transaction and tells each member its result.
func (g *groupCommit) commit(group []*member) {
	if len(group) == 0 {
		return
	}
	// No member's context may end the transaction the others share: each
	// member's statements run detached from its cancellation, which is
	// checked before and after its function instead.
	tx, err := g.db.write.BeginTx(context.Background(), nil)
	if err != nil {
		finish(group, fmt.Errorf("begin: %w", err))
		return
	}
	w := g.db.w.(*prepared)
	inTx := w.in(tx)
	inTx.detached = true
	st := &queries{db: g.db, r: inTx, w: inTx, inTx: true}
	exec := func(query string) error {
		_, err := inTx.ExecContext(context.Background(), query)
		return err
	}
	solo := len(group) == 1 // alone, a failure rolls the transaction back: no savepoint needed
	var landed []*member
	for i, m := range group {
		if m.err = m.ctx.Err(); m.err != nil {
			close(m.done) // gone before its turn: nothing ran
			continue
		}
		if !solo {
			m.err = exec(`SAVEPOINT member`)
		}
		if m.err == nil {
			m.err = m.run(st)
		}
		if m.err == nil {
			// Cancelled while it ran: rolled back, as a lone transaction would be.
			m.err = m.ctx.Err()
		}
		if m.err == nil && !solo {
			m.err = exec(`RELEASE member`)
		}
		if m.err == nil {
			landed = append(landed, m)
			continue
		}
		if solo {
			tx.Rollback()
			close(m.done)
			return
		}
		if err := errors.Join(exec(`ROLLBACK TO member`), exec(`RELEASE member`)); err != nil {
			// SQLite rolled the whole transaction back (an I/O error, say):
			// the work of the members before this one is lost with it. Those
			// after it have not run yet and get a transaction of their own.
			tx.Rollback()
			close(m.done)
			finish(landed, fmt.Errorf("commit: lost with another caller's failed transaction: %w", err))
			g.commit(group[i+1:])
			return
		}
		close(m.done)
	}
	if err := tx.Commit(); err != nil {
		finish(landed, fmt.Errorf("commit: %w", translate(err)))
		return
	}
	w.warm(context.Background())
	finish(landed, nil)
}

// run calls the member's function, turning a panic into errPanicked so that
// the panic reaches the caller instead of ending the committer.
func (m *member) run(st *queries) (err error) {
	defer func() {
		if v := recover(); v != nil {
			m.panicked, err = v, errPanicked
		}
	}()
	return m.fn(st)
}

// finish tells members their result; err nil keeps the one each has.
func finish(members []*member, err error) {
	for _, m := range members {
		if err != nil {
			m.err = err
		}
		close(m.done)
	}
}
