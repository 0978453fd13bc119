package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/identity"
)

// flow is a trigger's bound actions, in the order they run, and the
// deployed actions that could join it.
type flow struct {
	Trigger  string
	Bindings []actions.Binding
	Unbound  []actions.Action
}

// actionsData is the actions page.
type actionsData struct {
	Actions   []actions.Action
	Flows     []flow
	Triggers  []string
	NewName   string
	NewCode   string
	Trigger   string
	Templates []templateState
}

// actionTemplate is an action the page sets up in one click: created,
// deployed and bound at the end of its trigger's flow.
type actionTemplate struct {
	ID, Name, Trigger, Code, About string
}

// actionTemplates are the actions offered in one click.
var actionTemplates = []actionTemplate{{
	ID: "clear-needs-invitation", Name: "Clear needsInvitation at first login", Trigger: actions.PostLogin, Code: starterCode,
	About: "Auth0's invitation recipe: when someone invited by flagging app_metadata.needsInvitation (then change_password or a " +
		"password-change ticket) first logs in, the flag is set to false, so that their next forgot-password mail is a reset, " +
		"not a new invitation. Invitations Usher makes lower the flag themselves when accepted.",
}}

// templateState is a template and, when its action exists, how far it is set up.
type templateState struct {
	actionTemplate
	Action          *actions.Action
	Deployed, Bound bool
}

// starterCode is what a new post-login action starts with: Auth0's
// invitation recipe, which clears the flag at the first login.
const starterCode = `exports.onExecutePostLogin = async (event, api) => {
  if (event.user.app_metadata.needsInvitation) {
    api.user.setAppMetadata("needsInvitation", false);
  }
};
`

func (d *Dashboard) loadActions(r *http.Request) (actionsData, error) {
	all, err := d.acts.Actions(r.Context(), actions.Filter{})
	if err != nil {
		return actionsData{}, err
	}
	data := actionsData{Actions: all, NewCode: starterCode, Trigger: actions.PostLogin}
	for _, t := range d.acts.Triggers() {
		data.Triggers = append(data.Triggers, t.ID)
		bs, err := d.acts.Bindings(r.Context(), t.ID)
		if err != nil {
			return data, err
		}
		f := flow{Trigger: t.ID, Bindings: bs}
		for _, a := range all {
			if a.Trigger.ID == t.ID && a.Deployed != nil && !slices.ContainsFunc(bs, func(b actions.Binding) bool { return b.ActionID == a.ID }) {
				f.Unbound = append(f.Unbound, a)
			}
		}
		data.Flows = append(data.Flows, f)
		for _, tpl := range actionTemplates {
			if tpl.Trigger != t.ID {
				continue
			}
			st := templateState{actionTemplate: tpl}
			if i := slices.IndexFunc(all, func(a actions.Action) bool { return a.Name == tpl.Name }); i >= 0 {
				st.Action = &all[i]
				st.Deployed = all[i].Deployed != nil
				st.Bound = slices.ContainsFunc(bs, func(b actions.Binding) bool { return b.ActionID == all[i].ID })
			}
			data.Templates = append(data.Templates, st)
		}
	}
	return data, nil
}

func (d *Dashboard) actionList() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		data, err := d.loadActions(r)
		if err != nil {
			d.showError(w, s, err)
			return
		}
		d.render(w, http.StatusOK, "actions", s.view("Actions", "actions", "", data))
	})
}

func (d *Dashboard) createAction() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		name, code, trigger := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("code"), r.PostFormValue("trigger")
		a, err := d.acts.CreateAction(r.Context(), actions.ActionInput{Name: name, Code: code,
			SupportedTriggers: []actions.TriggerInput{{ID: trigger}}})
		if err != nil {
			status, msg, ok := d.problem(w, err)
			if !ok {
				return
			}
			data, lerr := d.loadActions(r)
			if lerr != nil {
				d.fail(w, lerr)
				return
			}
			data.NewName, data.NewCode, data.Trigger = name, code, trigger
			d.render(w, status, "actions", s.view("Actions", "actions", "Not created: "+msg, data))
			return
		}
		d.redirect(w, r, "/actions/"+url.PathEscape(a.ID), "action")
	})
}

// actionData is an action's page: its code, its versions, and what its
// recent runs printed or failed with.
type actionData struct {
	Action   actions.Action
	Code     string
	Versions []actions.Version
	Output   []consoleRun
	Failures []identity.LogEvent
}

// consoleRun is what the action printed in one run.
type consoleRun struct {
	Event identity.LogEvent
	Lines []string
}

// recentRuns is how many log events the action page looks through.
const recentRuns = 200

func (d *Dashboard) loadAction(r *http.Request, id string) (actionData, error) {
	a, err := d.acts.Action(r.Context(), id)
	if err != nil {
		return actionData{}, err
	}
	data := actionData{Action: a, Code: a.Code}
	if data.Versions, err = d.acts.Versions(r.Context(), id); err != nil {
		return data, err
	}
	events, _, err := d.ids.Logs(r.Context(), identity.LogQuery{Types: []string{"actions_console", "f"}, PerPage: recentRuns})
	if err != nil {
		return data, err
	}
	prefix := a.Name + ": "
	for _, e := range events {
		if e.Type == "f" {
			if strings.Contains(e.Description, a.Name) && len(data.Failures) < 20 {
				data.Failures = append(data.Failures, e)
			}
			continue
		}
		lines, _ := e.Details["lines"].([]any)
		run := consoleRun{Event: e}
		for _, l := range lines {
			if s, ok := l.(string); ok && strings.HasPrefix(s, prefix) {
				run.Lines = append(run.Lines, strings.TrimPrefix(s, prefix))
			}
		}
		if len(run.Lines) > 0 && len(data.Output) < 20 {
			data.Output = append(data.Output, run)
		}
	}
	return data, nil
}

func (d *Dashboard) action() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		data, err := d.loadAction(r, r.PathValue("id"))
		if err != nil {
			d.showError(w, s, err)
			return
		}
		d.render(w, http.StatusOK, "action", s.view("Action "+data.Action.Name, "actions", "", data))
	})
}

// saveAction saves the code, and deploys it when the Deploy button was used.
func (d *Dashboard) saveAction() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		id, code := r.PathValue("id"), r.PostFormValue("code")
		_, err := d.acts.UpdateAction(r.Context(), id, actions.ActionPatch{Code: &code})
		note := "action"
		if err == nil && r.PostFormValue("deploy") != "" {
			_, err = d.acts.Deploy(r.Context(), id)
			note = "deployed"
		}
		if err != nil {
			status, msg, ok := d.problem(w, err)
			if !ok {
				return
			}
			data, lerr := d.loadAction(r, id)
			if lerr != nil {
				d.showError(w, s, lerr)
				return
			}
			data.Code = code
			d.render(w, status, "action", s.view("Action "+data.Action.Name, "actions", "Not saved: "+msg, data))
			return
		}
		d.redirect(w, r, "/actions/"+url.PathEscape(id), note)
	})
}

func (d *Dashboard) deployAction() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		id := r.PathValue("id")
		if _, err := d.acts.Deploy(r.Context(), id); err != nil {
			d.showError(w, s, err)
			return
		}
		d.redirect(w, r, "/actions/"+url.PathEscape(id), "deployed")
	})
}

// editFlow changes a trigger's flow: an action moves up or down, joins
// (at the end) or leaves.
func (d *Dashboard) editFlow() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		trigger, id, op := r.PathValue("trigger"), r.PostFormValue("action"), r.PostFormValue("op")
		// The click changes the flow as it is when it is saved, so that
		// two administrators' clicks at once both count.
		_, err := d.acts.ChangeBindings(r.Context(), trigger, func(bs []actions.Binding) actions.BindingsUpdate {
			ids := boundActions(bs)
			i := slices.Index(ids, id)
			switch {
			case op == "add" && i < 0:
				ids = append(ids, id)
			case op == "remove" && i >= 0:
				ids = slices.Delete(ids, i, i+1)
			case op == "up" && i > 0:
				ids[i-1], ids[i] = ids[i], ids[i-1]
			case op == "down" && i >= 0 && i < len(ids)-1:
				ids[i+1], ids[i] = ids[i], ids[i+1]
			}
			return bindingsOf(ids)
		})
		if err != nil {
			d.showError(w, s, err)
			return
		}
		d.redirect(w, r, "/actions", "flow")
	})
}

// useTemplate sets up a template's action: created and deployed unless it
// exists (an action of that name), bound to its trigger unless it is. A
// second click changes nothing; an existing action's code is left as it is.
func (d *Dashboard) useTemplate() http.Handler {
	return d.admin(func(w http.ResponseWriter, r *http.Request, s *session) {
		i := slices.IndexFunc(actionTemplates, func(t actionTemplate) bool { return t.ID == r.PostFormValue("template") })
		if i < 0 {
			d.render(w, http.StatusBadRequest, "error", s.view("Cannot do that", "actions", "There is no such action template.", nil))
			return
		}
		if err := d.setUp(r, actionTemplates[i]); err != nil {
			d.showError(w, s, err)
			return
		}
		d.redirect(w, r, "/actions", "action-template")
	})
}

func (d *Dashboard) setUp(r *http.Request, tpl actionTemplate) error {
	ctx := r.Context()
	byName := func() ([]actions.Action, error) { return d.acts.Actions(ctx, actions.Filter{Name: tpl.Name}) }
	found, err := byName()
	if err != nil {
		return err
	}
	var a actions.Action
	if len(found) > 0 {
		a = found[0]
	} else {
		a, err = d.acts.CreateAction(ctx, actions.ActionInput{Name: tpl.Name, Code: tpl.Code, SupportedTriggers: []actions.TriggerInput{{ID: tpl.Trigger}}})
		var de *errs.Error
		if errors.As(err, &de) && de.Kind == errs.KindConflict {
			// Another click made it a moment ago.
			if found, err = byName(); err == nil && len(found) == 0 {
				err = de
			}
			if err == nil {
				a = found[0]
			}
		}
		if err != nil {
			return err
		}
	}
	if a.Trigger.ID != tpl.Trigger {
		return errs.Conflict("action_conflict", fmt.Sprintf("An action named %q exists already for the %s trigger: rename it first.", tpl.Name, a.Trigger.ID))
	}
	if a.Deployed == nil {
		if _, err := d.acts.Deploy(ctx, a.ID); err != nil {
			return err
		}
	}
	// A second click changes nothing; clicks at once each add the action
	// to the flow as it is then, once.
	bs, err := d.acts.Bindings(ctx, tpl.Trigger)
	if err != nil || slices.ContainsFunc(bs, func(b actions.Binding) bool { return b.ActionID == a.ID }) {
		return err
	}
	_, err = d.acts.ChangeBindings(ctx, tpl.Trigger, func(bs []actions.Binding) actions.BindingsUpdate {
		ids := boundActions(bs)
		if !slices.Contains(ids, a.ID) {
			ids = append(ids, a.ID)
		}
		return bindingsOf(ids)
	})
	return err
}

// boundActions lists the actions bs bind, in order.
func boundActions(bs []actions.Binding) []string {
	ids := make([]string, len(bs))
	for i, b := range bs {
		ids[i] = b.ActionID
	}
	return ids
}

// bindingsOf is the bindings update that binds the actions ids, in order.
func bindingsOf(ids []string) actions.BindingsUpdate {
	in := actions.BindingsUpdate{Bindings: []actions.BindingInput{}}
	for _, id := range ids {
		in.Bindings = append(in.Bindings, actions.BindingInput{Ref: &actions.BindingRef{Type: "action_id", Value: id}})
	}
	return in
}
