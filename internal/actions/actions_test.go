package actions_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/store"
)

// newService returns a Service on a new, migrated SQLite database.
func newService(t testing.TB, opts actions.Options) *actions.Service {
	t.Helper()
	db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "usher.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return actions.NewService(db, opts)
}

// action is one action of a test: its name, code and secrets.
type action struct {
	name, code string
	secrets    map[string]string
	trigger    string // post-login when empty
}

// deployAll creates and deploys each action and binds them, in order, to their triggers.
func deployAll(t *testing.T, s *actions.Service, as []action) {
	t.Helper()
	ctx := t.Context()
	bindings := map[string][]actions.BindingInput{}
	for _, a := range as {
		trigger := a.trigger
		if trigger == "" {
			trigger = actions.PostLogin
		}
		in := actions.ActionInput{Name: a.name, Code: a.code, SupportedTriggers: []actions.TriggerInput{{ID: trigger}}, Deploy: true}
		for k, v := range a.secrets {
			in.Secrets = append(in.Secrets, actions.SecretInput{Name: k, Value: &v})
		}
		created, err := s.CreateAction(ctx, in)
		if err != nil {
			t.Fatalf("create %s: %v", a.name, err)
		}
		bindings[trigger] = append(bindings[trigger], actions.BindingInput{Ref: &actions.BindingRef{Type: "action_id", Value: created.ID}})
	}
	for trigger, bs := range bindings {
		if _, err := s.UpdateBindings(ctx, trigger, actions.BindingsUpdate{Bindings: bs}); err != nil {
			t.Fatalf("bind %s: %v", trigger, err)
		}
	}
}

// loginEvent is a post-login event for a user with app_metadata.
func loginEvent(app map[string]any) map[string]any {
	return map[string]any{
		"user":   map[string]any{"user_id": "auth0|1", "email": "ada@example.com", "app_metadata": app, "user_metadata": map[string]any{}},
		"client": map[string]any{"client_id": "app", "name": "App"},
	}
}

// workflowAction is Auth0's invitation recipe, verbatim.
const workflowAction = `exports.onExecutePostLogin = async (event, api) => { if (event.user.app_metadata.needsInvitation) { api.user.setAppMetadata("needsInvitation", false); } };`

func TestRun(t *testing.T) {
	tests := []struct {
		name        string
		actions     []action
		trigger     string
		event       map[string]any
		want        actions.Outcome
		wantErr     string // a substring of the error
		wantTimeout bool
		anyOutcome  bool // the Outcome is not checked
	}{
		{
			name:    "the workflow's action clears the invitation flag",
			actions: []action{{name: "clear-invitation", code: workflowAction}},
			event:   loginEvent(map[string]any{"needsInvitation": true}),
			want:    actions.Outcome{AppMetadata: map[string]any{"needsInvitation": false}},
		},
		{
			name:    "the workflow's action leaves an invited user alone",
			actions: []action{{name: "clear-invitation", code: workflowAction}},
			event:   loginEvent(map[string]any{}),
			want:    actions.Outcome{},
		},
		{
			name:    "metadata missing from the event is an empty object",
			actions: []action{{name: "clear-invitation", code: workflowAction}},
			event:   map[string]any{"user": map[string]any{"user_id": "auth0|1"}},
			want:    actions.Outcome{},
		},
		{
			name: "two actions run in binding order; the later one wins",
			actions: []action{
				{name: "first", code: `exports.onExecutePostLogin = async (event, api) => { console.log("one"); api.idToken.setCustomClaim("https://x/n", 1); api.user.setUserMetadata("first", true); };`},
				{name: "second", code: `exports.onExecutePostLogin = (event, api) => { console.log("two"); api.idToken.setCustomClaim("https://x/n", 2); };`},
			},
			event: loginEvent(nil),
			want: actions.Outcome{
				UserMetadata:  map[string]any{"first": true},
				IDTokenClaims: map[string]any{"https://x/n": float64(2)},
				Logs:          []string{"first: one", "second: two"},
			},
		},
		{
			name: "deny stops the rest; what came before stays",
			actions: []action{
				{name: "gate", code: `exports.onExecutePostLogin = async (event, api) => {
  api.user.setAppMetadata("seen", 1);
  api.access.deny("Not invited yet.");
  console.log("after deny");
};`},
				{name: "never", code: `exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata("never", true); };`},
			},
			event: loginEvent(nil),
			want:  actions.Outcome{AppMetadata: map[string]any{"seen": float64(1)}, Denied: "Not invited yet.", Logs: []string{"gate: after deny"}},
		},
		{
			name: "event.user does not see the changes; null removes a key",
			actions: []action{{name: "meta", code: `exports.onExecutePostLogin = async (event, api) => {
  api.user.setAppMetadata("plan", { name: "pro", seats: [1, 2] });
  api.user.setAppMetadata("needsInvitation", null);
  console.log(JSON.stringify(event.user.app_metadata));
};`}},
			event: loginEvent(map[string]any{"needsInvitation": true}),
			want: actions.Outcome{
				AppMetadata: map[string]any{"plan": map[string]any{"name": "pro", "seats": []any{float64(1), float64(2)}}, "needsInvitation": nil},
				Logs:        []string{`meta: {"needsInvitation":true}`},
			},
		},
		{
			name: "Promises chained through setTimeout run to completion",
			actions: []action{{name: "slow", code: `const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
exports.onExecutePostLogin = async (event, api) => {
  await sleep(20);
  const n = await sleep(5).then(() => 41).then((x) => x + 1);
  setTimeout((a, b) => console.log("timer", a, b), 0, "x", "y");
  await sleep(1);
  api.accessToken.setCustomClaim("https://x/answer", n);
};`}},
			event: loginEvent(nil),
			want:  actions.Outcome{AccessTokenClaims: map[string]any{"https://x/answer": float64(42)}, Logs: []string{"slow: timer x y"}},
		},
		{
			name: "console output is captured, formatted and capped",
			actions: []action{{name: "chatty", code: `exports.onExecutePostLogin = async (event, api) => {
  console.log("a", { b: 1 }, [1, 2], null, undefined, 3, true);
  console.error(new TypeError("bad"));
  console.warn("x".repeat(1000));
};`}},
			event: loginEvent(nil),
			want: actions.Outcome{Logs: []string{`chatty: a {"b":1} [1,2] null undefined 3 true`, "chatty: TypeError: bad",
				"chatty: " + strings.Repeat("x", 256)}},
		},
		{
			name: "secrets are in event.secrets",
			actions: []action{{name: "secretive", secrets: map[string]string{"API_KEY": "k-123"}, code: `exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim("https://x/key", event.secrets.API_KEY);
};`}},
			event: loginEvent(nil),
			want:  actions.Outcome{IDTokenClaims: map[string]any{"https://x/key": "k-123"}},
		},
		{
			name: "a throw names the action, the message and the line",
			actions: []action{
				{name: "ok", code: `exports.onExecutePostLogin = async (event, api) => { console.log("ran"); };`},
				{name: "thrower", code: `exports.onExecutePostLogin = async (event, api) => {
  throw new Error("boom");
};`},
			},
			event:   loginEvent(nil),
			want:    actions.Outcome{Logs: []string{"ok: ran"}},
			wantErr: `action "thrower": Error: boom (line 2)`,
		},
		{
			name: "a synchronous throw",
			actions: []action{{name: "sync", code: `exports.onExecutePostLogin = (event, api) => {
  event.user.nothing.here = 1;
};`}},
			event:   loginEvent(nil),
			wantErr: `action "sync": TypeError: Cannot convert undefined or null to object (line 2)`,
		},
		{
			name:    "a rejection after an await",
			actions: []action{{name: "late", code: "exports.onExecutePostLogin = async () => {\n  await null;\n  return Promise.reject('nope');\n};"}},
			event:   loginEvent(nil),
			wantErr: `action "late": nope`,
		},
		{
			name:    "a thrown object is shown as JSON",
			actions: []action{{name: "odd", code: "exports.onExecutePostLogin = () => {\n  throw { code: 'E1' };\n};"}},
			event:   loginEvent(nil),
			wantErr: `action "odd": {"code":"E1"} (line 2)`,
		},
		{
			name: "an error whose stack getter throws is described without calling it",
			actions: []action{{name: "nasty", code: `exports.onExecutePostLogin = () => {
  const e = new Error("x");
  Object.defineProperty(e, "stack", { get() { throw new Error("no"); } });
  throw e;
};`}},
			event:   loginEvent(nil),
			wantErr: `action "nasty": Error: x (line 2)`,
		},
		{
			name:    "require knows no module",
			actions: []action{{name: "needy", code: `exports.onExecutePostLogin = async () => { require("axios"); };`}},
			event:   loginEvent(nil),
			wantErr: `action "needy": Error: Cannot find module 'axios'`,
		},
		{
			name:        "an infinite loop is interrupted",
			actions:     []action{{name: "spin", code: `exports.onExecutePostLogin = async () => { while (true) {} };`}},
			event:       loginEvent(nil),
			wantErr:     `action "spin": timed out after 300ms`,
			wantTimeout: true,
		},
		{
			name:        "an infinite loop in a Promise job is interrupted",
			actions:     []action{{name: "spin-later", code: `exports.onExecutePostLogin = async () => { await null; for (;;) {} };`}},
			event:       loginEvent(nil),
			wantErr:     `action "spin-later": timed out`,
			wantTimeout: true,
		},
		{
			name:        "a Promise that never settles counts as a time-out",
			actions:     []action{{name: "stuck", code: `exports.onExecutePostLogin = () => new Promise(() => {});`}},
			event:       loginEvent(nil),
			wantErr:     `action "stuck": the Promise returned by onExecutePostLogin never settled`,
			wantTimeout: true,
		},
		{
			name:        "a timer past the limit",
			actions:     []action{{name: "sleepy", code: `exports.onExecutePostLogin = () => new Promise((r) => setTimeout(r, 60000));`}},
			event:       loginEvent(nil),
			wantErr:     `action "sleepy": timed out after 300ms`,
			wantTimeout: true,
		},
		{
			name:    "deep recursion is stopped",
			actions: []action{{name: "deep", code: `const f = (n) => f(n + 1) + 1; exports.onExecutePostLogin = () => { f(0); };`}},
			event:   loginEvent(nil),
			wantErr: `action "deep": RangeError: Maximum call stack size exceeded`,
		},
		{
			name:       "output is bounded",
			actions:    []action{{name: "hoarder", code: `exports.onExecutePostLogin = (e, api) => { for (let i = 0; ; i++) api.user.setAppMetadata("k" + i, "x".repeat(1000)); };`}},
			event:      loginEvent(nil),
			wantErr:    `action "hoarder": TypeError: api.user.setAppMetadata: the actions' metadata and claims exceed 65536 bytes`,
			anyOutcome: true,
		},
		{
			name:    "an action without the trigger's handler does nothing",
			actions: []action{{name: "empty", code: ""}},
			event:   loginEvent(nil),
		},
		{
			name:    "pre-user-registration",
			trigger: actions.PreUserRegistration,
			actions: []action{{name: "signup-gate", trigger: actions.PreUserRegistration, code: `exports.onExecutePreUserRegistration = async (event, api) => {
  api.user.setUserMetadata("source", "signup");
  if (!event.user.email.endsWith("@example.com")) api.access.deny("domain", "Use your work address.");
};`}},
			event: map[string]any{"user": map[string]any{"email": "x@other.org"}},
			want:  actions.Outcome{UserMetadata: map[string]any{"source": "signup"}, Denied: "Use your work address."},
		},
		{
			name:    "post-change-password",
			trigger: actions.PostChangePassword,
			actions: []action{{name: "notify", trigger: actions.PostChangePassword, code: `exports.onExecutePostChangePassword = async (event, api) => { console.log("changed", event.user.email); };`}},
			event:   map[string]any{"user": map[string]any{"email": "ada@example.com"}},
			want:    actions.Outcome{Logs: []string{"notify: changed ada@example.com"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newService(t, actions.Options{Timeout: 300 * time.Millisecond})
			deployAll(t, s, tc.actions)
			trigger := tc.trigger
			if trigger == "" {
				trigger = actions.PostLogin
			}
			start := time.Now()
			got, err := s.Run(t.Context(), trigger, tc.event)
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Run took %s", elapsed)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Run: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Run: error %v, want one containing %q", err, tc.wantErr)
			}
			if errors.Is(err, actions.ErrTimeout) != tc.wantTimeout {
				t.Errorf("errors.Is(%v, ErrTimeout) = %v, want %v", err, !tc.wantTimeout, tc.wantTimeout)
			}
			var re *actions.RunError
			if err != nil && !errors.As(err, &re) {
				t.Errorf("error %T is not a *RunError", err)
			}
			if err != nil && (strings.Contains(err.Error(), "goroutine") || strings.Contains(err.Error(), ".go:")) {
				t.Errorf("error shows Go internals: %v", err)
			}
			if !tc.anyOutcome && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Outcome\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestRunLogLimit(t *testing.T) {
	s := newService(t, actions.Options{})
	deployAll(t, s, []action{{name: "loud", code: `exports.onExecutePostLogin = () => { for (let i = 0; i < 1000; i++) console.log(i); };`}})
	got, err := s.Run(t.Context(), actions.PostLogin, loginEvent(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Logs) != 101 || got.Logs[0] != "loud: 0" || got.Logs[100] != "(900 more console lines dropped)" {
		t.Fatalf("%d lines: %q … %q", len(got.Logs), got.Logs[0], got.Logs[len(got.Logs)-1])
	}
}

// TestRunDeployedVersion checks that Run runs what was deployed, not the
// draft, and each new deploy from then on.
func TestRunDeployedVersion(t *testing.T) {
	ctx := t.Context()
	s := newService(t, actions.Options{})
	deployAll(t, s, []action{{name: "v", code: `exports.onExecutePostLogin = (e, api) => { api.idToken.setCustomClaim("v", 1); };`}})
	a := actionNamed(t, s, "v")
	code := `exports.onExecutePostLogin = (e, api) => { api.idToken.setCustomClaim("v", 2); };`
	if _, err := s.UpdateAction(ctx, a.ID, actions.ActionPatch{Code: &code}); err != nil {
		t.Fatal(err)
	}
	claim := func() any {
		t.Helper()
		o, err := s.Run(ctx, actions.PostLogin, loginEvent(nil))
		if err != nil {
			t.Fatal(err)
		}
		return o.IDTokenClaims["v"]
	}
	if got := claim(); got != float64(1) {
		t.Fatalf("before the deploy: %v, want 1", got)
	}
	v, err := s.Deploy(ctx, a.ID)
	if err != nil || v.Number != 2 || !v.Deployed || v.Status != actions.StatusBuilt {
		t.Fatalf("Deploy: %+v, %v", v, err)
	}
	if got := claim(); got != float64(2) {
		t.Fatalf("after the deploy: %v, want 2", got)
	}
}

// TestRunConcurrently runs one trigger from many goroutines (for -race).
func TestRunConcurrently(t *testing.T) {
	s := newService(t, actions.Options{})
	deployAll(t, s, []action{
		{name: "clear-invitation", code: workflowAction},
		{name: "count", code: `let n = 0; exports.onExecutePostLogin = async (e, api) => { n++; await null; api.idToken.setCustomClaim("n", n); };`},
	})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			o, err := s.Run(t.Context(), actions.PostLogin, loginEvent(map[string]any{"needsInvitation": true}))
			if err == nil && (o.AppMetadata["needsInvitation"] != false || o.IDTokenClaims["n"] != float64(1)) {
				err = fmt.Errorf("outcome %+v", o)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestRunCanceled(t *testing.T) {
	s := newService(t, actions.Options{Timeout: time.Minute})
	deployAll(t, s, []action{{name: "spin", code: `exports.onExecutePostLogin = () => { while (true) {} };`}})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := s.Run(ctx, actions.PostLogin, loginEvent(nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v, want the context's deadline", err)
	}
}

func actionNamed(t *testing.T, s *actions.Service, name string) actions.Action {
	t.Helper()
	list, err := s.Actions(t.Context(), actions.Filter{Name: name})
	if err != nil || len(list) != 1 {
		t.Fatalf("Actions(%s): %v, %v", name, list, err)
	}
	return list[0]
}

// TestBuild checks what creating an action refuses, with a 400 that says why.
func TestBuild(t *testing.T) {
	str := func(s string) *string { return &s }
	postLogin := []actions.TriggerInput{{ID: actions.PostLogin}}
	tests := []struct {
		name string
		in   actions.ActionInput
		want string // a substring of the 400's message; empty: accepted
	}{
		{"the workflow's action", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Code: workflowAction}, ""},
		{"no code yet", actions.ActionInput{Name: "a", SupportedTriggers: postLogin}, ""},
		{"an older trigger version", actions.ActionInput{Name: "a", SupportedTriggers: []actions.TriggerInput{{ID: "post-login", Version: "v2"}}, Code: workflowAction, Runtime: "node18"}, ""},
		{"a syntax error names the line", actions.ActionInput{Name: "a", SupportedTriggers: postLogin,
			Code: "exports.onExecutePostLogin = async (event, api) => {\n  if (event.user {\n  }\n};"}, "does not compile: line 2, column 18: Unexpected token {"},
		{"a syntax error on the first line names the author's column", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Code: "exports.x = ;"}, "line 1, column 13"},
		{"a redeclaration names the line", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Code: "let a = 1;\nlet a = 2;"}, "line 2, column 5: Identifier 'a' has already been declared"},
		{"top-level await", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Code: "const x = await fetch('x');"}, "does not compile: line 1"},
		{"code over 100 kB", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Code: workflowAction + strings.Repeat(" ", actions.MaxCodeSize)}, "maximum 102400"},
		{"require at the top level", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Code: "const axios = require('axios');\n" + workflowAction}, "fails when loaded: Error: Cannot find module 'axios'"},
		{"a top-level throw", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Code: "\nundefinedThing.x;"}, "fails when loaded: ReferenceError: undefinedThing is not defined (line 2)"},
		{"a top-level infinite loop", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Code: "while (true) {}"}, "fails when loaded: timed out"},
		{"a misspelt handler", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Code: "exports.onExecutePostlogin = async () => {};"}, "does not export onExecutePostLogin"},
		{"the handler of another trigger", actions.ActionInput{Name: "a", SupportedTriggers: []actions.TriggerInput{{ID: actions.PreUserRegistration}}, Code: workflowAction}, "does not export onExecutePreUserRegistration"},
		{"no name", actions.ActionInput{SupportedTriggers: postLogin}, "Missing required property: name"},
		{"no trigger", actions.ActionInput{Name: "a"}, "Missing required property: supported_triggers"},
		{"two triggers", actions.ActionInput{Name: "a", SupportedTriggers: []actions.TriggerInput{{ID: "post-login"}, {ID: "post-change-password"}}}, "exactly one trigger"},
		{"a trigger Usher does not run", actions.ActionInput{Name: "a", SupportedTriggers: []actions.TriggerInput{{ID: "send-phone-message"}}}, `does not run the "send-phone-message" trigger`},
		{"an unknown trigger version", actions.ActionInput{Name: "a", SupportedTriggers: []actions.TriggerInput{{ID: "post-login", Version: "v9"}}}, `Version "v9"`},
		{"an unknown runtime", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Runtime: "python3"}, "property runtime"},
		{"npm dependencies", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Dependencies: []actions.Dependency{{Name: "axios", Version: "1.0.0"}}}, "does not install npm dependencies (axios)"},
		{"a secret without a value", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Secrets: []actions.SecretInput{{Name: "K"}}}, "Missing required property: value"},
		{"a secret twice", actions.ActionInput{Name: "a", SupportedTriggers: postLogin, Secrets: []actions.SecretInput{{Name: "K", Value: str("1")}, {Name: "K", Value: str("2")}}}, `"K" is given twice`},
	}
	s := newService(t, actions.Options{Timeout: 300 * time.Millisecond})
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in.Name != "" {
				tc.in.Name = fmt.Sprintf("%s-%d", tc.in.Name, i)
			}
			a, err := s.CreateAction(t.Context(), tc.in)
			if tc.want == "" {
				if err != nil || a.Status != actions.StatusBuilt || a.BuiltAt.IsZero() {
					t.Fatalf("CreateAction: %+v, %v", a, err)
				}
				return
			}
			if errs.KindOf(err) != errs.KindInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CreateAction: %v, want a 400 containing %q", err, tc.want)
			}
		})
	}
}

func TestActionLifecycle(t *testing.T) {
	ctx := t.Context()
	s := newService(t, actions.Options{})
	secret := "s1"
	a, err := s.CreateAction(ctx, actions.ActionInput{Name: "gate", Code: workflowAction, SupportedTriggers: []actions.TriggerInput{{ID: "post-login"}},
		Secrets: []actions.SecretInput{{Name: "KEY", Value: &secret}}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Trigger.Version != "v3" || a.Runtime != "node22" || a.AllChangesDeployed || a.Deployed != nil {
		t.Fatalf("created: %+v", a)
	}
	if _, err := s.CreateAction(ctx, actions.ActionInput{Name: "gate", SupportedTriggers: []actions.TriggerInput{{ID: "post-login"}}}); errs.KindOf(err) != errs.KindConflict {
		t.Fatalf("a second action named gate: %v", err)
	}

	// Binding needs a deployed action.
	bind := actions.BindingsUpdate{Bindings: []actions.BindingInput{{Ref: &actions.BindingRef{Type: "action_name", Value: "gate"}}}}
	if _, err := s.UpdateBindings(ctx, actions.PostLogin, bind); errs.KindOf(err) != errs.KindInvalid {
		t.Fatalf("binding an undeployed action: %v", err)
	}
	v, err := s.Deploy(ctx, a.ID)
	if err != nil || v.Number != 1 || v.Action == nil || v.Action.ID != a.ID || len(v.Secrets) != 1 || v.Secrets[0].Name != "KEY" {
		t.Fatalf("Deploy: %+v, %v", v, err)
	}
	bs, err := s.UpdateBindings(ctx, actions.PostLogin, bind)
	if err != nil || len(bs) != 1 || bs[0].DisplayName != "gate" || bs[0].Action.ID != a.ID {
		t.Fatalf("UpdateBindings: %+v, %v", bs, err)
	}
	if _, err := s.UpdateBindings(ctx, actions.PostChangePassword, bind); errs.KindOf(err) != errs.KindInvalid {
		t.Fatalf("binding to another trigger: %v", err)
	}
	// Binding the same action again keeps the binding's id.
	again, err := s.UpdateBindings(ctx, actions.PostLogin, actions.BindingsUpdate{Bindings: []actions.BindingInput{{Ref: &actions.BindingRef{Type: "action_id", Value: a.ID}, DisplayName: "Gate"}}})
	if err != nil || again[0].ID != bs[0].ID || again[0].DisplayName != "Gate" {
		t.Fatalf("rebinding: %+v, %v", again, err)
	}

	// A PATCH without a secret's value keeps it; the change is not deployed yet.
	name := "gate-2"
	u, err := s.UpdateAction(ctx, a.ID, actions.ActionPatch{Name: &name, Secrets: &[]actions.SecretInput{{Name: "KEY"}}})
	if err != nil || u.Name != name || len(u.Secrets) != 1 || !u.AllChangesDeployed {
		t.Fatalf("rename: %+v, %v", u, err)
	}
	code := workflowAction + "\n// changed"
	if u, err = s.UpdateAction(ctx, a.ID, actions.ActionPatch{Code: &code}); err != nil || u.AllChangesDeployed || u.Deployed.Number != 1 {
		t.Fatalf("code change: %+v, %v", u, err)
	}
	broken := "exports.onExecutePostLogin = ("
	if _, err := s.UpdateAction(ctx, a.ID, actions.ActionPatch{Code: &broken}); errs.KindOf(err) != errs.KindInvalid {
		t.Fatalf("broken code: %v", err)
	}

	if err := s.DeleteAction(ctx, a.ID, false); errs.KindOf(err) != errs.KindConflict {
		t.Fatalf("delete a bound action: %v", err)
	}
	if err := s.DeleteAction(ctx, a.ID, true); err != nil {
		t.Fatalf("force delete: %v", err)
	}
	if bs, err := s.Bindings(ctx, actions.PostLogin); err != nil || len(bs) != 0 {
		t.Fatalf("bindings after the delete: %+v, %v", bs, err)
	}
	if _, err := s.Action(ctx, a.ID); errs.KindOf(err) != errs.KindNotFound {
		t.Fatalf("deleted action: %v", err)
	}
	if err := s.DeleteAction(ctx, a.ID, false); errs.KindOf(err) != errs.KindNotFound {
		t.Fatalf("delete again: %v", err)
	}
	if o, err := s.Run(ctx, actions.PostLogin, loginEvent(map[string]any{"needsInvitation": true})); err != nil || o.AppMetadata != nil {
		t.Fatalf("Run with nothing bound: %+v, %v", o, err)
	}
}

// BenchmarkRun measures one post-login run of the invitation recipe's action:
// a fresh goja.Runtime, the module loaded, the handler and its Promise.
//
//	go test ./internal/actions -run '^$' -bench Run -benchmem
func BenchmarkRun(b *testing.B) {
	db, err := store.Open(b.Context(), "sqlite:"+filepath.Join(b.TempDir(), "usher.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	s := actions.NewService(db, actions.Options{})
	a, err := s.CreateAction(b.Context(), actions.ActionInput{Name: "clear-invitation", Code: workflowAction,
		SupportedTriggers: []actions.TriggerInput{{ID: actions.PostLogin}}, Deploy: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.UpdateBindings(b.Context(), actions.PostLogin, actions.BindingsUpdate{Bindings: []actions.BindingInput{{Ref: &actions.BindingRef{Type: "action_id", Value: a.ID}}}}); err != nil {
		b.Fatal(err)
	}
	event := loginEvent(map[string]any{"needsInvitation": true})
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if o, err := s.Run(b.Context(), actions.PostLogin, event); err != nil || o.AppMetadata["needsInvitation"] != false {
				b.Fatal(o, err)
			}
		}
	})
}
