package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"

	"github.com/usherid/usher/internal/identity"
)

// Limits of the runtime.
const (
	// MaxCodeSize is the largest action code accepted, in bytes (Auth0's 100 kB).
	MaxCodeSize = 100 * 1024
	// DefaultTimeout is how long one action may run when the Service is not told otherwise.
	DefaultTimeout = 5 * time.Second

	maxLogLine      = 256      // characters of one console line kept (Auth0 persists 256)
	maxLogLines     = 100      // console lines kept from one Run
	maxOutput       = 64 << 10 // bytes of metadata and claims one Run may collect
	maxTimers       = 1000     // pending setTimeout callbacks of one action
	maxCallStack    = 4096     // JavaScript call depth
	maxErrorMessage = 1024     // characters of an error message kept
)

// Outcome is what the actions of one trigger asked for. The caller applies it:
// AppMetadata and UserMetadata are merged one level deep into the user's (a
// nil value removes the key), the claims go into the tokens, and a non-empty
// Denied refuses the login (or registration) with that reason.
type Outcome struct {
	AppMetadata, UserMetadata, IDTokenClaims, AccessTokenClaims map[string]any
	Denied                                                      string
	Logs                                                        []string
}

// RunError is the error of an action that threw, was rejected, or ran out
// of time. Its message never carries a Go stack.
type RunError struct {
	Action  string // the action's name
	Message string // what JavaScript said, with the line when known
	Timeout bool   // the action ran out of time or its Promise never settled
}

func (e *RunError) Error() string { return fmt.Sprintf("action %q: %s", e.Action, e.Message) }

// Is makes errors.Is(err, ErrTimeout) true for a time-out.
func (e *RunError) Is(target error) bool { return target == ErrTimeout && e.Timeout }

// The module wrapper of Node's CommonJS. The prefix stays on the code's first
// line so that line numbers are the author's.
const (
	moduleFile   = "action.js"
	modulePrefix = "(function (exports, require, module, __filename, __dirname) { "
	moduleSuffix = "\n})"
)

// compile compiles code as a CommonJS module. A syntax error is a 400 that
// names the line.
func compile(code string) (prg *goja.Program, err error) {
	if len(code) > MaxCodeSize {
		return nil, identity.Invalid("invalid_body", "Payload validation error: 'String is too long (%d bytes), maximum %d' on property code.", len(code), MaxCodeSize)
	}
	defer func() {
		if x := recover(); x != nil {
			prg, err = nil, identity.Invalid("invalid_body", "The action's code does not compile.")
		}
	}()
	prg, err = goja.Compile(moduleFile, modulePrefix+code+moduleSuffix, false)
	if err != nil {
		return nil, identity.Invalid("invalid_body", "The action's code does not compile: %s", syntaxMessage(err))
	}
	return prg, nil
}

var (
	parserPosition = regexp.MustCompile(`^(?:action\.js: )?Line (\d+):(\d+) (.*?)(?: \(and \d+ more errors?\))?$`)
	stackPosition  = regexp.MustCompile(`action\.js:(\d+):(\d+)`)
)

// syntaxMessage says where and what the syntax error is, in the author's lines and columns.
func syntaxMessage(err error) string {
	var se *goja.CompilerSyntaxError
	if !errors.As(err, &se) {
		return strings.TrimPrefix(err.Error(), "SyntaxError: ")
	}
	line, col, msg := 0, 0, se.Message
	if se.File != nil {
		p := se.File.Position(se.Offset)
		line, col = p.Line, p.Column
	} else if m := parserPosition.FindStringSubmatch(se.Message); m != nil {
		line, _ = strconv.Atoi(m[1])
		col, _ = strconv.Atoi(m[2])
		msg = m[3]
	}
	if line == 0 {
		return strings.TrimPrefix(msg, moduleFile+": ")
	}
	if line == 1 {
		col = max(1, col-len(modulePrefix))
	}
	return fmt.Sprintf("line %d, column %d: %s", line, col, msg)
}

// collector gathers the Outcome of one Run across its actions.
type collector struct {
	o       Outcome
	output  int // bytes of metadata and claims collected
	dropped int // console lines over maxLogLines
}

// outcome is the Outcome, with a last line counting the console lines dropped.
func (c *collector) outcome() Outcome {
	if c.dropped > 0 {
		c.o.Logs = append(c.o.Logs, fmt.Sprintf("(%d more console lines dropped)", c.dropped))
		c.dropped = 0
	}
	return c.o
}

// execution is one action running in its own goja.Runtime (Runtimes are not
// safe for concurrent use; Programs are).
type execution struct {
	vm        *goja.Runtime
	action    string // the action's name
	out       *collector
	stringify goja.Callable
	errorType goja.Value // Error, as it was before the action's code could replace it
	timers    []*timer
	nextTimer int
	denied    bool // api.access.deny was called
}

type timer struct {
	id   int
	due  time.Time
	fn   goja.Callable
	args []goja.Value
}

func newExecution(action string, out *collector) *execution {
	vm := goja.New()
	vm.SetMaxCallStackSize(maxCallStack)
	e := &execution{vm: vm, action: action, out: out}
	// Keep JSON.stringify as it was before the action's code could replace it.
	e.stringify, _ = goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("stringify"))
	e.errorType = vm.Get("Error")
	console := vm.NewObject()
	for _, level := range []string{"log", "info", "warn", "error", "debug"} {
		console.Set(level, e.log)
	}
	vm.Set("console", console)
	vm.Set("setTimeout", e.setTimeout)
	vm.Set("clearTimeout", e.clearTimeout)
	return e
}

// throw raises a JavaScript TypeError from a native function.
func (e *execution) throw(format string, args ...any) {
	panic(e.vm.NewTypeError(fmt.Sprintf(format, args...)))
}

// log is console.log and its siblings: the line goes to Outcome.Logs,
// prefixed with the action's name and cut at maxLogLine characters.
func (e *execution) log(call goja.FunctionCall) goja.Value {
	if len(e.out.o.Logs) >= maxLogLines {
		e.out.dropped++
		return goja.Undefined()
	}
	parts := make([]string, len(call.Arguments))
	for i, v := range call.Arguments {
		parts[i] = e.format(v)
	}
	e.out.o.Logs = append(e.out.o.Logs, e.action+": "+truncate(strings.Join(parts, " "), maxLogLine))
	return goja.Undefined()
}

// format shows a value as console.log would: strings as they are, errors
// as their message, other objects as JSON.
func (e *execution) format(v goja.Value) string {
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return v.String()
	}
	if obj, ok := v.(*goja.Object); ok {
		if _, fn := goja.AssertFunction(v); !fn && obj.ClassName() != "Error" {
			if s, err := e.stringify(goja.Undefined(), v); err == nil && !goja.IsUndefined(s) {
				return s.String()
			}
		}
	}
	return safeString(v)
}

// safeString is v.String(), which may run the action's toString, or a
// placeholder when that throws.
func safeString(v goja.Value) (s string) {
	defer func() {
		if recover() != nil {
			s = "[object]"
		}
	}()
	return v.String()
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// setTimeout queues fn on the action's own loop, which runs while the
// handler's Promise is pending; the delay is real time within the limit.
func (e *execution) setTimeout(call goja.FunctionCall) goja.Value {
	fn, ok := goja.AssertFunction(call.Argument(0))
	if !ok {
		e.throw("setTimeout: the callback must be a function")
	}
	if len(e.timers) >= maxTimers {
		e.throw("setTimeout: more than %d timers pending", maxTimers)
	}
	delay := call.Argument(1).ToFloat()
	if !(delay > 0) { // also NaN
		delay = 0
	}
	delay = min(delay, float64(time.Hour/time.Millisecond))
	e.nextTimer++
	var args []goja.Value
	if len(call.Arguments) > 2 {
		args = append(args, call.Arguments[2:]...)
	}
	e.timers = append(e.timers, &timer{id: e.nextTimer, due: time.Now().Add(time.Duration(delay * float64(time.Millisecond))), fn: fn, args: args})
	return e.vm.ToValue(e.nextTimer)
}

func (e *execution) clearTimeout(call goja.FunctionCall) goja.Value {
	id := int(call.Argument(0).ToInteger())
	for i, t := range e.timers {
		if t.id == id {
			e.timers = append(e.timers[:i], e.timers[i+1:]...)
			break
		}
	}
	return goja.Undefined()
}

// nextDue removes and returns the timer due first (the earliest queued among equals).
func (e *execution) nextDue() *timer {
	best := 0
	for i, t := range e.timers {
		if t.due.Before(e.timers[best].due) {
			best = i
		}
	}
	t := e.timers[best]
	e.timers = append(e.timers[:best], e.timers[best+1:]...)
	return t
}

// require knows no module: actions run without npm packages, Node's
// built-in modules, the network or the file system.
func (e *execution) require(call goja.FunctionCall) goja.Value {
	msg := fmt.Sprintf("Cannot find module '%s': Usher runs Actions without modules (no npm packages, no Node built-ins, no network or file system)", safeString(call.Argument(0)))
	err, _ := e.vm.New(e.errorType, e.vm.ToValue(msg))
	if err == nil {
		e.throw("%s", msg)
	}
	err.Set("code", "MODULE_NOT_FOUND")
	panic(err)
}

// load runs the module's top level and returns module.exports (nil when it is
// not an object).
func (e *execution) load(prg *goja.Program) (*goja.Object, error) {
	wrapper, err := e.vm.RunProgram(prg)
	if err != nil {
		return nil, err
	}
	fn, ok := goja.AssertFunction(wrapper)
	if !ok {
		return nil, errors.New("the module wrapper is not a function")
	}
	vm := e.vm
	exports, module := vm.NewObject(), vm.NewObject()
	module.Set("exports", exports)
	if _, err := fn(goja.Undefined(), exports, vm.ToValue(e.require), module, vm.ToValue("/"+moduleFile), vm.ToValue("/")); err != nil {
		return nil, err
	}
	out, ok := module.Get("exports").(*goja.Object)
	if !ok {
		return nil, nil
	}
	return out, nil
}

// handler returns exports[name] when it is a function.
func handler(exports *goja.Object, name string) (goja.Callable, bool) {
	if exports == nil {
		return nil, false
	}
	return goja.AssertFunction(exports.Get(name))
}

// toJSON turns a value from the action into plain Go data through
// JSON.stringify, counting its size against the Run's output limit.
// undefined and null are nil.
func (e *execution) toJSON(what string, v goja.Value) any {
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return nil
	}
	s, err := e.stringify(goja.Undefined(), v)
	if err != nil {
		panic(err) // the action's own exception, or an interrupt, carries on
	}
	if goja.IsUndefined(s) {
		return nil
	}
	text := s.String()
	if e.out.output+len(text) > maxOutput {
		e.throw("%s: the actions' metadata and claims exceed %d bytes", what, maxOutput)
	}
	e.out.output += len(text)
	var out any
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		e.throw("%s: the value cannot be stored as JSON", what)
	}
	return out
}

// setter returns a native function(key, value) that records value under key
// in the map *dst and returns ret for chaining.
func (e *execution) setter(what string, dst *map[string]any, ret *goja.Object) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		key, ok := call.Argument(0).Export().(string)
		if !ok {
			e.throw("%s: the key must be a string", what)
		}
		value := e.toJSON(what, call.Argument(1))
		e.out.output += len(key)
		if *dst == nil {
			*dst = map[string]any{}
		}
		(*dst)[key] = value
		return ret
	}
}

// deny records the reason a flow is refused; the action carries on, later ones do not run.
func (e *execution) deny(reason goja.Value) {
	text := ""
	if !goja.IsUndefined(reason) && !goja.IsNull(reason) {
		text = truncate(safeString(reason), maxErrorMessage)
	}
	if text == "" {
		text = "Access denied."
	}
	if !e.denied {
		e.out.o.Denied = text
		e.denied = true
	}
}

// api builds the trigger's api object.
func (e *execution) api(trigger string) *goja.Object {
	vm := e.vm
	api := vm.NewObject()
	obj := func(parent *goja.Object, name string) *goja.Object {
		o := vm.NewObject()
		parent.Set(name, o)
		return o
	}
	access := func(call goja.FunctionCall) goja.Value {
		e.deny(call.Argument(0))
		return api
	}
	user := func() {
		u := obj(api, "user")
		u.Set("setAppMetadata", e.setter("api.user.setAppMetadata", &e.out.o.AppMetadata, api))
		u.Set("setUserMetadata", e.setter("api.user.setUserMetadata", &e.out.o.UserMetadata, api))
	}
	switch trigger {
	case PostLogin:
		obj(api, "access").Set("deny", access)
		user()
		obj(api, "idToken").Set("setCustomClaim", e.setter("api.idToken.setCustomClaim", &e.out.o.IDTokenClaims, api))
		obj(api, "accessToken").Set("setCustomClaim", e.setter("api.accessToken.setCustomClaim", &e.out.o.AccessTokenClaims, api))
	case PreUserRegistration:
		// Here Auth0's signature is deny(code, reason): the reason is what the person sees.
		obj(api, "access").Set("deny", func(call goja.FunctionCall) goja.Value {
			if len(call.Arguments) > 1 {
				e.deny(call.Argument(1))
			} else {
				e.deny(call.Argument(0))
			}
			return api
		})
		user()
		obj(api, "validation").Set("error", func(call goja.FunctionCall) goja.Value {
			e.deny(call.Argument(1))
			return api
		})
	}
	return api
}

// fail turns what goja returned into a RunError (or the context's error).
// Showing the value may run the action's code (a toString, a getter), so a
// panic here is caught too.
func (e *execution) fail(ctx context.Context, err error, timeout time.Duration) (out error) {
	defer func() {
		if recover() != nil {
			out = &RunError{Action: e.action, Message: "the JavaScript runtime failed"}
		}
	}()
	var interrupted *goja.InterruptedError
	var overflow *goja.StackOverflowError
	var ex *goja.Exception
	switch {
	case errors.As(err, &interrupted):
		if interrupted.Value() == ErrTimeout {
			return &RunError{Action: e.action, Message: fmt.Sprintf("timed out after %s", timeout), Timeout: true}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("action %q: %w", e.action, ctx.Err())
		}
		return &RunError{Action: e.action, Message: "interrupted"}
	case errors.As(err, &overflow):
		return &RunError{Action: e.action, Message: "RangeError: Maximum call stack size exceeded"}
	case errors.As(err, &ex):
		return &RunError{Action: e.action, Message: e.describe(ex.Value(), ex.Stack())}
	}
	return &RunError{Action: e.action, Message: truncate(err.Error(), maxErrorMessage)}
}

// describe shows a thrown or rejected value as console.log would, with the
// line it came from when known.
func (e *execution) describe(v goja.Value, stack []goja.StackFrame) string {
	if v == nil {
		return "undefined"
	}
	msg := e.format(v)
	line := 0
	if obj, ok := v.(*goja.Object); ok && obj.ClassName() == "Error" {
		if s := obj.Get("stack"); s != nil {
			if m := stackPosition.FindStringSubmatch(safeString(s)); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
		}
	}
	if line == 0 {
		for _, f := range stack {
			if f.SrcName() == moduleFile {
				line = f.Position().Line
				break
			}
		}
	}
	msg = truncate(msg, maxErrorMessage)
	if line > 0 {
		msg += fmt.Sprintf(" (line %d)", line)
	}
	return msg
}

// guard runs fn, turning a panic inside goja into an error instead of a crash.
func (e *execution) guard(fn func() error) (err error) {
	defer func() {
		if x := recover(); x != nil {
			err = &RunError{Action: e.action, Message: "the JavaScript runtime failed"}
		}
	}()
	return fn()
}

// limit interrupts the execution when timeout passes or ctx ends; expired is
// closed at the time-out. stop releases both watches.
func (e *execution) limit(ctx context.Context, timeout time.Duration) (expired <-chan struct{}, stop func()) {
	ch := make(chan struct{})
	t := time.AfterFunc(timeout, func() {
		close(ch)
		e.vm.Interrupt(ErrTimeout)
	})
	stopCtx := context.AfterFunc(ctx, func() { e.vm.Interrupt(ctx.Err()) })
	return ch, func() {
		t.Stop()
		stopCtx()
	}
}

// run executes one deployed action's handler with event (JSON text) and the
// action's secrets, then drives its Promise and timers until it settles.
func (e *execution) run(ctx context.Context, prg *goja.Program, trigger, eventJSON string, secrets map[string]string, timeout time.Duration) error {
	expired, stop := e.limit(ctx, timeout)
	defer stop()
	err := e.guard(func() error {
		exports, err := e.load(prg)
		if err != nil {
			return err
		}
		name := triggerSpecs[trigger].handler
		fn, ok := handler(exports, name)
		if !ok {
			return nil // nothing to run for this trigger, as in Auth0
		}
		vm := e.vm
		parse, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
		event, err := parse(goja.Undefined(), vm.ToValue(eventJSON))
		if err != nil {
			return err
		}
		sec := vm.NewObject()
		for k, v := range secrets {
			sec.Set(k, v)
		}
		event.ToObject(vm).Set("secrets", sec)
		result, err := fn(goja.Undefined(), event, e.api(trigger))
		if err != nil {
			return err
		}
		p, ok := result.Export().(*goja.Promise)
		if !ok {
			return nil
		}
		for p.State() == goja.PromiseStatePending {
			if len(e.timers) == 0 {
				return &RunError{Action: e.action, Message: "the Promise returned by " + name + " never settled", Timeout: true}
			}
			t := e.nextDue()
			if wait := time.Until(t.due); wait > 0 {
				w := time.NewTimer(wait)
				select {
				case <-w.C:
				case <-expired:
					w.Stop()
					return &RunError{Action: e.action, Message: fmt.Sprintf("timed out after %s", timeout), Timeout: true}
				case <-ctx.Done():
					w.Stop()
					return fmt.Errorf("action %q: %w", e.action, ctx.Err())
				}
			}
			if _, err := t.fn(goja.Undefined(), t.args...); err != nil {
				return err
			}
		}
		if p.State() == goja.PromiseStateRejected {
			return &RunError{Action: e.action, Message: e.describe(p.Result(), nil)}
		}
		return nil
	})
	if err == nil {
		return nil
	}
	var re *RunError
	if errors.As(err, &re) || ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	return e.fail(ctx, err, timeout)
}

// check is the build: it loads the module once (its top level runs, with the
// time limit) so that a require(), a top-level error or a missing handler is
// found when the action is saved.
func check(ctx context.Context, prg *goja.Program, trigger, code string, timeout time.Duration) error {
	if strings.TrimSpace(code) == "" {
		return nil
	}
	e := newExecution("build", &collector{})
	_, stop := e.limit(ctx, timeout)
	defer stop()
	var exports *goja.Object
	err := e.guard(func() (err error) {
		exports, err = e.load(prg)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var re *RunError
		if !errors.As(err, &re) {
			errors.As(e.fail(ctx, err, timeout), &re)
		}
		return identity.Invalid("invalid_body", "The action's code fails when loaded: %s", re.Message)
	}
	name := triggerSpecs[trigger].handler
	if _, ok := handler(exports, name); !ok {
		return identity.Invalid("invalid_body", "The action's code does not export %s, the function the %s trigger calls (exports.%s = async (event, api) => { … }).", name, trigger, name)
	}
	return nil
}
