package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"
	"github.com/usherid/usher/internal/errs"
)

// Limits of the runtime.
const (
	// MaxCodeSize is the largest action code accepted, in bytes (Auth0's 100 kB).
	MaxCodeSize = 100 * 1024
	// DefaultTimeout is how long one action may run when the Service is not told otherwise.
	DefaultTimeout = 5 * time.Second
	// DefaultMemory is how much one run may grow the heap by, in bytes,
	// when the Service is not told otherwise.
	DefaultMemory = 128 << 20

	maxLogLine      = 256      // characters of one console line kept (Auth0 persists 256)
	maxLogLines     = 100      // console lines kept from one Run
	maxOutput       = 64 << 10 // bytes of metadata and claims one Run may collect
	maxTimers       = 1000     // pending setTimeout callbacks of one action
	maxCallStack    = 4096     // JavaScript call depth
	maxErrorMessage = 1024     // characters of an error message kept
	maxShowDepth    = 8        // nesting console.log and error messages show
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
// of time or memory. Its message never carries a Go stack.
type RunError struct {
	Action  string // the action's name
	Message string // what JavaScript said, with the line when known
	Timeout bool   // the action ran out of time or its Promise never settled
	Memory  bool   // the action went past its memory budget
}

func (e *RunError) Error() string { return fmt.Sprintf("action %q: %s", e.Action, e.Message) }

// Is makes errors.Is(err, ErrTimeout) true for a time-out and
// errors.Is(err, ErrMemory) for a run past its memory budget.
func (e *RunError) Is(target error) bool {
	return target == ErrTimeout && e.Timeout || target == ErrMemory && e.Memory
}

// The module wrapper of Node's CommonJS. The prefix stays on the code's first
// line so that line numbers are the author's.
const (
	moduleFile   = "action.js"
	modulePrefix = "(function (exports, require, module, __filename, __dirname) { "
	moduleSuffix = "\n})"
)

// compile compiles code as a CommonJS module. A syntax error is a 400 that
// names the line; so is a BigInt literal (see noBigInt).
func compile(code string) (prg *goja.Program, err error) {
	if len(code) > MaxCodeSize {
		return nil, errs.Invalid("invalid_body", "Payload validation error: 'String is too long (%d bytes), maximum %d' on property code.", len(code), MaxCodeSize)
	}
	defer func() {
		if x := recover(); x != nil {
			prg, err = nil, errs.Invalid("invalid_body", "The action's code does not compile.")
		}
	}()
	tree, err := goja.Parse(moduleFile, modulePrefix+code+moduleSuffix)
	if err == nil {
		if line := bigIntLine(tree); line > 0 {
			return nil, errs.Invalid("invalid_body", "The action's code does not compile: line %d: Usher runs Actions without BigInt.", line)
		}
		prg, err = goja.CompileAST(tree, false)
	}
	if err != nil {
		return nil, errs.Invalid("invalid_body", "The action's code does not compile: %s", syntaxMessage(err))
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
	memory    uint64     // bytes the run may grow the heap by
	errorType goja.Value // Error, as it was before the action's code could replace it
	timers    []*timer
	nextTimer int
	denied    bool // api.access.deny was called

	// Builtins as they were before the action's code could replace them.
	parse           goja.Callable // JSON.parse
	ownProperty     goja.Callable // Object.getOwnPropertyDescriptor
	construct       goja.Callable // Reflect.construct
	objectProto     *goja.Object  // Object.prototype
	typedArrayProto *goja.Object  // %TypedArray%.prototype

	once    sync.Once
	stopped chan struct{} // closed by the first halt
	halted  atomic.Bool   // the same, for loops in Go that look often
	mu      sync.Mutex
	reason  error  // why the run stopped: ErrTimeout, ErrMemory, the context's error, or errFinished
	detail  string // what went past the memory budget, when a guard saw it
}

// errFinished stops a run that has ended: from then on nothing of the
// action's may run, even when Go looks at its values.
var errFinished = errors.New("the run has ended")

type timer struct {
	id   int
	due  time.Time
	fn   goja.Callable
	args []goja.Value
}

func newExecution(action string, out *collector, memory uint64) *execution {
	vm := goja.New()
	vm.SetMaxCallStackSize(maxCallStack)
	e := &execution{vm: vm, action: action, out: out, memory: memory, stopped: make(chan struct{})}
	e.errorType = vm.Get("Error")
	object := vm.Get("Object").ToObject(vm)
	e.ownProperty, _ = goja.AssertFunction(object.Get("getOwnPropertyDescriptor"))
	e.construct, _ = goja.AssertFunction(vm.Get("Reflect").ToObject(vm).Get("construct"))
	e.objectProto = object.Get("prototype").ToObject(vm)
	e.parse, _ = goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("parse"))
	e.harden()
	console := vm.NewObject()
	for _, level := range []string{"log", "info", "warn", "error", "debug"} {
		console.Set(level, e.log)
	}
	vm.Set("console", console)
	vm.Set("setTimeout", e.setTimeout)
	vm.Set("clearTimeout", e.clearTimeout)
	return e
}

// halt stops the run for reason; the first reason is the one reported. It
// always arms the interrupt again, because goja clears it whenever control
// leaves the runtime: an interrupt that stays armed is what keeps a getter,
// toString or Proxy trap from running once the run is over.
func (e *execution) halt(reason error) {
	e.once.Do(func() {
		e.mu.Lock()
		e.reason = reason
		e.mu.Unlock()
		e.halted.Store(true)
		close(e.stopped)
	})
	e.vm.Interrupt(reason)
}

// stopReason is why the run stopped, nil while it runs.
func (e *execution) stopReason() (error, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reason, e.detail
}

// checkHalt throws when the run has stopped; guards' loops in Go call it,
// since goja only looks at the interrupt between instructions.
func (e *execution) checkHalt() {
	if e.halted.Load() {
		reason, _ := e.stopReason()
		e.vm.Interrupt(reason)
		panic(e.vm.NewGoError(reason))
	}
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
	var line strings.Builder
	for i, v := range call.Arguments {
		if i > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(e.show(v, maxLogLine-line.Len()))
		if line.Len() >= maxLogLine {
			break
		}
	}
	e.out.o.Logs = append(e.out.o.Logs, e.action+": "+truncate(line.String(), maxLogLine))
	return goja.Undefined()
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
	msg := fmt.Sprintf("Cannot find module '%s': Usher runs Actions without modules (no npm packages, no Node built-ins, no network or file system)", e.show(call.Argument(0), 200))
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

// toJSON turns a value from the action into plain Go data through the
// bounded JSON writer, counting its size against the Run's output limit.
// undefined and null are nil.
func (e *execution) toJSON(what string, v goja.Value) any {
	if goja.IsUndefined(v) || goja.IsNull(v) {
		return nil
	}
	left := maxOutput - e.out.output
	text, ok := e.jsonText(v, nil, nil, "", left, func() {
		e.throw("%s: the actions' metadata and claims exceed %d bytes", what, maxOutput)
	})
	if !ok {
		return nil
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
		text = truncate(e.show(reason, maxErrorMessage), maxErrorMessage)
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

// errHalted ends the Promise loop when the run was stopped while Go waited
// for a timer; fail reports the reason.
var errHalted = errors.New("halted")

// fail turns what goja returned into a RunError (or the context's error).
// It runs after the run ended, with the interrupt armed, and reads only the
// thrown value's own data: nothing of the action's runs here.
func (e *execution) fail(err error, timeout time.Duration) (out error) {
	defer func() {
		if recover() != nil {
			out = &RunError{Action: e.action, Message: "the JavaScript runtime failed"}
		}
	}()
	switch reason, detail := e.stopReason(); {
	case reason == ErrTimeout:
		return &RunError{Action: e.action, Message: fmt.Sprintf("timed out after %s", timeout), Timeout: true}
	case reason == ErrMemory:
		msg := fmt.Sprintf("ran out of memory: it went past its budget of %s", megabytes(e.memory))
		if detail != "" {
			msg += " (" + detail + ")"
		}
		return &RunError{Action: e.action, Message: msg, Memory: true}
	case reason != nil && reason != errFinished:
		return fmt.Errorf("action %q: %w", e.action, reason)
	}
	var interrupted *goja.InterruptedError
	var overflow *goja.StackOverflowError
	var ex *goja.Exception
	switch {
	case errors.As(err, &interrupted):
		return &RunError{Action: e.action, Message: "interrupted"}
	case errors.As(err, &overflow):
		return &RunError{Action: e.action, Message: "RangeError: Maximum call stack size exceeded"}
	case errors.As(err, &ex):
		return &RunError{Action: e.action, Message: e.describe(ex.Value(), ex.Stack())}
	}
	return &RunError{Action: e.action, Message: truncate(err.Error(), maxErrorMessage)}
}

// megabytes shows a byte count as whole megabytes.
func megabytes(n uint64) string { return fmt.Sprintf("%d MB", (n+(1<<20)-1)>>20) }

// describe shows a thrown or rejected value as console.log would, with the
// line it came from when known.
func (e *execution) describe(v goja.Value, stack []goja.StackFrame) string {
	if v == nil {
		return "undefined"
	}
	msg := e.show(v, maxErrorMessage)
	line := 0
	if obj, ok := v.(*goja.Object); ok && obj.ClassName() == "Error" {
		if s, ok := e.dataProp(obj, "stack"); ok && s.ExportType() != nil && s.ExportType().Kind() == reflect.String {
			if m := stackPosition.FindStringSubmatch(truncate(s.String(), 4096)); m != nil {
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

// limit stops the execution when timeout passes, ctx ends or the heap grows
// past the memory budget. The returned func ends the run: it releases the
// watches and arms the interrupt for good.
func (e *execution) limit(ctx context.Context, timeout time.Duration, m *meter) (end func()) {
	t := time.AfterFunc(timeout, func() { e.halt(ErrTimeout) })
	stopCtx := context.AfterFunc(ctx, func() { e.halt(ctx.Err()) })
	unwatch := m.watch(e)
	return func() {
		t.Stop()
		stopCtx()
		unwatch()
		e.halt(errFinished)
	}
}

// run executes one deployed action's handler with event (JSON text) and the
// action's secrets, then drives its Promise and timers until it settles.
func (e *execution) run(ctx context.Context, prg *goja.Program, trigger, eventJSON string, secrets map[string]string, timeout time.Duration, m *meter) error {
	end := e.limit(ctx, timeout, m)
	var rejected goja.Value
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
		event, err := e.parse(goja.Undefined(), vm.ToValue(eventJSON))
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
				case <-e.stopped:
					w.Stop()
					return errHalted
				}
			}
			if _, err := t.fn(goja.Undefined(), t.args...); err != nil {
				return err
			}
		}
		if p.State() == goja.PromiseStateRejected {
			rejected = p.Result()
		}
		return nil
	})
	end()
	if reason, _ := e.stopReason(); reason != errFinished && (err != nil || rejected != nil) {
		// Stopped (time, memory, context): that is the error, whatever the
		// code did with the exception a guard threw.
		return e.fail(err, timeout)
	}
	if err == nil && rejected != nil {
		err = &RunError{Action: e.action, Message: e.guardedDescribe(rejected)}
	}
	if err == nil {
		return nil
	}
	var re *RunError
	if errors.As(err, &re) {
		return err
	}
	return e.fail(err, timeout)
}

// guardedDescribe is describe for a value outside any goja call.
func (e *execution) guardedDescribe(v goja.Value) (s string) {
	defer func() {
		if recover() != nil {
			s = "the JavaScript runtime failed"
		}
	}()
	return e.describe(v, nil)
}

// check is the build: it loads the module once (its top level runs, with the
// time and memory limits) so that a require(), a top-level error or a
// missing handler is found when the action is saved.
func check(ctx context.Context, prg *goja.Program, trigger, code string, timeout time.Duration, m *meter) error {
	if strings.TrimSpace(code) == "" {
		return nil
	}
	e := newExecution("build", &collector{}, m.budget)
	end := e.limit(ctx, timeout, m)
	name := triggerSpecs[trigger].handler
	exported := false
	err := e.guard(func() error {
		exports, err := e.load(prg)
		_, exported = handler(exports, name)
		return err
	})
	end()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var re *RunError
		if !errors.As(err, &re) {
			if !errors.As(e.fail(err, timeout), &re) {
				return err
			}
		}
		return errs.Invalid("invalid_body", "The action's code fails when loaded: %s", re.Message)
	}
	if !exported {
		return errs.Invalid("invalid_body", "The action's code does not export %s, the function the %s trigger calls (exports.%s = async (event, api) => { … }).", name, trigger, name)
	}
	return nil
}
