package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
	"github.com/usherid/usher/internal/errs"
)

// Options configure a Service.
type Options struct {
	// Timeout bounds one action's run: its module, its handler, and the
	// Promise and timers the handler leaves. Zero means DefaultTimeout.
	Timeout time.Duration
	// Memory bounds, in bytes, how much one action's run may grow the heap
	// by. Zero means DefaultMemory.
	Memory uint64
	// MaxRuns bounds the builds and trigger runs at once; zero means
	// GOMAXPROCS. Together with Memory it bounds what Actions can hold.
	MaxRuns int
	// QueueWait is how long a run waits for a slot before it fails with
	// ErrBusy. Zero means DefaultQueueWait.
	QueueWait time.Duration
	// Ran, when set, hears of every trigger run that had actions bound (for
	// /metrics): the trigger, how the run ended (a RunResult) and how long
	// it took, its wait for a slot included.
	Ran func(trigger string, result RunResult, took time.Duration)
}

// RunResult is how a trigger's run ended.
type RunResult string

// How a trigger's run ends.
const (
	RunOK      RunResult = "ok"      // every action ran to its end
	RunDenied  RunResult = "denied"  // an action called api.access.deny
	RunFailed  RunResult = "error"   // an action threw or was rejected, or its code could not be loaded
	RunTimeout RunResult = "timeout" // an action ran out of time
	RunMemory  RunResult = "memory"  // an action went past its memory budget
	RunBusy    RunResult = "busy"    // every run slot stayed taken: no action ran
)

// resultOf classifies a run's outcome and error.
func resultOf(out Outcome, err error) RunResult {
	switch {
	case errors.Is(err, ErrBusy):
		return RunBusy
	case errors.Is(err, ErrTimeout):
		return RunTimeout
	case errors.Is(err, ErrMemory):
		return RunMemory
	case err != nil:
		return RunFailed
	case out.Denied != "":
		return RunDenied
	}
	return RunOK
}

// DefaultQueueWait is how long a run waits for a slot when the Service is not told otherwise.
const DefaultQueueWait = time.Second

// Service manages actions for the Management API and runs them for the
// login and registration flows.
type Service struct {
	store     Store
	timeout   time.Duration
	meter     *meter
	slots     chan struct{} // one for each run at once
	queueWait time.Duration
	ran       func(string, RunResult, time.Duration)

	mu       sync.Mutex
	programs map[string]*goja.Program // compiled code of deployed versions, by version id
}

// maxPrograms bounds the compiled-code cache; past it the cache starts over.
const maxPrograms = 256

// NewService returns a Service keeping its actions in store.
func NewService(store Store, opts Options) *Service {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Memory == 0 {
		opts.Memory = DefaultMemory
	}
	if opts.MaxRuns <= 0 {
		opts.MaxRuns = runtime.GOMAXPROCS(0)
	}
	if opts.QueueWait <= 0 {
		opts.QueueWait = DefaultQueueWait
	}
	if opts.Ran == nil {
		opts.Ran = func(string, RunResult, time.Duration) {}
	}
	boundRegexps()
	return &Service{store: store, timeout: opts.Timeout, meter: newMeter(opts.Memory), slots: make(chan struct{}, opts.MaxRuns),
		queueWait: opts.QueueWait, ran: opts.Ran, programs: map[string]*goja.Program{}}
}

// maxMatchTime bounds one regular expression match. goja hands the
// expressions JavaScript has and Go's regexp has not (lookaround,
// backreferences) to regexp2, which backtracks inside one native call where
// the time limit cannot reach it: /^(a+)+(?=c)/ on forty a's runs for hours.
// regexp2 takes its limit from a package variable read when an expression
// is compiled; past it the match fails (goja then reports no match), and
// the run's own time limit stops the action at its next instruction.
const maxMatchTime = time.Second

var regexpOnce sync.Once

// boundRegexps sets regexp2's match limit, once, before any Service compiles
// an expression (sync.Once orders the write before every later compile).
func boundRegexps() {
	regexpOnce.Do(func() { regexp2.DefaultMatchTimeout = maxMatchTime })
}

// acquire takes a run slot, waiting at most queueWait; release gives it back.
// A JavaScript run holds a core while it computes, so more runs at once than
// cores only make each slower, and each one may hold its memory budget.
func (s *Service) acquire(ctx context.Context) (release func(), err error) {
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	default:
	}
	t := time.NewTimer(s.queueWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Triggers returns the triggers Usher runs.
func (s *Service) Triggers() []Trigger { return Triggers() }

// ActionInput is the body of POST /api/v2/actions/actions.
type ActionInput struct {
	Name              string            `json:"name"`
	SupportedTriggers []TriggerInput    `json:"supported_triggers"`
	Code              string            `json:"code"`
	Runtime           string            `json:"runtime"`
	Dependencies      []Dependency      `json:"dependencies"`
	Secrets           []SecretInput     `json:"secrets"`
	Modules           []json.RawMessage `json:"modules"`
	Deploy            bool              `json:"deploy"`
}

// ActionPatch is the body of PATCH /api/v2/actions/actions/{id}: what is set changes.
type ActionPatch struct {
	Name              *string            `json:"name"`
	SupportedTriggers *[]TriggerInput    `json:"supported_triggers"`
	Code              *string            `json:"code"`
	Runtime           *string            `json:"runtime"`
	Dependencies      *[]Dependency      `json:"dependencies"`
	Secrets           *[]SecretInput     `json:"secrets"`
	Modules           *[]json.RawMessage `json:"modules"`
}

// SecretInput is a secret as the API receives it. In a PATCH a secret sent
// without a value keeps the value it has.
type SecretInput struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
	// UpdatedAt is accepted and ignored: tools send back the secrets they read.
	UpdatedAt string `json:"updated_at,omitempty"`
}

// Filter selects actions in a list.
type Filter struct {
	TriggerID    string // only actions supporting this trigger
	Name         string // only the action with this name
	DeployedOnly bool   // only actions with a deployed version
	Installed    bool   // only marketplace integrations: Usher has none
}

var (
	errNoAction  = errs.NotFound("inexistent_action", "The action does not exist.")
	errNoVersion = errs.NotFound("inexistent_action_version", "The action version does not exist.")
	errNoTrigger = errs.NotFound("inexistent_trigger", "The trigger does not exist.")
)

// maxName bounds, in characters, the name of an action and of a secret:
// each is a key the store keeps in an index.
const maxName = 255

// checkName refuses a name that is empty or longer than maxName.
func checkName(property, name string) error {
	if strings.TrimSpace(name) == "" {
		return missing(property)
	}
	if utf8.RuneCountInString(name) > maxName {
		return errs.Invalid("invalid_body", "Payload validation error: 'String is too long (%d chars), maximum %d' on property %s.", utf8.RuneCountInString(name), maxName, property)
	}
	return nil
}

func missing(property string) error {
	return errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: %s'.", property)
}

// notFound names a missing action instead of the store's bare error.
func notFound(err, named error) error {
	if errors.Is(err, errs.ErrNotFound) {
		return named
	}
	return err
}

// CreateAction builds and stores a new action, and deploys it when in.Deploy.
func (s *Service) CreateAction(ctx context.Context, in ActionInput) (Action, error) {
	if err := checkName("name", in.Name); err != nil {
		return Action{}, err
	}
	if in.SupportedTriggers == nil {
		return Action{}, missing("supported_triggers")
	}
	now := time.Now()
	a := Action{ID: newID(), Name: in.Name, Code: in.Code, Runtime: in.Runtime, Dependencies: in.Dependencies, CreatedAt: now}
	var err error
	if a.Trigger, err = checkTriggers(in.SupportedTriggers); err != nil {
		return Action{}, err
	}
	if a.Secrets, err = mergeSecrets(nil, in.Secrets, now); err != nil {
		return Action{}, err
	}
	if err := s.prepare(ctx, &a, in.Modules, now); err != nil {
		return Action{}, err
	}
	if err := s.store.CreateAction(ctx, a); errors.Is(err, errs.ErrDuplicate) {
		return Action{}, duplicateName(a.Name)
	} else if err != nil {
		return Action{}, fmt.Errorf("create action: %w", err)
	}
	if in.Deploy {
		if _, err := s.Deploy(ctx, a.ID); err != nil {
			return Action{}, err
		}
	}
	return s.Action(ctx, a.ID)
}

func duplicateName(name string) error {
	return errs.Conflict("action_conflict", fmt.Sprintf("An action named %q already exists.", name))
}

// prepare checks a draft's runtime, dependencies and modules, and builds its code.
func (s *Service) prepare(ctx context.Context, a *Action, modules []json.RawMessage, now time.Time) error {
	if err := settle(a, modules); err != nil {
		return err
	}
	if _, err := s.build(ctx, a.Trigger.ID, a.Code); err != nil {
		return err
	}
	a.Status, a.BuiltAt, a.UpdatedAt = StatusBuilt, now, now
	return nil
}

// settle checks a draft's runtime (the default when it has none),
// dependencies and modules: all of prepare but the build.
func settle(a *Action, modules []json.RawMessage) error {
	if a.Runtime == "" {
		a.Runtime = defaultRuntime
	}
	if !slices.Contains(runtimes, a.Runtime) {
		return errs.Invalid("invalid_body", "Payload validation error: 'No enum match for: %q' on property runtime (one of %s).", a.Runtime, strings.Join(runtimes, ", "))
	}
	if len(a.Dependencies) > 0 {
		names := make([]string, len(a.Dependencies))
		for i, d := range a.Dependencies {
			names[i] = d.Name
		}
		return errs.Invalid("invalid_body", "Usher does not install npm dependencies (%s): Actions run with the JavaScript language alone.", strings.Join(names, ", "))
	}
	if a.Dependencies == nil {
		a.Dependencies = []Dependency{}
	}
	if len(modules) > 0 {
		return errs.Invalid("invalid_body", "Usher does not support Actions modules.")
	}
	return nil
}

// build compiles code and loads it once: Usher's synchronous build.
func (s *Service) build(ctx context.Context, trigger, code string) (*goja.Program, error) {
	prg, err := compile(code)
	if err != nil {
		return nil, err
	}
	release, err := s.acquire(ctx)
	if errors.Is(err, ErrBusy) {
		return nil, errs.Invalid("too_many_requests", "Too many Actions are running at once; try again in a moment.")
	} else if err != nil {
		return nil, err
	}
	defer release()
	return prg, check(ctx, prg, trigger, code, s.timeout, s.meter)
}

// checkTriggers validates supported_triggers: exactly one trigger Usher runs,
// in a version it accepts (the current one when none is given).
func checkTriggers(ts []TriggerInput) (TriggerRef, error) {
	if len(ts) != 1 {
		return TriggerRef{}, errs.Invalid("invalid_body", "Payload validation error: 'supported_triggers must hold exactly one trigger, it holds %d'.", len(ts))
	}
	t := TriggerRef{ID: ts[0].ID, Version: ts[0].Version}
	spec, ok := triggerSpecs[t.ID]
	if !ok {
		return t, errs.Invalid("invalid_body", "Usher does not run the %q trigger; it runs %s, %s and %s.", t.ID, PostLogin, PostChangePassword, PreUserRegistration)
	}
	if t.Version == "" {
		t.Version = spec.current
	}
	if !slices.Contains(spec.accepted, t.Version) {
		return t, errs.Invalid("invalid_body", "Version %q of the %s trigger is not supported (one of %s).", t.Version, t.ID, strings.Join(spec.accepted, ", "))
	}
	return t, nil
}

// mergeSecrets makes the secret list in from the stored list old: a secret
// with a value is set, one without keeps its stored value.
func mergeSecrets(old []Secret, in []SecretInput, now time.Time) ([]Secret, error) {
	out := []Secret{}
	seen := map[string]bool{}
	for _, si := range in {
		if err := checkName("secrets.name", si.Name); err != nil {
			return nil, err
		}
		if seen[si.Name] {
			return nil, errs.Invalid("invalid_body", "The secret %q is given twice.", si.Name)
		}
		seen[si.Name] = true
		if si.Value != nil {
			out = append(out, Secret{Name: si.Name, Value: *si.Value, UpdatedAt: now})
			continue
		}
		i := slices.IndexFunc(old, func(s Secret) bool { return s.Name == si.Name })
		if i < 0 {
			return nil, errs.Invalid("invalid_body", "Payload validation error: 'Missing required property: value' on secret %q.", si.Name)
		}
		out = append(out, old[i])
	}
	return out, nil
}

// Action returns one action.
func (s *Service) Action(ctx context.Context, id string) (Action, error) {
	a, err := s.store.Action(ctx, id)
	return a, notFound(err, errNoAction)
}

// Actions returns the actions f selects, oldest first.
func (s *Service) Actions(ctx context.Context, f Filter) ([]Action, error) {
	if f.Installed {
		return []Action{}, nil
	}
	all, err := s.store.Actions(ctx)
	if err != nil {
		return nil, err
	}
	out := []Action{}
	for _, a := range all {
		if f.TriggerID != "" && a.Trigger.ID != f.TriggerID || f.Name != "" && a.Name != f.Name || f.DeployedOnly && a.Deployed == nil {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// UpdateAction changes what p sets, and builds the code again. The build
// runs the code, so it happens before the transaction that writes the
// change, on the action as it was read; the transaction makes the change
// again on the action as it is then, so that concurrent PATCHes of
// different properties all keep theirs. When another change made meanwhile
// altered code or trigger that p does not set, what was built is not what
// would be stored: it is built again.
func (s *Service) UpdateAction(ctx context.Context, id string, p ActionPatch) (Action, error) {
	var modules []json.RawMessage
	if p.Modules != nil {
		modules = *p.Modules
	}
	for attempt := 1; ; attempt++ {
		a, err := s.Action(ctx, id)
		if err != nil {
			return Action{}, err
		}
		now := time.Now()
		if _, err := p.apply(&a, now); err != nil {
			return Action{}, err
		}
		if err := s.prepare(ctx, &a, modules, now); err != nil {
			return Action{}, err
		}
		built, name := a, a.Name
		err = s.store.AtomicActions(ctx, func(st Store) error {
			cur, err := st.Action(ctx, id)
			if err != nil {
				return notFound(err, errNoAction)
			}
			changed, err := p.apply(&cur, now)
			if err != nil {
				return err
			}
			if cur.Trigger != built.Trigger || cur.Code != built.Code {
				return errBuiltOther
			}
			if err := settle(&cur, modules); err != nil {
				return err
			}
			cur.Status, cur.BuiltAt, cur.UpdatedAt = StatusBuilt, now, now
			if changed {
				cur.AllChangesDeployed = false
			}
			cur.Deployed = nil
			name = cur.Name
			return st.UpdateAction(ctx, cur)
		})
		switch {
		case errors.Is(err, errBuiltOther) && attempt < maxRebuilds:
			continue
		case errors.Is(err, errBuiltOther):
			return Action{}, errs.Conflict("action_conflict", "The action's code kept changing while this change was built; try again.")
		case errors.Is(err, errs.ErrDuplicate):
			return Action{}, duplicateName(name)
		case errors.Is(err, errs.ErrNotFound):
			return Action{}, errNoAction
		case errs.KindOf(err) != 0:
			return Action{}, err
		case err != nil:
			return Action{}, fmt.Errorf("update action: %w", err)
		}
		return s.Action(ctx, id)
	}
}

// errBuiltOther is what UpdateAction's transaction returns when the code
// or trigger it would store is not what it built.
var errBuiltOther = errors.New("the action changed while it was built")

// maxRebuilds bounds how often UpdateAction builds a change again because
// others changed the code meanwhile.
const maxRebuilds = 3

// apply makes p's changes to a, and reports whether they change what runs
// (trigger, code, runtime or secrets): the action then has changes that
// are not deployed.
func (p ActionPatch) apply(a *Action, now time.Time) (changed bool, err error) {
	if p.Name != nil {
		if err := checkName("name", *p.Name); err != nil {
			return false, err
		}
		a.Name = *p.Name
	}
	if p.SupportedTriggers != nil {
		t, err := checkTriggers(*p.SupportedTriggers)
		if err != nil {
			return false, err
		}
		changed = changed || t != a.Trigger
		a.Trigger = t
	}
	if p.Code != nil {
		changed = changed || *p.Code != a.Code
		a.Code = *p.Code
	}
	if p.Runtime != nil {
		changed = changed || *p.Runtime != a.Runtime
		a.Runtime = *p.Runtime
	}
	if p.Dependencies != nil {
		a.Dependencies = *p.Dependencies
	}
	if p.Secrets != nil {
		secrets, err := mergeSecrets(a.Secrets, *p.Secrets, now)
		if err != nil {
			return false, err
		}
		changed = changed || !slices.Equal(secrets, a.Secrets)
		a.Secrets = secrets
	}
	return changed, nil
}

// DeleteAction deletes an action. One bound to a trigger is a conflict
// unless force, which unbinds it first.
func (s *Service) DeleteAction(ctx context.Context, id string, force bool) error {
	err := s.store.DeleteAction(ctx, id, force)
	if errors.Is(err, ErrBound) {
		return errs.Conflict("action_bound", "The action is bound to a trigger: remove its bindings first, or delete it with force=true.")
	}
	return notFound(err, errNoAction)
}

// Deploy builds the action's draft and makes it the deployed version.
func (s *Service) Deploy(ctx context.Context, id string) (Version, error) {
	a, err := s.Action(ctx, id)
	if err != nil {
		return Version{}, err
	}
	prg, err := s.build(ctx, a.Trigger.ID, a.Code)
	if err != nil {
		return Version{}, err
	}
	v, err := s.store.DeployAction(ctx, id, newID(), time.Now())
	if err != nil {
		return Version{}, fmt.Errorf("deploy action: %w", notFound(err, errNoAction))
	}
	if v.Code == a.Code {
		s.remember(v.ID, prg)
	}
	return s.withAction(ctx, v)
}

// withAction fills v.Action.
func (s *Service) withAction(ctx context.Context, v Version) (Version, error) {
	a, err := s.Action(ctx, v.ActionID)
	if err != nil {
		return Version{}, err
	}
	a.Deployed = nil
	v.Action = &a
	return v, nil
}

// Versions returns an action's deployed versions, newest first.
func (s *Service) Versions(ctx context.Context, actionID string) ([]Version, error) {
	a, err := s.Action(ctx, actionID)
	if err != nil {
		return nil, err
	}
	a.Deployed = nil
	vs, err := s.store.ActionVersions(ctx, actionID)
	for i := range vs {
		vs[i].Action = &a
	}
	return vs, err
}

// Version returns one version of an action.
func (s *Service) Version(ctx context.Context, actionID, versionID string) (Version, error) {
	v, err := s.store.ActionVersion(ctx, actionID, versionID)
	if err != nil {
		return Version{}, notFound(err, errNoVersion)
	}
	return s.withAction(ctx, v)
}

// Bindings returns a trigger's bindings in order, each with its action.
func (s *Service) Bindings(ctx context.Context, triggerID string) ([]Binding, error) {
	if !slices.Contains(auth0Triggers, triggerID) {
		return nil, errNoTrigger
	}
	bs, err := s.store.Bindings(ctx, triggerID)
	if err != nil {
		return nil, err
	}
	for i := range bs {
		a, err := s.Action(ctx, bs[i].ActionID)
		if err != nil {
			return nil, err
		}
		bs[i].Action = &a
	}
	return bs, nil
}

// BindingsUpdate is the body of PATCH /api/v2/actions/triggers/{triggerId}/bindings.
type BindingsUpdate struct {
	Bindings []BindingInput `json:"bindings"`
}

// BindingInput is one binding of a BindingsUpdate.
type BindingInput struct {
	Ref         *BindingRef   `json:"ref"`
	DisplayName string        `json:"display_name"`
	Secrets     []SecretInput `json:"secrets"`
}

// BindingRef names what a binding binds: an action by id or name, or an
// existing binding by id.
type BindingRef struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// UpdateBindings replaces a trigger's bindings with in's, in order. Every
// action bound must support the trigger and have been deployed; a binding
// keeps its id when it binds the same action again.
func (s *Service) UpdateBindings(ctx context.Context, triggerID string, in BindingsUpdate) ([]Binding, error) {
	if in.Bindings == nil && slices.Contains(auth0Triggers, triggerID) {
		return nil, missing("bindings")
	}
	return s.ChangeBindings(ctx, triggerID, func([]Binding) BindingsUpdate { return in })
}

// ChangeBindings replaces a trigger's bindings as UpdateBindings does with
// what change makes of the bindings the trigger has, read in the same
// transaction: the dashboard adds, removes or moves one binding this way,
// and a change made meanwhile by someone else is kept.
func (s *Service) ChangeBindings(ctx context.Context, triggerID string, change func(current []Binding) BindingsUpdate) ([]Binding, error) {
	if !slices.Contains(auth0Triggers, triggerID) {
		return nil, errNoTrigger
	}
	err := s.store.AtomicActions(ctx, func(st Store) error {
		old, err := st.Bindings(ctx, triggerID)
		if err != nil {
			return err
		}
		out, err := resolveBindings(ctx, st, triggerID, old, change(old), time.Now())
		if err != nil {
			return err
		}
		if err := st.ReplaceBindings(ctx, triggerID, out); err != nil {
			return fmt.Errorf("update bindings: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Bindings(ctx, triggerID)
}

// resolveBindings makes the bindings in asks for, reading their actions
// through st, from the trigger's bindings old.
func resolveBindings(ctx context.Context, st Store, triggerID string, old []Binding, in BindingsUpdate, now time.Time) ([]Binding, error) {
	reused := map[string]bool{}
	bound := map[string]bool{}
	out := []Binding{}
	for _, bi := range in.Bindings {
		if bi.Ref == nil {
			return nil, missing("bindings.ref")
		}
		if bi.Ref.Value == "" {
			return nil, missing("bindings.ref.value")
		}
		var a Action
		var err error
		var prev *Binding
		switch bi.Ref.Type {
		case "action_id":
			a, err = st.Action(ctx, bi.Ref.Value)
		case "action_name":
			a, err = st.ActionByName(ctx, bi.Ref.Value)
		case "binding_id":
			i := slices.IndexFunc(old, func(b Binding) bool { return b.ID == bi.Ref.Value })
			if i < 0 {
				return nil, errs.NotFound("inexistent_binding", "The binding does not exist.")
			}
			prev = &old[i]
			a, err = st.Action(ctx, prev.ActionID)
		default:
			return nil, errs.Invalid("invalid_body", "Payload validation error: 'No enum match for: %q' on property bindings.ref.type (action_id, action_name or binding_id).", bi.Ref.Type)
		}
		if err != nil {
			return nil, notFound(err, errNoAction)
		}
		if a.Trigger.ID != triggerID {
			return nil, errs.Invalid("invalid_body", "The action %q supports the %s trigger, not %s.", a.Name, a.Trigger.ID, triggerID)
		}
		if a.Deployed == nil {
			return nil, errs.Invalid("invalid_body", "The action %q has not been deployed: deploy it before binding it to a trigger.", a.Name)
		}
		if bound[a.ID] {
			return nil, errs.Invalid("invalid_body", "The action %q is bound twice: a trigger runs an action once.", a.Name)
		}
		bound[a.ID] = true
		if prev == nil {
			if i := slices.IndexFunc(old, func(b Binding) bool { return b.ActionID == a.ID && !reused[b.ID] }); i >= 0 {
				prev = &old[i]
			}
		}
		b := Binding{ID: newID(), TriggerID: triggerID, ActionID: a.ID, DisplayName: a.Name, CreatedAt: now, UpdatedAt: now}
		var oldSecrets []Secret
		if prev != nil {
			reused[prev.ID] = true
			b.ID, b.CreatedAt, b.DisplayName, oldSecrets = prev.ID, prev.CreatedAt, prev.DisplayName, prev.Secrets
		}
		if bi.DisplayName != "" {
			b.DisplayName = bi.DisplayName
		}
		if b.Secrets, err = mergeSecrets(oldSecrets, bi.Secrets, now); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Run runs the deployed versions bound to trigger, in binding order, with
// event (a copy of it for each; event.secrets is each action's secrets). It
// stops after an action that calls api.access.deny. It applies nothing: the
// Outcome says what the actions asked for. On an error (an action threw,
// was rejected or ran out of time: a *RunError) the Outcome holds what was
// collected until then, logs included.
func (s *Service) Run(ctx context.Context, trigger string, event map[string]any) (out Outcome, err error) {
	if !IsTrigger(trigger) {
		return Outcome{}, fmt.Errorf("run actions: unknown trigger %q", trigger)
	}
	deployments, err := s.store.DeployedBindings(ctx, trigger)
	if err != nil || len(deployments) == 0 {
		return Outcome{}, err
	}
	start := time.Now()
	defer func() { s.ran(trigger, resultOf(out, err), time.Since(start)) }()
	return s.run(ctx, trigger, event, deployments)
}

// run is Run once the trigger's deployments are known.
func (s *Service) run(ctx context.Context, trigger string, event map[string]any, deployments []Deployment) (Outcome, error) {
	eventJSON, err := eventText(event)
	if err != nil {
		return Outcome{}, fmt.Errorf("run actions: %w", err)
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return Outcome{}, fmt.Errorf("run actions: %w", err)
	}
	defer release()
	out := &collector{}
	for _, d := range deployments {
		if err := ctx.Err(); err != nil {
			return out.outcome(), err
		}
		prg, err := s.program(ctx, d)
		if err != nil {
			return out.outcome(), err
		}
		secrets := map[string]string{}
		for _, sec := range d.Secrets {
			secrets[sec.Name] = sec.Value
		}
		for _, sec := range d.Binding.Secrets {
			secrets[sec.Name] = sec.Value
		}
		e := newExecution(d.ActionName, out, s.meter.budget)
		if err := e.run(ctx, prg, trigger, eventJSON, secrets, s.timeout, s.meter); err != nil {
			return out.outcome(), err
		}
		if e.denied {
			break
		}
	}
	return out.outcome(), nil
}

// program returns the compiled code of a deployed version, compiling it the
// first time.
func (s *Service) program(ctx context.Context, d Deployment) (*goja.Program, error) {
	s.mu.Lock()
	prg := s.programs[d.VersionID]
	s.mu.Unlock()
	if prg != nil {
		return prg, nil
	}
	v, err := s.store.ActionVersion(ctx, d.Binding.ActionID, d.VersionID)
	if err != nil {
		return nil, fmt.Errorf("action %q: load version: %w", d.ActionName, err)
	}
	if prg, err = compile(v.Code); err != nil {
		return nil, &RunError{Action: d.ActionName, Message: err.Error()}
	}
	s.remember(d.VersionID, prg)
	return prg, nil
}

func (s *Service) remember(versionID string, prg *goja.Program) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.programs) >= maxPrograms {
		clear(s.programs)
	}
	s.programs[versionID] = prg
}

// eventText is the event as JSON, with event.user.app_metadata and
// user_metadata always objects, as Auth0 guarantees.
func eventText(event map[string]any) (string, error) {
	b, err := json.Marshal(event)
	if err != nil {
		return "", fmt.Errorf("event: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return "", fmt.Errorf("event: %w", err)
	}
	if doc == nil {
		doc = map[string]any{}
	}
	if user, ok := doc["user"].(map[string]any); ok {
		for _, k := range []string{"app_metadata", "user_metadata"} {
			if _, ok := user[k].(map[string]any); !ok {
				user[k] = map[string]any{}
			}
		}
	}
	b, err = json.Marshal(doc)
	return string(b), err
}
