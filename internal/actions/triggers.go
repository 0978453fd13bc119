package actions

import "slices"

// Trigger is a point in a flow where bound actions run, as
// GET /api/v2/actions/triggers lists it.
type Trigger struct {
	ID                 string       `json:"id"`
	Version            string       `json:"version"`
	Status             string       `json:"status"`
	Runtimes           []string     `json:"runtimes"`
	DefaultRuntime     string       `json:"default_runtime"`
	CompatibleTriggers []TriggerRef `json:"compatible_triggers"`
	BindingPolicy      string       `json:"binding_policy"`
}

// The triggers Usher runs.
const (
	PostLogin           = "post-login"
	PostChangePassword  = "post-change-password"
	PreUserRegistration = "pre-user-registration"
)

// runtimes are the runtime names Usher accepts: Auth0's current and past Node
// versions, so that exported actions import unchanged. Every one runs on the
// same engine.
var runtimes = []string{"node12", "node16", "node18", "node18-actions", "node20", "node22"}

const defaultRuntime = "node22"

// triggerSpec is what Usher knows of a trigger: its current version, the
// older versions whose actions it still runs, and the function it calls.
type triggerSpec struct {
	current  string
	accepted []string
	handler  string
}

var triggerSpecs = map[string]triggerSpec{
	PostLogin:           {current: "v3", accepted: []string{"v1", "v2", "v3"}, handler: "onExecutePostLogin"},
	PostChangePassword:  {current: "v2", accepted: []string{"v1", "v2"}, handler: "onExecutePostChangePassword"},
	PreUserRegistration: {current: "v2", accepted: []string{"v1", "v2"}, handler: "onExecutePreUserRegistration"},
}

// Triggers returns the triggers Usher runs, in the order Auth0 lists them.
func Triggers() []Trigger {
	var out []Trigger
	for _, id := range []string{PostLogin, PostChangePassword, PreUserRegistration} {
		spec := triggerSpecs[id]
		compatible := []TriggerRef{}
		for _, v := range spec.accepted {
			if v != spec.current {
				compatible = append(compatible, TriggerRef{ID: id, Version: v})
			}
		}
		out = append(out, Trigger{ID: id, Version: spec.current, Status: "CURRENT", Runtimes: slices.Clone(runtimes),
			DefaultRuntime: defaultRuntime, CompatibleTriggers: compatible, BindingPolicy: "trigger-bound"})
	}
	return out
}

// IsTrigger reports whether Usher runs the trigger called id.
func IsTrigger(id string) bool {
	_, ok := triggerSpecs[id]
	return ok
}

// auth0Triggers are the triggers Auth0 has. Usher runs three; the bindings of
// the others read as empty and can be set to empty, so that a tenant's
// exported configuration imports unchanged.
var auth0Triggers = []string{
	PostLogin, "credentials-exchange", PreUserRegistration, "post-user-registration", PostChangePassword,
	"send-phone-message", "custom-phone-provider", "custom-email-provider", "password-reset-post-challenge",
	"custom-token-exchange", "event-stream", "password-hash-migration", "login-post-identifier",
	"signup-post-identifier", "post-credential-validation",
}

// TriggerInput is a supported trigger as a request names it. Auth0 accepts
// the whole trigger object there; Usher reads its id and version.
type TriggerInput struct {
	ID                 string       `json:"id"`
	Version            string       `json:"version"`
	Status             string       `json:"status"`
	URL                string       `json:"url"`
	Runtimes           []string     `json:"runtimes"`
	DefaultRuntime     string       `json:"default_runtime"`
	CompatibleTriggers []TriggerRef `json:"compatible_triggers"`
	BindingPolicy      string       `json:"binding_policy"`
}
