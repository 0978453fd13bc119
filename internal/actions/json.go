package actions

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// maxJSONDepth is the nesting JSON.parse and JSON.stringify accept. goja's
// own recurse in Go once per level, and a Go stack overflow ends the
// process, so both are bounded here.
const maxJSONDepth = 512

// jsonWriter is JSON.stringify written in Go so that it can be bounded:
// goja's runs in one native call that neither the time limit nor the memory
// watchdog can stop, and an object graph that shares its branches
// (o = [x, x], x = [y, y], …) makes an output exponential in its size. This
// one looks at the run's stop flag at every value, refuses an output past
// limit and a nesting past maxJSONDepth. toJSON, getters and a replacer
// function run as in JavaScript, inside the run's budget.
type jsonWriter struct {
	e        *execution
	b        []byte
	limit    int
	tooBig   func() // panics: the output passed limit
	replacer goja.Callable
	keys     []string // the replacer's property list, nil without one
	gap      string
	stack    []*goja.Object
	visited  int64 // values written: shared branches make many from few
}

// jsonText serializes v; ok is false when JSON has no text for it (undefined, a function).
func (e *execution) jsonText(v goja.Value, replacer goja.Callable, keys []string, gap string, limit int, tooBig func()) (text string, ok bool) {
	w := &jsonWriter{e: e, limit: limit, tooBig: tooBig, replacer: replacer, keys: keys, gap: gap}
	holder := e.vm.NewObject()
	holder.DefineDataProperty("", v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
	if !w.property(holder, "", v, "") {
		return "", false
	}
	return string(w.b), true
}

func (w *jsonWriter) write(s string) {
	if len(w.b)+len(s) > w.limit {
		w.tooBig()
	}
	w.b = append(w.b, s...)
}

func (w *jsonWriter) call(fn goja.Callable, this goja.Value, args ...goja.Value) goja.Value {
	v, err := fn(this, args...)
	if err != nil {
		panic(err) // the action's exception, or the interrupt, carries on
	}
	return v
}

// property writes holder[key], whose value is v; false means nothing was written.
func (w *jsonWriter) property(holder *goja.Object, key string, v goja.Value, indent string) bool {
	e := w.e
	e.checkHalt()
	w.visited++
	e.capElements("JSON.stringify", w.visited)
	if obj, ok := v.(*goja.Object); ok {
		if fn, ok := goja.AssertFunction(obj.Get("toJSON")); ok {
			v = w.call(fn, obj, e.vm.ToValue(key))
		}
	}
	if w.replacer != nil {
		v = w.call(w.replacer, holder, e.vm.ToValue(key), v)
	}
	if v == nil || goja.IsUndefined(v) {
		return false
	}
	if goja.IsNull(v) {
		w.write("null")
		return true
	}
	obj, isObj := v.(*goja.Object)
	if isObj {
		switch obj.ClassName() {
		case "Number":
			v, isObj = e.vm.ToValue(v.ToFloat()), false
		case "String":
			v, isObj = e.str(v), false
		case "Boolean":
			v, isObj = e.vm.ToValue(v.ToBoolean()), false
		}
	}
	if !isObj {
		return w.primitive(v)
	}
	if _, fn := goja.AssertFunction(obj); fn {
		return false
	}
	for _, o := range w.stack {
		if o == obj {
			e.throw("Converting circular structure to JSON")
		}
	}
	if len(w.stack) >= maxJSONDepth {
		panic(e.vm.NewGoError(errTooDeep))
	}
	w.stack = append(w.stack, obj)
	defer func() { w.stack = w.stack[:len(w.stack)-1] }()
	inner := indent + w.gap
	if obj.ClassName() == "Array" {
		n := e.lengthOf(obj)
		e.capElements("JSON.stringify", n)
		w.write("[")
		for i := int64(0); i < n; i++ {
			if i > 0 {
				w.write(",")
			}
			w.newline(inner)
			k := strconv.FormatInt(i, 10)
			if !w.property(obj, k, obj.Get(k), inner) {
				w.write("null")
			}
		}
		if n > 0 {
			w.newline(indent)
		}
		w.write("]")
		return true
	}
	keys := w.keys
	if keys == nil {
		keys = e.keysOf("JSON.stringify", obj)
	}
	w.write("{")
	empty := true
	for _, k := range keys {
		e.checkHalt()
		mark := len(w.b)
		if !empty {
			w.write(",")
		}
		w.newline(inner)
		w.write(quote(k))
		w.write(":")
		if w.gap != "" {
			w.write(" ")
		}
		if !w.property(obj, k, obj.Get(k), inner) {
			w.b = w.b[:mark]
			continue
		}
		empty = false
	}
	if !empty {
		w.newline(indent)
	}
	w.write("}")
	return true
}

func (w *jsonWriter) newline(indent string) {
	if w.gap != "" {
		w.write("\n" + indent)
	}
}

// primitive writes a string, number or boolean; false for a symbol.
func (w *jsonWriter) primitive(v goja.Value) bool {
	if _, sym := v.(*goja.Symbol); sym {
		return false
	}
	if gs, ok := v.(goja.String); ok && gs.Length() > w.limit {
		w.tooBig()
	}
	t := v.ExportType()
	switch {
	case t == nil:
		return false
	case t.Kind() == reflect.String:
		w.write(quote(v.String()))
	case t.Kind() == reflect.Bool:
		w.write(v.String())
	case t.Kind() == reflect.Float64 || t.Kind() == reflect.Int64:
		s := v.String()
		if s == "NaN" || strings.HasSuffix(s, "Infinity") {
			s = "null"
		}
		w.write(s)
	default:
		w.e.throw("Do not know how to serialize a %s", t)
	}
	return true
}

// stringify is the action's JSON.stringify.
func (e *execution) stringify(call goja.FunctionCall) goja.Value {
	var replacer goja.Callable
	var keys []string
	if fn, ok := goja.AssertFunction(call.Argument(1)); ok {
		replacer = fn
	} else if list, ok := call.Argument(1).(*goja.Object); ok && list.ClassName() == "Array" {
		n := e.lengthOf(list)
		e.capElements("JSON.stringify", n)
		keys = []string{}
		seen := map[string]bool{}
		for i := int64(0); i < n; i++ {
			e.checkHalt()
			item := list.Get(strconv.FormatInt(i, 10))
			if obj := o(item); obj != nil && obj.ClassName() != "String" && obj.ClassName() != "Number" ||
				obj == nil && !isString(item) && !isNumber(item) {
				continue
			}
			if k := item.String(); !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	gap := ""
	space := call.Argument(2)
	if o, ok := space.(*goja.Object); ok {
		switch o.ClassName() {
		case "Number":
			space = e.vm.ToValue(space.ToFloat())
		case "String":
			space = e.str(space)
		}
	}
	if t := space.ExportType(); t != nil {
		switch t.Kind() {
		case reflect.Float64, reflect.Int64:
			gap = strings.Repeat(" ", int(min(10, max(0, space.ToInteger()))))
		case reflect.String:
			gap = truncate(space.String(), 10)
		}
	}
	text, ok := e.jsonText(call.Argument(0), replacer, keys, gap, int(e.memory), func() {
		e.refuse("JSON.stringify made a text of more than %s", megabytes(e.memory))
	})
	if !ok {
		return goja.Undefined()
	}
	return e.vm.ToValue(text)
}

func isNumber(v goja.Value) bool {
	t := v.ExportType()
	return t != nil && (t.Kind() == reflect.Float64 || t.Kind() == reflect.Int64)
}

// o is v as an object, nil for a primitive.
func o(v goja.Value) *goja.Object {
	obj, _ := v.(*goja.Object)
	return obj
}

// jsonDepth returns the deepest nesting of arrays and objects in JSON
// text, counted without parsing it.
func jsonDepth(text string) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}
