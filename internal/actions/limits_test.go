package actions_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/errs"
)

// Budgets of the attack tests: a small memory budget, so that an attack
// that got through would show at once, and a time-out long enough that the
// attacks that fill memory slowly (a growing array) reach the memory budget
// first even under the race detector on a loaded machine. Only a run that
// went wrong waits for the time-out.
const (
	testMemory  = 16 << 20
	testTimeout = 30 * time.Second
)

// attacks are handlers that try to take the process's memory, or to run
// past the time-out. Each one must end the run with the right error, and
// the service must run the next action as before.
var attacks = []struct {
	name, code string
	want       string // "memory", "timeout", or a substring of the error
}{
	{"one huge repeat", `'x'.repeat(2**32)`, "memory"},
	{"a repeat caught and tried again", `for (;;) { try { 'x'.repeat(2**40); } catch (e) {} }`, "memory"},
	{"a string that doubles", `let s = 'x'; for (;;) s += s;`, "memory"},
	{"a string that doubles through a template", "let s = 'x'; for (;;) s = `${s}${s}`;", "memory"},
	{"padStart", `'x'.padStart(2**31)`, "memory"},
	{"padEnd", `'x'.padEnd(2**31, 'ab')`, "memory"},
	{"concat of many copies", `const s = 'x'.repeat(1e4); s.concat(...Array(1e4).fill(s))`, "memory"},
	{"an ArrayBuffer", `new ArrayBuffer(2**31)`, "memory"},
	{"a typed array", `new Float64Array(2**28)`, "memory"},
	{"a typed array from a fake array", `new Uint8Array({length: 2**32})`, "memory"},
	{"a typed array subclass", `class Big extends Uint32Array {}; new Big(2**30)`, "memory"},
	{"join of a sparse array", `Array(2**32 - 1).join('x')`, "memory"},
	{"join of shared strings", `const s = 'x'.repeat(1e4); Array(2e4).fill(s).join('')`, "memory"},
	{"toString of shared strings", `const s = 'x'.repeat(1e4); String(Array(2e4).fill(s))`, "memory"},
	{"fill of a sparse array", `Array(2**32 - 1).fill(0)`, "memory"},
	{"indexOf on a fake array", `[].indexOf.call({length: 2**40}, 1)`, "memory"},
	{"apply with a fake array", `Math.max.apply(null, {length: 2**31})`, "memory"},
	{"Reflect.apply with a fake array", `Reflect.apply(Math.max, null, {length: 2**31})`, "memory"},
	{"Array.from a fake array", `Array.from({length: 2**32})`, "memory"},
	{"String.raw with a fake array", `String.raw({raw: {length: 2**32}})`, "memory"},
	{"JSON.stringify of shared branches", `let o = [1]; for (let i = 0; i < 40; i++) o = [o, o]; JSON.stringify(o)`, "memory"},
	{"JSON.stringify of shared strings", `const s = 'x'.repeat(1e4); JSON.stringify(Array(2e4).fill(s))`, "memory"},
	{"flat of shared branches", `let o = [1]; for (let i = 0; i < 40; i++) o = [o, o]; o.flat(Infinity)`, "memory"},
	{"flatMap of shared arrays", `const a = Array(2e4).fill(0); a.flatMap(() => a)`, "memory"},
	{"Object.keys of a typed array", `Object.keys(new Uint8Array(8e6))`, "memory"},
	{"a Set of a long string", `new Set('x'.repeat(1e6))`, "memory"},
	{"replace with the rest of the text", `'x'.repeat(1e5).replace(/(?:)/g, "$'")`, "memory"},
	{"replace with a function returning a long string", `const s = 'x'.repeat(1e4); 'y'.repeat(1e4).replace(/y/g, () => s)`, "memory"},
	{"split of a long string", `('x'.repeat(2**20) + 'x'.repeat(2**20)).split('')`, "memory"},
	{"an array that grows", `const a = []; for (;;) a.push({ n: 'x'.repeat(100) + a.length });`, "memory"},
	{"objects that grow", `const m = new Map(); for (let i = 0; ; i++) m.set(i, 'v'.repeat(10000) + i);`, "memory"},
	{"JSON.parse of a long text", `JSON.parse('[' + '0,'.repeat(2**22) + '0]')`, "memory"},
	{"JSON.parse nested deeply", `JSON.parse('['.repeat(1e5))`, "nested more than"},
	{"JSON.stringify nested deeply", `let o = {}; for (let i = 0; i < 1e4; i++) o = {o}; JSON.stringify(o)`, "nested more than"},
	{"eval", `eval('1')`, "without eval"},
	{"new Function", `new Function('return 1')()`, "without eval"},
	{"the Function constructor reached through a function", `(() => 1).constructor('return 1')()`, "without eval"},
	{"async function constructor", `(async () => 1).constructor('return 1')()`, "without eval"},
	{"BigInt", `BigInt(2) ** BigInt(1e10)`, "BigInt is not defined"},
	{"BigInt from a typed array", `new BigInt64Array(1)`, "BigInt64Array is not defined"},
}

// TestAttacksStopCleanly runs each attack as a post-login handler and as the
// top level of a build. Not parallel: an attack that got through must not
// be blamed on another test.
func TestAttacksStopCleanly(t *testing.T) {
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			// The budget counts from the GC's goal: start each attack on a
			// collected heap, whatever the one before left behind.
			runtime.GC()
			s := newService(t, actions.Options{Timeout: testTimeout, Memory: testMemory})
			handler := "exports.onExecutePostLogin = async (event, api) => {\n" + a.code + "\n};"
			deployAll(t, s, []action{{name: "attack", code: handler}})
			_, err := s.Run(t.Context(), actions.PostLogin, loginEvent(nil))
			checkAttack(t, "Run", err, a.want)
			var re *actions.RunError
			if !errors.As(err, &re) {
				t.Errorf("Run: %T is not a *RunError", err)
			}

			runtime.GC()
			_, err = s.CreateAction(t.Context(), actions.ActionInput{Name: "top-level", SupportedTriggers: []actions.TriggerInput{{ID: actions.PostLogin}},
				Code: a.code + "\n" + workflowAction})
			if errs.KindOf(err) != errs.KindInvalid {
				t.Errorf("build: %v, want a 400", err)
			}
			checkAttack(t, "build", err, a.want)

			// The service runs the next action as before.
			ok := newService(t, actions.Options{Timeout: testTimeout, Memory: testMemory})
			deployAll(t, ok, []action{{name: "clear-invitation", code: workflowAction}})
			if o, err := ok.Run(t.Context(), actions.PostLogin, loginEvent(map[string]any{"needsInvitation": true})); err != nil || o.AppMetadata["needsInvitation"] != false {
				t.Fatalf("after the attack: %+v, %v", o, err)
			}
		})
	}
}

func checkAttack(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch want {
	case "memory":
		if !errors.Is(err, actions.ErrMemory) && !strings.Contains(fmtErr(err), "ran out of memory") {
			t.Errorf("%s: %v, want out of memory", what, err)
		}
	case "timeout":
		if !errors.Is(err, actions.ErrTimeout) && !strings.Contains(fmtErr(err), "timed out") {
			t.Errorf("%s: %v, want a time-out", what, err)
		}
	default:
		if !strings.Contains(fmtErr(err), want) {
			t.Errorf("%s: %v, want an error containing %q", what, err, want)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestCatastrophicRegexp checks that a backtracking regular expression
// cannot hold the run past its time-out: regexp2 gives up on one match
// after a second, and the run's own limit stops it at the next instruction.
func TestCatastrophicRegexp(t *testing.T) {
	s := newService(t, actions.Options{Timeout: 300 * time.Millisecond})
	deployAll(t, s, []action{{name: "regexp", code: `exports.onExecutePostLogin = () => { /^(a+)+(?=c)/.test('a'.repeat(40) + 'b'); };`}})
	if _, err := s.Run(t.Context(), actions.PostLogin, loginEvent(nil)); !errors.Is(err, actions.ErrTimeout) {
		t.Fatalf("Run: %v, want a time-out", err)
	}
}

// TestThrownValuesRunNothing throws values whose getters, toString and
// Proxy traps never return: describing the error must not call them, so
// the run ends at once with what the value's own data says.
func TestThrownValuesRunNothing(t *testing.T) {
	tests := []struct{ name, code, want string }{
		{"an object with looping message and toString",
			`throw { code: 'E1', get message() { for (;;) {} }, toString() { for (;;) {} } };`, `action "thrower": {"code":"E1"}`},
		{"an Error whose message and name loop",
			`const e = new TypeError('x'); Object.defineProperty(e, 'message', { get() { for (;;) {} } }); Object.defineProperty(e, 'name', { get() { for (;;) {} } }); throw e;`, `action "thrower": TypeError`},
		{"a Proxy whose traps loop",
			`const loop = () => { for (;;) {} }; throw new Proxy({}, { get: loop, ownKeys: loop, getOwnPropertyDescriptor: loop, getPrototypeOf: loop, has: loop });`, "[object]"},
		{"a rejection with a looping toString",
			`await null; throw { toString() { for (;;) {} }, valueOf() { for (;;) {} } };`, `action "thrower": {}`},
		{"console.log of looping getters",
			`console.log({ a: 1, get b() { for (;;) {} } }); throw new Error('after');`, "Error: after (line 2)"},
		{"deny with a looping reason",
			`api.access.deny({ toString() { for (;;) {} } }); throw new Error('after');`, "Error: after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A long time-out: the test only ends quickly if nothing waits for it.
			s := newService(t, actions.Options{Timeout: time.Minute})
			deployAll(t, s, []action{{name: "thrower", code: "exports.onExecutePostLogin = async (event, api) => {\n" + tc.code + "\n};"}})
			_, err := s.Run(t.Context(), actions.PostLogin, loginEvent(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, actions.ErrTimeout) {
				t.Fatalf("Run: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestGuardedBuiltinsStillWork checks that the guarded builtins do what
// JavaScript says when the request is within the budget.
func TestGuardedBuiltinsStillWork(t *testing.T) {
	code := `exports.onExecutePostLogin = async (event, api) => {
  const out = [];
  out.push('ab'.repeat(3), 'x'.padStart(3, '-'), 'x'.padEnd(3), 'a'.concat('b', 1));
  out.push([1, [2, [3, [4]]]].flat(Infinity).join('+'), [1, 2].flatMap((x) => [x, x * 10]).join());
  out.push(String([1, null, undefined, 'z']), [3, 1, 2].sort().join(''), Array.from('abc').join('|'));
  out.push('a-b-c'.split('-').length, 'aXbX'.replace(/X/g, (m) => m.toLowerCase()), 'abc'.replace('b', "[$&$']"), 'x.y'.replaceAll('.', '$$'));
  out.push(new Uint8Array([1, 2, 3]).join(':'), new Float64Array(2).length, new ArrayBuffer(8).byteLength, new Uint8Array(new ArrayBuffer(4)).length);
  class Sub extends Uint8Array {}
  const sub = new Sub(2);
  out.push(sub instanceof Uint8Array, sub instanceof Sub, Uint8Array.BYTES_PER_ELEMENT, Uint8Array.from([5, 6]).join(), new Set('aab').size, new Map([[1, 2]]).get(1));
  out.push(JSON.stringify({ a: [1, 'x', null, undefined, () => 1], b: { c: true }, d: undefined, e: new Date(0), n: NaN }));
  out.push(JSON.stringify({ b: 1, a: 2, c: 3 }, ['a', 'b']), JSON.stringify([1, { x: 2 }], null, 2), JSON.stringify({ a: 1, b: 2 }, (k, v) => (k === 'b' ? undefined : v)));
  out.push(JSON.stringify('q"\n'), JSON.stringify(undefined) === undefined, JSON.parse('{"a":[1,{"b":2}]}').a[1].b);
  out.push(Object.keys({ x: 1, y: 2 }).join(), Math.max.apply(null, [1, 5, 2]), Reflect.apply(Math.min, null, [4, 3]), String.raw` + "`a\\nb`" + `);
  let circular = {}; circular.self = circular;
  try { JSON.stringify(circular); } catch (e) { out.push(e instanceof TypeError); }
  api.idToken.setCustomClaim('out', out);
};`
	s := newService(t, actions.Options{Timeout: 5 * time.Second, Memory: testMemory})
	deployAll(t, s, []action{{name: "builtins", code: code}})
	o, err := s.Run(t.Context(), actions.PostLogin, loginEvent(nil))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := o.IDTokenClaims["out"].([]any)
	want := []any{"ababab", "--x", "x  ", "ab1",
		"1+2+3+4", "1,10,2,20",
		"1,,,z", "123", "a|b|c",
		float64(3), "axbx", "a[bc]c", "x$y",
		"1:2:3", float64(2), float64(8), float64(4),
		true, true, float64(1), "5,6", float64(2), float64(2),
		`{"a":[1,"x",null,null,null],"b":{"c":true},"e":"1970-01-01T00:00:00.000Z","n":null}`,
		`{"a":2,"b":1}`, "[\n  1,\n  {\n    \"x\": 2\n  }\n]", `{"a":1}`,
		`"q\"\n"`, true, float64(2),
		"x,y", float64(5), float64(3), `a\nb`,
		true,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d values %#v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("value %d: got %#v, want %#v", i, got[i], want[i])
		}
	}
}

// TestBuildRefusesBigInt checks that a BigInt literal is a 400 naming its line.
func TestBuildRefusesBigInt(t *testing.T) {
	s := newService(t, actions.Options{})
	_, err := s.CreateAction(t.Context(), actions.ActionInput{Name: "big", SupportedTriggers: []actions.TriggerInput{{ID: actions.PostLogin}},
		Code: workflowAction + "\nconst x = 2n ** 10000000000n;"})
	if errs.KindOf(err) != errs.KindInvalid || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "BigInt") {
		t.Fatalf("CreateAction: %v, want a 400 naming line 2 and BigInt", err)
	}
}
