package mail

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/osteele/liquid"
	"github.com/osteele/liquid/filters"
	"github.com/osteele/liquid/parser"
	"github.com/osteele/liquid/render"
)

// osteele/liquid cannot be stopped once a render has started, so whatever
// a template can do without bound is bounded here: what it prints
// (limitedBuilder), how often its loops run and for how long (a step tag
// that parse puts at the head of every loop body), and how large a value a
// filter or a capture may make (the filters that grow values are wrapped,
// every capture is followed by a size tag).
const (
	maxSteps          = 100_000 // loop iterations of one render, nested ones included
	defaultRenderTime = time.Second
	maxItems          = 100_000 // elements of an array a filter makes
)

// stepTag counts one loop iteration; sizeTag checks the size of the value a
// capture made. budgetVar holds the render's budget among its variables,
// under a name no Liquid expression can spell.
const (
	stepTag   = "usher_step"
	sizeTag   = "usher_size"
	budgetVar = "\x00budget"
)

var (
	errTooManySteps = fmt.Errorf("the template's loops run more than %d times", maxSteps)
	errTooBig       = fmt.Errorf("the template makes a value of more than %d bytes or %d items", maxOutput, maxItems)
)

// budget is what one render may still spend.
type budget struct {
	steps    int
	limit    time.Duration
	deadline time.Time
}

func (b *budget) spend() error {
	b.steps++
	if b.steps > maxSteps {
		return errTooManySteps
	}
	if time.Now().After(b.deadline) {
		return fmt.Errorf("the template takes more than %v to render", b.limit)
	}
	return nil
}

// withBudget returns vars with a fresh budget for one render.
func withBudget(vars map[string]any, limit time.Duration) map[string]any {
	out := make(map[string]any, len(vars)+1)
	for k, v := range vars {
		out[k] = v
	}
	out[budgetVar] = &budget{limit: limit, deadline: time.Now().Add(limit)}
	return out
}

// stepped returns src with stepTag at the head of every live loop body and
// sizeTag after every capture. Neither prints anything nor takes a line,
// so errors keep their lines.
func stepped(src string) string {
	var out strings.Builder
	var captures []string // the variables of the captures open here
	eachToken(src, parser.SourceLoc{LineNo: 1}, func(tok parser.Token, live bool) error {
		out.WriteString(tok.Source)
		if !live || tok.Type != parser.TagTokenType {
			return nil
		}
		// A tag written "-%}" trims the text after it; the tag put after
		// it then takes over the "-" so that the text is still trimmed.
		trim := ""
		if strings.HasSuffix(tok.Source, "-%}") {
			trim = "-"
		}
		switch tok.Name {
		case "for", "tablerow":
			out.WriteString("{% " + stepTag + " " + trim + "%}")
		case "capture":
			captures = append(captures, strings.TrimSpace(tok.Args))
		case "endcapture":
			if n := len(captures); n > 0 {
				out.WriteString("{% " + sizeTag + " " + captures[n-1] + " " + trim + "%}")
				captures = captures[:n-1]
			}
		}
		return nil
	})
	return out.String()
}

// boundRenders installs the step and size tags and bounded
// versions of the standard filters in l.
func boundRenders(l *liquid.Engine) {
	l.RegisterTag(stepTag, func(ctx render.Context) (string, error) {
		if b, ok := ctx.Get(budgetVar).(*budget); ok {
			return "", b.spend()
		}
		return "", nil
	})
	l.RegisterTag(sizeTag, func(ctx render.Context) (string, error) {
		if tooBig(reflect.ValueOf(ctx.Get(ctx.TagArgs()))) {
			return "", errTooBig
		}
		return "", nil
	})
	filters.AddStandardFilters(boundedFilters{l})
}

// boundedFilters registers again, wrapped in a check of the size of their
// result, the standard filters that can make a value larger than the sum of
// their inputs, or feed one that does: applied to a value and itself over a
// few lines, they grow it exponentially. The others grow a value by a
// bounded factor at most and are left as they are.
type boundedFilters struct{ l *liquid.Engine }

var growing = map[string]bool{
	"append": true, "prepend": true, "concat": true, "join": true, "split": true,
	"replace": true, "replace_first": true, "replace_last": true,
}

var errorType = reflect.TypeFor[error]()

// AddFilter implements filters.FilterDictionary.
func (d boundedFilters) AddFilter(name string, fn any) {
	f := reflect.ValueOf(fn)
	ft := f.Type()
	if !growing[name] || (ft.NumOut() == 2 && ft.Out(1) != errorType) {
		return
	}
	in := make([]reflect.Type, ft.NumIn())
	for i := range in {
		in[i] = ft.In(i)
	}
	wrapped := reflect.MakeFunc(reflect.FuncOf(in, []reflect.Type{ft.Out(0), errorType}, ft.IsVariadic()), func(args []reflect.Value) []reflect.Value {
		var out []reflect.Value
		if ft.IsVariadic() {
			out = f.CallSlice(args)
		} else {
			out = f.Call(args)
		}
		err := reflect.Zero(errorType)
		if len(out) == 2 && !out[1].IsNil() {
			err = out[1]
		} else if tooBig(out[0]) {
			err = reflect.ValueOf(&errTooBig).Elem()
		}
		return []reflect.Value{out[0], err}
	})
	d.l.RegisterFilter(name, wrapped.Interface())
}

// tooBig reports whether a filter's result is past the bounds.
func tooBig(v reflect.Value) bool {
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		return v.Len() > maxOutput
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Len() > maxOutput
		}
		return v.Len() > maxItems
	}
	return false
}
