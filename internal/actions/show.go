package actions

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// show writes v as console.log shows it (strings as they are, errors as
// "Name: message", arrays and plain objects as JSON), in at most about limit
// bytes. It reads own data properties only: no getter, toString, toJSON or
// Proxy trap of the action's runs. So it is safe on a thrown value after the
// run ended, and bounded on anything, cycles and huge arrays included.
func (e *execution) show(v goja.Value, limit int) (s string) {
	w := &shower{e: e, limit: max(limit, 16)}
	defer func() {
		if recover() != nil {
			// A Proxy trap hit the armed interrupt or threw.
			w.b.WriteString("[object]")
			s = w.b.String()
			e.rearm()
		}
	}()
	w.value(v, 0, true)
	return w.b.String()
}

// rearm arms the interrupt again when the run has stopped: goja clears it
// when an interrupted call returns to Go.
func (e *execution) rearm() {
	if reason, _ := e.stopReason(); reason != nil {
		e.vm.Interrupt(reason)
	}
}

type shower struct {
	e     *execution
	b     strings.Builder
	limit int
}

func (w *shower) full() bool { return w.b.Len() >= w.limit }

// value writes v; top is whether v is console.log's own argument (a string
// then shows bare, and undefined as "undefined").
func (w *shower) value(v goja.Value, depth int, top bool) {
	if w.full() {
		return
	}
	switch {
	case v == nil || goja.IsUndefined(v):
		if top {
			w.b.WriteString("undefined")
		} else {
			w.b.WriteString("null")
		}
		return
	case goja.IsNull(v):
		w.b.WriteString("null")
		return
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		w.primitive(v, top)
		return
	}
	if _, fn := goja.AssertFunction(obj); fn {
		name, _ := w.e.dataProp(obj, "name")
		w.b.WriteString("[Function")
		if name != nil && isString(name) && name.String() != "" {
			w.b.WriteString(": " + truncate(name.String(), 64))
		}
		w.b.WriteString("]")
		return
	}
	switch obj.ClassName() {
	case "Error":
		w.b.WriteString(truncate(w.e.errorText(obj), w.limit))
		return
	case "Date":
		if t, ok := obj.Export().(time.Time); ok {
			w.b.WriteString(strconv.Quote(t.UTC().Format("2006-01-02T15:04:05.000Z")))
			return
		}
	case "Array":
		if depth >= maxShowDepth {
			w.b.WriteString("[Array]")
			return
		}
		n := int64(0)
		if l, ok := w.e.dataProp(obj, "length"); ok {
			n = l.ToInteger()
		}
		w.b.WriteByte('[')
		for i := int64(0); i < n; i++ {
			if w.full() {
				return
			}
			if i > 0 {
				w.b.WriteByte(',')
			}
			el, _ := w.e.dataProp(obj, strconv.FormatInt(i, 10))
			w.value(el, depth+1, false)
		}
		w.b.WriteByte(']')
		return
	}
	if proto := obj.Prototype(); proto != nil && proto != w.e.objectProto {
		w.b.WriteString("[object " + obj.ClassName() + "]")
		return
	}
	if depth >= maxShowDepth {
		w.b.WriteString("[Object]")
		return
	}
	w.b.WriteByte('{')
	first := true
	for _, k := range obj.Keys() {
		if w.full() {
			return
		}
		el, ok := w.e.dataProp(obj, k)
		if !ok || goja.IsUndefined(el) || !shownInObject(el) {
			continue
		}
		if !first {
			w.b.WriteByte(',')
		}
		first = false
		w.b.WriteString(quote(truncate(k, w.limit)))
		w.b.WriteByte(':')
		w.value(el, depth+1, false)
	}
	w.b.WriteByte('}')
}

// shownInObject is false for what JSON leaves out of an object: functions and symbols.
func shownInObject(v goja.Value) bool {
	if _, fn := goja.AssertFunction(v); fn {
		return false
	}
	_, sym := v.(*goja.Symbol)
	return !sym
}

func isString(v goja.Value) bool {
	t := v.ExportType()
	return t != nil && t.Kind() == reflect.String
}

// primitive writes a string, number, boolean or symbol.
func (w *shower) primitive(v goja.Value, top bool) {
	if isString(v) {
		if gs, ok := v.(goja.String); ok && gs.Length() > w.limit {
			v = gs.Substring(0, w.limit) // converting a huge string to Go would copy all of it
		}
		s := v.String()
		if !top {
			s = quote(s)
		}
		w.b.WriteString(s)
		return
	}
	if t := v.ExportType(); t != nil && (t.Kind() == reflect.Float64 || t.Kind() == reflect.Int64) && !top {
		if f := v.ToFloat(); math.IsNaN(f) || math.IsInf(f, 0) {
			w.b.WriteString("null")
			return
		}
	}
	w.b.WriteString(v.String()) // numbers, booleans, symbols: Go code only
}

// errorText is "Name: message" of an Error, from data properties only (the
// name usually lives on the prototype).
func (e *execution) errorText(obj *goja.Object) string {
	name, msg := "Error", ""
	for o, i := obj, 0; o != nil && i < 16; o, i = o.Prototype(), i+1 {
		if v, ok := e.dataProp(o, "name"); ok && isString(v) {
			name = truncate(v.String(), maxErrorMessage)
			break
		}
	}
	for o, i := obj, 0; o != nil && i < 16; o, i = o.Prototype(), i+1 {
		if v, ok := e.dataProp(o, "message"); ok && isString(v) {
			msg = truncate(v.String(), maxErrorMessage)
			break
		}
	}
	switch {
	case msg == "":
		return name
	case name == "":
		return msg
	}
	return name + ": " + msg
}

// dataProp returns obj's own data property key, through the descriptor so
// that a getter is never called. It reports false for an accessor, a
// missing property, or a Proxy whose trap failed.
func (e *execution) dataProp(obj *goja.Object, key string) (v goja.Value, ok bool) {
	d, err := e.ownProperty(goja.Undefined(), obj, e.vm.ToValue(key))
	if err != nil {
		e.rearm()
		return nil, false
	}
	desc, isObj := d.(*goja.Object)
	if !isObj {
		return nil, false
	}
	for _, k := range desc.GetOwnPropertyNames() {
		if k == "value" {
			return desc.Get("value"), true
		}
	}
	return nil, false
}

// quote writes s as a JSON string (without escaping HTML, as JSON.stringify).
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte("0123456789abcdef"[r>>4])
				b.WriteByte("0123456789abcdef"[r&0xf])
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
