// Package actions is Usher's Auth0 Actions: the actions a tenant writes in
// JavaScript, their deployed versions, the triggers they are bound to, and
// the runtime (goja) that runs the bound, deployed versions when a trigger
// fires. Code is built (compiled and its module evaluated once) when it is
// saved, so a broken action is refused by the Management API instead of
// failing logins.
//
// The code is a CommonJS module as in Node: exports, module.exports,
// __filename and __dirname are there; require knows no module (no npm
// packages, no Node built-ins, no network, no file system). Besides the
// ECMAScript built-ins the globals are console (log, info, warn, error,
// debug) and setTimeout/clearTimeout, whose callbacks run on the action's
// own loop while the handler's Promise is pending. Each run gets a fresh
// goja.Runtime; the compiled code is shared.
//
// Every run, the build's included, has a time and a memory budget, and
// nothing of an action's runs outside them: the heap is watched while runs
// are active (memory.go), the builtins that allocate or loop a lot in one
// call are guarded (guards.go), a thrown value is described from its own
// data without calling its code (show.go), and the interrupt stays armed
// once a run ends. Runs at once are bounded too (Options.MaxRuns). Actions
// have no BigInt, eval or new Function (bigint.go).
package actions

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// TriggerRef names a trigger and the version of its event and api objects,
// as in an action's supported_triggers.
type TriggerRef struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
}

// Dependency is an npm package an action asks for. Usher installs none; the
// type exists so that the API can name them in its refusal.
type Dependency struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	RegistryURL string `json:"registry_url,omitempty"`
}

// Secret is a named value handed to the action's code in event.secrets.
// The Management API accepts Value and never shows it.
type Secret struct {
	Name      string
	Value     string
	UpdatedAt time.Time
}

// Action is an action's draft: what the next deploy will run.
type Action struct {
	ID                 string
	Name               string
	Trigger            TriggerRef
	Code               string
	Runtime            string
	Dependencies       []Dependency
	Secrets            []Secret
	Status             string // always StatusBuilt: actions are built when saved
	AllChangesDeployed bool
	BuiltAt            time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
	// Deployed is the version that runs when the trigger fires; nil until
	// the first deploy.
	Deployed *Version
}

// Version is a deployed snapshot of an action: code, runtime and secrets as
// they were at the deploy.
type Version struct {
	ID           string
	ActionID     string
	Number       int // 1 for the first deploy of the action, then 2, 3 …
	Trigger      TriggerRef
	Code         string
	Runtime      string
	Dependencies []Dependency
	Secrets      []Secret
	Status       string
	Deployed     bool // whether this is the version that runs now
	BuiltAt      time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Action is the action the version belongs to (without its deployed
	// version); the Service fills it for answers, stores leave it nil.
	Action *Action
}

// Binding places an action in a trigger's flow; a trigger runs its bindings
// in order.
type Binding struct {
	ID          string
	TriggerID   string
	ActionID    string
	DisplayName string
	Secrets     []Secret // set with the binding; they win over the action's
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Action is the bound action; the Service fills it, stores leave it nil.
	Action *Action
}

// Deployment is one binding of a trigger with the version it runs.
type Deployment struct {
	Binding    Binding
	ActionName string
	VersionID  string
	Secrets    []Secret // the version's
}

// StatusBuilt is the status of every action and version Usher keeps.
const StatusBuilt = "built"

// Store keeps actions, their versions and secrets, and the bindings.
type Store interface {
	// AtomicActions runs fn in one transaction; fn's reads hold what they
	// read (a trigger's bindings included) until it ends.
	AtomicActions(ctx context.Context, fn func(Store) error) error
	// CreateAction stores a new action with its secrets; a taken name is
	// errs.ErrDuplicate.
	CreateAction(ctx context.Context, a Action) error
	// UpdateAction replaces an action's draft and its secrets.
	UpdateAction(ctx context.Context, a Action) error
	// Action returns an action with its secrets and deployed version.
	Action(ctx context.Context, id string) (Action, error)
	// ActionByName returns the action called name.
	ActionByName(ctx context.Context, name string) (Action, error)
	// Actions returns every action, oldest first.
	Actions(ctx context.Context) ([]Action, error)
	// DeleteAction deletes an action, its versions and secrets; while it is
	// bound it returns ErrBound unless force, which deletes its bindings too.
	DeleteAction(ctx context.Context, id string, force bool) error
	// DeployAction snapshots the action's draft as version versionID, numbered
	// after the action's last one, and makes it the deployed version.
	DeployAction(ctx context.Context, actionID, versionID string, now time.Time) (Version, error)
	// ActionVersions returns an action's versions, newest first.
	ActionVersions(ctx context.Context, actionID string) ([]Version, error)
	// ActionVersion returns one version of an action.
	ActionVersion(ctx context.Context, actionID, versionID string) (Version, error)
	// Bindings returns a trigger's bindings in order.
	Bindings(ctx context.Context, triggerID string) ([]Binding, error)
	// ReplaceBindings makes bs, in order, the trigger's bindings.
	ReplaceBindings(ctx context.Context, triggerID string, bs []Binding) error
	// DeployedBindings returns a trigger's bindings in order, each with the
	// deployed version of its action.
	DeployedBindings(ctx context.Context, triggerID string) ([]Deployment, error)
}

// ErrBound is what Store.DeleteAction returns for an action still bound to a
// trigger.
var ErrBound = errors.New("action is bound to a trigger")

// ErrTimeout is wrapped by the error of an action that ran out of time or
// whose Promise never settled.
var ErrTimeout = errors.New("action timed out")

// ErrMemory is wrapped by the error of an action that went past its memory
// budget.
var ErrMemory = errors.New("action ran out of memory")

// ErrBusy is wrapped by the error of a run that found every slot taken by
// other runs for longer than the Service waits.
var ErrBusy = errors.New("too many actions running at once")

// newID returns a random (version 4) UUID, the shape of Auth0's action ids.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
