package errs

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Kind classifies a domain error so the HTTP edge can map it to a status once.
type Kind int

// The kinds of domain error.
const (
	KindInvalid  Kind = iota + 1 // the request breaks a rule: 400
	KindNotFound                 // the thing does not exist: 404
	KindConflict                 // it would duplicate something unique: 409
	KindDenied                   // the caller may not do this: 403
	KindBusy                     // the server is at capacity for this work: 429, try again
)

// Error is a domain error with a sentence meant for the API caller and a
// short machine code in Auth0's vocabulary (for example "inexistent_user").
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// RetryAfter is when a KindBusy caller may try again (0: a second).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// Invalid reports a broken rule.
func Invalid(code, format string, args ...any) error {
	return &Error{Kind: KindInvalid, Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports a missing thing.
func NotFound(code, message string) error {
	return &Error{Kind: KindNotFound, Code: code, Message: message}
}

// Conflict reports a would-be duplicate.
func Conflict(code, message string) error {
	return &Error{Kind: KindConflict, Code: code, Message: message}
}

// Denied reports a caller who may not do this.
func Denied(code, message string) error {
	return &Error{Kind: KindDenied, Code: code, Message: message}
}

// Busy reports work turned away for now, which may be asked again after
// retryAfter.
func Busy(code, message string, retryAfter time.Duration) error {
	return &Error{Kind: KindBusy, Code: code, Message: message, RetryAfter: retryAfter}
}

// RetryAfter is the Retry-After header's value for a KindBusy error: whole
// seconds, at least one.
func RetryAfter(err error) string {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > time.Second {
		return strconv.Itoa(int((e.RetryAfter + time.Second - 1) / time.Second))
	}
	return "1"
}

// ErrNotFound is what a store returns for a missing row; services turn it into
// a NotFound error that names the thing.
var ErrNotFound = errors.New("not found")

// ErrDuplicate is what a store returns when a unique constraint would break.
var ErrDuplicate = errors.New("duplicate")

// ErrUnavailable is what a store returns when the database cannot be
// reached or cannot take writes (a PostgreSQL restart, a full disk): the
// request may succeed later, and the edge answers 503.
var ErrUnavailable = errors.New("the database is unavailable")

// ErrLeaseLost is what a store returns for a write made under a lease that
// is no longer the writer's: it lapsed and another instance took the work.
// The writer stops; what it would have written is the new holder's to do.
var ErrLeaseLost = errors.New("the lease was lost to another instance")

// KindOf returns the Kind of err, or 0 when err is not a domain error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}
