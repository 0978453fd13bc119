package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/errs"
)

func testActions(t *testing.T, f *fixture) {
	tests := []struct {
		name string
		test func(t *testing.T, f *fixture)
	}{
		{"RoundTrip", testActionRoundTrip},
		{"DeployNumbering", testActionDeployNumbering},
		{"ConcurrentDeploys", testActionConcurrentDeploys},
		{"BindingsReplace", testActionBindingsReplace},
		{"DeleteCascade", testActionDeleteCascade},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, f.fresh(t)) })
	}
}

// newAction is an action as the Service makes one, not yet stored.
func newAction(id, name string, ms0 int, secrets ...actions.Secret) actions.Action {
	if secrets == nil {
		secrets = []actions.Secret{}
	}
	return actions.Action{
		ID: id, Name: name, Trigger: actions.TriggerRef{ID: "post-login", Version: "v3"},
		Code: "exports.onExecutePostLogin = async () => {}; // " + name, Runtime: "node22",
		Dependencies: []actions.Dependency{}, Secrets: secrets, Status: actions.StatusBuilt,
		BuiltAt: at(ms0), CreatedAt: at(ms0), UpdatedAt: at(ms0),
	}
}

func secret(name, value string, ms0 int) actions.Secret {
	return actions.Secret{Name: name, Value: value, UpdatedAt: at(ms0)}
}

// action stores a new action.
func (f *fixture) action(id, name string, ms0 int, secrets ...actions.Secret) actions.Action {
	f.t.Helper()
	a := newAction(id, name, ms0, secrets...)
	if err := f.db.CreateAction(f.ctx, a); err != nil {
		f.t.Fatalf("CreateAction %s: %v", name, err)
	}
	return a
}

func (f *fixture) deploy(actionID, versionID string, ms0 int) actions.Version {
	f.t.Helper()
	v, err := f.db.DeployAction(f.ctx, actionID, versionID, at(ms0))
	if err != nil {
		f.t.Fatalf("DeployAction %s: %v", actionID, err)
	}
	return v
}

func (f *fixture) bind(triggerID string, actionIDs ...string) []actions.Binding {
	f.t.Helper()
	var bs []actions.Binding
	for i, id := range actionIDs {
		bs = append(bs, actions.Binding{ID: fmt.Sprintf("b-%s-%d", id, i), TriggerID: triggerID, ActionID: id, DisplayName: "Bound " + id,
			Secrets: []actions.Secret{}, CreatedAt: at(i), UpdatedAt: at(100 + i)})
	}
	if err := f.db.ReplaceBindings(f.ctx, triggerID, bs); err != nil {
		f.t.Fatalf("ReplaceBindings: %v", err)
	}
	return bs
}

func testActionRoundTrip(t *testing.T, f *fixture) {
	want := f.action("a-1", "first", 10, secret("API_KEY", "k1", 10), secret("OTHER", "o1", 11))
	want.Dependencies = []actions.Dependency{}
	got, err := f.db.Action(f.ctx, "a-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(got, want); d != "" {
		t.Fatalf("Action differs:\n%s", d)
	}
	if byName, err := f.db.ActionByName(f.ctx, "first"); err != nil || !reflect.DeepEqual(byName, want) {
		t.Fatalf("ActionByName: %+v, %v", byName, err)
	}
	wantIs(t, "Action of a missing id", func() error { _, err := f.db.Action(f.ctx, "nope"); return err }(), errs.ErrNotFound)
	wantIs(t, "ActionByName of a missing name", func() error { _, err := f.db.ActionByName(f.ctx, "nope"); return err }(), errs.ErrNotFound)
	wantIs(t, "a second action named first", f.db.CreateAction(f.ctx, newAction("a-2", "first", 20)), errs.ErrDuplicate)

	// Update replaces the draft and its secrets.
	want.Name, want.Code, want.Runtime, want.UpdatedAt, want.BuiltAt = "renamed", "exports.x = 1;", "node18", at(30), at(30)
	want.Trigger = actions.TriggerRef{ID: "post-login", Version: "v2"}
	want.Secrets = []actions.Secret{secret("NEW", "n1", 30)}
	if err := f.db.UpdateAction(f.ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err = f.db.Action(f.ctx, "a-1"); err != nil || diff(got, want) != "" {
		t.Fatalf("after UpdateAction: %v\n%s", err, diff(got, want))
	}
	wantIs(t, "UpdateAction of a missing id", f.db.UpdateAction(f.ctx, newAction("nope", "nope", 0)), errs.ErrNotFound)
	f.action("a-3", "taken", 40)
	taken := want
	taken.Name = "taken"
	wantIs(t, "UpdateAction to a taken name", f.db.UpdateAction(f.ctx, taken), errs.ErrDuplicate)

	// Actions lists oldest first, each with its deployed version and secrets.
	f.action("a-0", "older", 5)
	f.deploy("a-1", "v-1", 50)
	all, err := f.db.Actions(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range all {
		names = append(names, a.Name)
	}
	if !slices.Equal(names, []string{"older", "renamed", "taken"}) {
		t.Fatalf("Actions: %v", names)
	}
	a1 := all[1]
	if a1.Deployed == nil || a1.Deployed.ID != "v-1" || !reflect.DeepEqual(a1.Deployed.Secrets, want.Secrets) || !reflect.DeepEqual(a1.Secrets, want.Secrets) {
		t.Fatalf("listed action: %+v deployed %+v", a1, a1.Deployed)
	}
	if all[0].Deployed != nil {
		t.Fatalf("an undeployed action has a deployed version: %+v", all[0].Deployed)
	}
}

func testActionDeployNumbering(t *testing.T, f *fixture) {
	f.action("a-1", "numbered", 0, secret("K", "one", 0))
	f.action("a-2", "other", 0)
	v1 := f.deploy("a-1", "v-1", 10)
	want := actions.Version{ID: "v-1", ActionID: "a-1", Number: 1, Trigger: actions.TriggerRef{ID: "post-login", Version: "v3"},
		Code: "exports.onExecutePostLogin = async () => {}; // numbered", Runtime: "node22", Dependencies: []actions.Dependency{},
		Secrets: []actions.Secret{secret("K", "one", 0)}, Status: actions.StatusBuilt, Deployed: true,
		BuiltAt: at(0), CreatedAt: at(10), UpdatedAt: at(10)}
	if d := diff(v1, want); d != "" {
		t.Fatalf("first version differs:\n%s", d)
	}
	if a, _ := f.db.Action(f.ctx, "a-1"); !a.AllChangesDeployed {
		t.Fatal("all_changes_deployed is false after a deploy")
	}

	// The version keeps the code and secrets of its deploy.
	a := newAction("a-1", "numbered", 0, secret("K", "two", 20))
	a.Code, a.UpdatedAt = "exports.onExecutePostLogin = async () => { /* 2 */ };", at(20)
	if err := f.db.UpdateAction(f.ctx, a); err != nil {
		t.Fatal(err)
	}
	v2 := f.deploy("a-1", "v-2", 30)
	f.deploy("a-2", "v-other", 35) // numbers are counted per action
	v3 := f.deploy("a-1", "v-3", 40)
	if v2.Number != 2 || v3.Number != 3 || v2.Code != a.Code || v2.Secrets[0].Value != "two" {
		t.Fatalf("v2 %+v, v3 %+v", v2, v3)
	}
	vs, err := f.db.ActionVersions(f.ctx, "a-1")
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, v := range vs {
		summary = append(summary, fmt.Sprintf("%s #%d deployed=%v %s", v.ID, v.Number, v.Deployed, v.Secrets[0].Value))
	}
	if want := []string{"v-3 #3 deployed=true two", "v-2 #2 deployed=false two", "v-1 #1 deployed=false one"}; !slices.Equal(summary, want) {
		t.Fatalf("ActionVersions:\n%q\nwant\n%q", summary, want)
	}
	if got, err := f.db.ActionVersion(f.ctx, "a-1", "v-1"); err != nil || got.Code != want.Code || got.Deployed || !got.UpdatedAt.Equal(at(30)) {
		t.Fatalf("ActionVersion v-1: %+v, %v", got, err)
	}
	wantIs(t, "ActionVersion of another action", func() error { _, err := f.db.ActionVersion(f.ctx, "a-2", "v-1"); return err }(), errs.ErrNotFound)
	wantIs(t, "DeployAction of a missing action", func() error { _, err := f.db.DeployAction(f.ctx, "nope", "v-x", at(0)); return err }(), errs.ErrNotFound)
	if got, _ := f.db.Action(f.ctx, "a-1"); got.Deployed == nil || got.Deployed.ID != "v-3" {
		t.Fatalf("deployed version: %+v", got.Deployed)
	}
}

// testActionConcurrentDeploys deploys one action from many goroutines: every
// deploy gets its own number and exactly one version ends deployed.
func testActionConcurrentDeploys(t *testing.T, f *fixture) {
	f.action("a-1", "busy", 0, secret("K", "v", 0))
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := f.db.DeployAction(f.ctx, "a-1", fmt.Sprintf("v-%d", i), at(i))
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
	vs, err := f.db.ActionVersions(f.ctx, "a-1")
	if err != nil || len(vs) != n {
		t.Fatalf("ActionVersions: %d, %v", len(vs), err)
	}
	deployed := 0
	for i, v := range vs {
		if v.Number != n-i || len(v.Secrets) != 1 {
			t.Fatalf("version %d: number %d, %d secrets", i, v.Number, len(v.Secrets))
		}
		if v.Deployed {
			deployed++
		}
	}
	if deployed != 1 || !vs[0].Deployed {
		t.Fatalf("%d versions deployed; newest deployed %v", deployed, vs[0].Deployed)
	}
}

func testActionBindingsReplace(t *testing.T, f *fixture) {
	for _, id := range []string{"a", "b", "c"} {
		f.action(id, "action "+id, 0, secret("S", "secret of "+id, 0))
		f.deploy(id, "v-"+id, 1)
	}
	f.action("undeployed", "undeployed", 0)
	order := func(trigger string) []string {
		t.Helper()
		bs, err := f.db.Bindings(f.ctx, trigger)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range bs {
			out = append(out, b.ActionID)
		}
		return out
	}
	want := f.bind("post-login", "b", "a", "c")
	want[1].Secrets = []actions.Secret{secret("S", "from the binding", 7)}
	if err := f.db.ReplaceBindings(f.ctx, "post-login", want); err != nil {
		t.Fatal(err)
	}
	got, err := f.db.Bindings(f.ctx, "post-login")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Bindings:\n%+v, %v\nwant\n%+v", got, err, want)
	}
	f.bind("post-change-password", "a")

	// DeployedBindings: the trigger's bindings in order, each with its deployed version's secrets.
	ds, err := f.db.DeployedBindings(f.ctx, "post-login")
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, d := range ds {
		summary = append(summary, fmt.Sprintf("%s %s %s %v %v", d.Binding.ID, d.ActionName, d.VersionID, d.Secrets[0].Value, len(d.Binding.Secrets)))
	}
	if want := []string{"b-b-0 action b v-b secret of b 0", "b-a-1 action a v-a secret of a 1", "b-c-2 action c v-c secret of c 0"}; !slices.Equal(summary, want) {
		t.Fatalf("DeployedBindings:\n%q\nwant\n%q", summary, want)
	}

	f.bind("post-login", "c", "b")
	if got := order("post-login"); !slices.Equal(got, []string{"c", "b"}) {
		t.Fatalf("after replacing: %v", got)
	}
	f.bind("post-login")
	if got := order("post-login"); len(got) != 0 {
		t.Fatalf("after emptying: %v", got)
	}
	if got := order("post-change-password"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("another trigger changed: %v", got)
	}
	if ds, err := f.db.DeployedBindings(f.ctx, "post-login"); err != nil || len(ds) != 0 {
		t.Fatalf("DeployedBindings of an empty trigger: %v, %v", ds, err)
	}
}

func testActionDeleteCascade(t *testing.T, f *fixture) {
	f.action("a-1", "doomed", 0, secret("K", "v", 0))
	f.deploy("a-1", "v-1", 1)
	f.deploy("a-1", "v-2", 2)
	f.action("a-2", "survivor", 0)
	f.deploy("a-2", "v-s", 1)
	f.bind("post-login", "a-2", "a-1")

	if err := f.db.DeleteAction(f.ctx, "a-1", false); !errors.Is(err, actions.ErrBound) {
		t.Fatalf("deleting a bound action: %v, want ErrBound", err)
	}
	if _, err := f.db.Action(f.ctx, "a-1"); err != nil {
		t.Fatalf("a refused delete deleted: %v", err)
	}
	if err := f.db.DeleteAction(f.ctx, "a-1", true); err != nil {
		t.Fatalf("force delete: %v", err)
	}
	wantIs(t, "Action after delete", func() error { _, err := f.db.Action(f.ctx, "a-1"); return err }(), errs.ErrNotFound)
	wantIs(t, "ActionVersion after delete", func() error { _, err := f.db.ActionVersion(f.ctx, "a-1", "v-1"); return err }(), errs.ErrNotFound)
	wantIs(t, "DeleteAction again", f.db.DeleteAction(f.ctx, "a-1", true), errs.ErrNotFound)
	if vs, err := f.db.ActionVersions(f.ctx, "a-1"); err != nil || len(vs) != 0 {
		t.Fatalf("versions after delete: %v, %v", vs, err)
	}
	if bs, err := f.db.Bindings(f.ctx, "post-login"); err != nil || len(bs) != 1 || bs[0].ActionID != "a-2" {
		t.Fatalf("bindings after delete: %+v, %v", bs, err)
	}
	// Nothing of the old action is left to leak into one with its id and name.
	f.action("a-1", "doomed", 10)
	if a, err := f.db.Action(f.ctx, "a-1"); err != nil || len(a.Secrets) != 0 || a.Deployed != nil {
		t.Fatalf("recreated action: %+v, %v", a, err)
	}
	if v := f.deploy("a-1", "v-new", 11); v.Number != 1 || len(v.Secrets) != 0 {
		t.Fatalf("recreated action's first version: %+v", v)
	}
	// An unbound action deletes without force.
	if err := f.db.DeleteAction(f.ctx, "a-1", false); err != nil {
		t.Fatal(err)
	}
}
