package actions

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/dop251/goja"
)

// The guards. goja runs each builtin as one Go call: the interrupt is only
// looked at between instructions and the memory watchdog can only stop
// what returns to the interpreter. So every builtin that can, in one call,
// allocate far more than its inputs hold or loop far longer than they are
// big is replaced, before the action's code runs, by a native function that
// checks the request against the run's budget and then calls the original
// (which the action's code can no longer reach). Past the budget the run
// stops as out of memory. The bounds:
//   - a result string or buffer is at most the memory budget;
//   - an array-like a builtin walks has at most elementCap elements (a sparse
//     Array(2**32-1) or {length: 2**53} holds nothing yet makes a builtin loop
//     billions of times);
//   - a string that a builtin cuts into pieces (split, match, replace, …) has
//     at most stringCap characters, and a replacement is counted as it grows.
// JSON.stringify and Array.prototype.join are written in Go here (they walk
// shared branches exponentially), JSON.parse is bounded in depth (goja
// recurses in Go once per level, and a Go stack overflow ends the process).

// errTooDeep is thrown for JSON nested past maxJSONDepth.
var errTooDeep = fmt.Errorf("JSON nested more than %d levels deep", maxJSONDepth)

// Programs that reach intrinsics with no global name.
var (
	functionKinds = goja.MustCompile("", "[function(){}, async function(){}, function*(){}]", true)
)

// elementCap is the longest array-like a builtin may walk: 128 bytes an
// element is about what an element costs once a builtin has made strings or
// entries of it.
func (e *execution) elementCap() int64 { return max(1024, int64(e.memory/128)) }

// stringCap is the longest string a builtin may cut into pieces.
func (e *execution) stringCap() int64 { return max(4096, int64(e.memory/64)) }

// refuse stops the run as out of memory and throws.
func (e *execution) refuse(format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	e.mu.Lock()
	if e.reason == nil && e.detail == "" {
		e.detail = detail
	}
	e.mu.Unlock()
	e.halt(ErrMemory)
	panic(e.vm.NewGoError(errors.New(detail)))
}

// capElements refuses a builtin walking more than elementCap elements.
func (e *execution) capElements(what string, n int64) {
	if n > e.elementCap() {
		e.refuse("%s on %d elements; at most %d", what, n, e.elementCap())
	}
}

// capString refuses a builtin cutting a string of more than stringCap characters.
func (e *execution) capString(what string, s goja.Value) {
	if gs, ok := s.(goja.String); ok && int64(gs.Length()) > e.stringCap() {
		e.refuse("%s on a string of %d characters; at most %d", what, gs.Length(), e.stringCap())
	}
}

// capBytes refuses a result of more than the budget.
func (e *execution) capBytes(what string, n float64) {
	if n > float64(e.memory) {
		e.refuse("%s would take %.0f MB", what, math.Ceil(n/(1<<20)))
	}
}

// lengthOf is ToLength(obj.length); a getter or Proxy trap runs, inside the run.
func (e *execution) lengthOf(obj *goja.Object) int64 {
	v := obj.Get("length")
	if v == nil {
		return 0
	}
	f := v.ToFloat()
	switch {
	case math.IsNaN(f) || f <= 0:
		return 0
	case f > 1<<53:
		return 1 << 53
	}
	return int64(f)
}

// sizeOf is how many elements or keys a builtin finds in v: a string's
// length, an array-like's length.
func (e *execution) sizeOf(v goja.Value) int64 {
	if gs, ok := v.(goja.String); ok {
		return int64(gs.Length())
	}
	if obj := o(v); obj != nil {
		return e.lengthOf(obj)
	}
	return 0
}

// isTypedArray reports whether obj inherits from %TypedArray%.prototype.
func (e *execution) isTypedArray(obj *goja.Object) bool { return inherits(obj, e.typedArrayProto) }

// inherits reports whether proto is on obj's prototype chain (its first 16 links).
func inherits(obj, proto *goja.Object) bool {
	for p, i := obj.Prototype(), 0; p != nil && i < 16; p, i = p.Prototype(), i+1 {
		if p == proto {
			return true
		}
	}
	return false
}

// keysOf is obj.Keys(), refused when obj is an array, string or typed array
// too long: each index would become a string.
func (e *execution) keysOf(what string, obj *goja.Object) []string {
	switch obj.ClassName() {
	case "Array", "String", "Arguments":
		e.capElements(what, e.lengthOf(obj))
	default:
		if e.isTypedArray(obj) {
			e.capElements(what, e.lengthOf(obj))
		}
	}
	return obj.Keys()
}

// object returns holder[name] when it is an object.
func object(holder *goja.Object, name string) *goja.Object {
	if holder == nil {
		return nil
	}
	return o(holder.Get(name))
}

// wrap replaces holder[name] by a native function that runs pre (which
// may throw, or change the call) and then the original.
func (e *execution) wrap(holder *goja.Object, name string, pre func(call *goja.FunctionCall)) {
	if holder == nil {
		return
	}
	orig, ok := goja.AssertFunction(holder.Get(name))
	if !ok {
		return
	}
	e.define(holder, name, e.guarded(orig, pre))
}

// wrapSymbol is wrap for a symbol-keyed method.
func (e *execution) wrapSymbol(holder *goja.Object, sym *goja.Symbol, pre func(call *goja.FunctionCall)) {
	orig, ok := goja.AssertFunction(holder.GetSymbol(sym))
	if !ok {
		return
	}
	holder.DefineDataPropertySymbol(sym, e.guarded(orig, pre), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

func (e *execution) guarded(orig goja.Callable, pre func(call *goja.FunctionCall)) goja.Value {
	return e.vm.ToValue(func(call goja.FunctionCall) goja.Value {
		e.checkHalt()
		if pre != nil {
			pre(&call)
		}
		v, err := orig(call.This, call.Arguments...)
		if err != nil {
			panic(err)
		}
		return v
	})
}

// define sets a builtin method: writable, configurable, not enumerable.
func (e *execution) define(holder *goja.Object, name string, v goja.Value) {
	holder.DefineDataProperty(name, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
}

// wrapConstructor replaces holder[name], a constructor, by one that runs pre
// on the arguments and then constructs with the original (so that new.target,
// subclasses and instanceof work as before).
func (e *execution) wrapConstructor(holder *goja.Object, name string, pre func(args []goja.Value)) {
	orig := object(holder, name)
	if orig == nil {
		return
	}
	proto := object(orig, "prototype")
	var w *goja.Object
	w = e.vm.ToValue(func(call goja.ConstructorCall) *goja.Object {
		e.checkHalt()
		pre(call.Arguments)
		target := call.NewTarget
		if target == nil {
			target = w
		}
		args := make([]any, len(call.Arguments))
		for i, a := range call.Arguments {
			args[i] = a
		}
		v, err := e.construct(goja.Undefined(), orig, e.vm.NewArray(args...), target)
		if err != nil {
			panic(err)
		}
		return o(v)
	}).(*goja.Object)
	w.SetPrototype(orig.Prototype())
	for _, k := range orig.GetOwnPropertyNames() {
		if k != "prototype" && k != "length" && k != "name" {
			w.DefineDataProperty(k, orig.Get(k), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
		}
	}
	w.DefineDataProperty("name", e.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	if proto != nil {
		w.DefineDataProperty("prototype", proto, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
		proto.DefineDataProperty("constructor", w, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	e.define(holder, name, w)
}

// harden installs the guards, and takes away dynamic code and BigInt
// (bigint.go), before the action's code runs.
func (e *execution) harden() {
	vm := e.vm
	global := vm.GlobalObject()
	typedArray := object(global, "Uint8Array").Prototype() // %TypedArray%
	e.typedArrayProto = object(typedArray, "prototype")

	// No dynamic code: eval, and the constructors of the three kinds of function goja has.
	noCode := func() { e.throw("Usher runs Actions without eval and new Function") }
	e.define(global, "eval", vm.ToValue(func(goja.FunctionCall) goja.Value { noCode(); return nil }))
	kinds, err := vm.RunProgram(functionKinds)
	if err != nil {
		panic(fmt.Sprintf("actions: the function kinds: %v", err))
	}
	for i := range 3 {
		proto := o(kinds).Get(fmt.Sprint(i)).(*goja.Object).Prototype()
		ctor := vm.ToValue(func(goja.ConstructorCall) *goja.Object { noCode(); return nil }).(*goja.Object)
		ctor.DefineDataProperty("prototype", proto, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
		proto.DefineDataProperty("constructor", ctor, goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
		if i == 0 {
			e.define(global, "Function", ctor)
		}
	}
	// No BigInt.
	for _, name := range []string{"BigInt", "BigInt64Array", "BigUint64Array"} {
		global.Delete(name)
	}
	if dv := object(object(global, "DataView"), "prototype"); dv != nil {
		for _, name := range []string{"getBigInt64", "getBigUint64", "setBigInt64", "setBigUint64"} {
			dv.Delete(name)
		}
	}

	e.hardenStrings(global)
	e.hardenArrays(global, typedArray)
	e.hardenObjects(global)
}

// hardenStrings guards the string builtins.
func (e *execution) hardenStrings(global *goja.Object) {
	vm := e.vm
	str := object(object(global, "String"), "prototype")
	// The receiver as a string, converted once (the original then gets the string).
	this := func(call *goja.FunctionCall) goja.String {
		if goja.IsUndefined(call.This) || goja.IsNull(call.This) {
			e.throw("String.prototype method called on null or undefined")
		}
		s := e.str(call.This)
		call.This = s
		return s
	}
	// A string is counted at two bytes a character: goja keeps a string
	// with any non-ASCII character in UTF-16.
	e.wrap(str, "repeat", func(call *goja.FunctionCall) {
		s := this(call)
		n := call.Argument(0).ToFloat()
		if s != nil && n > 0 && !math.IsInf(n, 0) {
			e.capBytes("String.prototype.repeat", float64(s.Length())*math.Trunc(n)*2)
		}
	})
	for _, name := range []string{"padStart", "padEnd"} {
		e.wrap(str, name, func(call *goja.FunctionCall) {
			this(call)
			e.capBytes("String.prototype."+name, call.Argument(0).ToFloat()*2)
		})
	}
	e.wrap(str, "concat", func(call *goja.FunctionCall) {
		total := float64(this(call).Length())
		args := make([]goja.Value, len(call.Arguments))
		for i, a := range call.Arguments {
			e.checkHalt()
			args[i] = e.str(a)
			total += float64(args[i].(goja.String).Length())
		}
		call.Arguments = args
		e.capBytes("String.prototype.concat", total*2)
	})
	for _, name := range []string{"split", "match", "matchAll", "normalize", "toUpperCase", "toLowerCase", "toLocaleUpperCase", "toLocaleLowerCase"} {
		e.wrap(str, name, func(call *goja.FunctionCall) {
			e.capString("String.prototype."+name, this(call))
		})
	}
	for _, name := range []string{"replace", "replaceAll"} {
		e.wrap(str, name, func(call *goja.FunctionCall) {
			s := this(call)
			e.capString("String.prototype."+name, s)
			call.Arguments = e.countReplacement("String.prototype."+name, s, call.Arguments, 1)
		})
	}
	if re := object(object(global, "RegExp"), "prototype"); re != nil {
		for _, sym := range []*goja.Symbol{goja.SymSplit, goja.SymMatch, goja.SymMatchAll} {
			e.wrapSymbol(re, sym, func(call *goja.FunctionCall) {
				call.Arguments = append([]goja.Value{e.str(call.Argument(0))}, call.Arguments[min(1, len(call.Arguments)):]...)
				e.capString("RegExp.prototype["+sym.String()+"]", call.Arguments[0])
			})
		}
		e.wrapSymbol(re, goja.SymReplace, func(call *goja.FunctionCall) {
			s := e.str(call.Argument(0))
			call.Arguments = append([]goja.Value{s}, call.Arguments[min(1, len(call.Arguments)):]...)
			e.capString("RegExp.prototype[Symbol.replace]", s)
			call.Arguments = e.countReplacement("RegExp.prototype[Symbol.replace]", s, call.Arguments, 1)
		})
	}
	e.wrap(object(global, "String"), "raw", func(call *goja.FunctionCall) {
		if obj := o(call.Argument(0)); obj != nil {
			if raw := o(obj.Get("raw")); raw != nil {
				e.capElements("String.raw", e.lengthOf(raw))
			}
		}
	})
	for _, name := range []string{"encodeURI", "encodeURIComponent", "escape"} {
		e.wrap(global, name, func(call *goja.FunctionCall) {
			s := e.str(call.Argument(0))
			call.Arguments = []goja.Value{s}
			e.capString(name, s)
		})
	}
	_ = vm
}

// countReplacement bounds what a replace makes. A replacement string can
// say $` or $' (the text before or after the match) and every match of an
// empty pattern gets one, so it is estimated before the call; a
// replacement function is wrapped so that what it returns is counted.
func (e *execution) countReplacement(what string, s goja.String, args []goja.Value, at int) []goja.Value {
	if len(args) <= at {
		return args
	}
	args = append([]goja.Value(nil), args...)
	n := float64(s.Length())
	if fn, ok := goja.AssertFunction(args[at]); ok {
		total := n
		args[at] = e.vm.ToValue(func(call goja.FunctionCall) goja.Value {
			v, err := fn(call.This, call.Arguments...)
			if err != nil {
				panic(err)
			}
			r := e.str(v)
			total += float64(r.(goja.String).Length())
			e.capBytes(what, total*2)
			return r
		})
		return args
	}
	r := args[at].ToString()
	args[at] = r
	repl := r.String()
	perMatch := float64(len(repl)) + float64(strings.Count(repl, "$"))*n
	e.capBytes(what, (n+(n+1)*perMatch)*2)
	return args
}

// hardenArrays guards the array, typed array and collection builtins.
func (e *execution) hardenArrays(global, typedArray *goja.Object) {
	array := object(global, "Array")
	proto := object(array, "prototype")
	thisLength := func(what string) func(call *goja.FunctionCall) {
		return func(call *goja.FunctionCall) {
			if obj := o(call.This); obj != nil {
				e.capElements(what, e.lengthOf(obj))
			}
		}
	}
	lazy := map[string]bool{"constructor": true, "values": true, "keys": true, "entries": true, "push": true, "pop": true, "at": true, "join": true}
	for _, name := range proto.GetOwnPropertyNames() {
		if lazy[name] {
			continue
		}
		if _, ok := goja.AssertFunction(proto.Get(name)); !ok {
			continue
		}
		check := thisLength("Array.prototype." + name)
		switch name {
		case "concat":
			e.wrap(proto, name, func(call *goja.FunctionCall) {
				n := int64(0)
				for _, v := range append([]goja.Value{call.This}, call.Arguments...) {
					if obj := o(v); obj != nil && (obj.ClassName() == "Array" || spreadable(obj)) {
						n += e.lengthOf(obj)
					} else {
						n++
					}
				}
				e.capElements("Array.prototype.concat", n)
			})
		case "flat":
			e.wrap(proto, name, func(call *goja.FunctionCall) {
				check(call)
				depth := 1.0
				if d := call.Argument(0); !goja.IsUndefined(d) {
					depth = d.ToFloat()
				}
				if obj := o(call.This); obj != nil {
					count := int64(0)
					e.countFlat(obj, depth, &count)
				}
			})
		case "flatMap":
			e.wrap(proto, name, func(call *goja.FunctionCall) {
				check(call)
				fn, ok := goja.AssertFunction(call.Argument(0))
				if !ok {
					return
				}
				count := int64(0)
				call.Arguments = append([]goja.Value(nil), call.Arguments...)
				call.Arguments[0] = e.vm.ToValue(func(c goja.FunctionCall) goja.Value {
					v, err := fn(c.This, c.Arguments...)
					if err != nil {
						panic(err)
					}
					if obj := o(v); obj != nil && obj.ClassName() == "Array" {
						count += e.lengthOf(obj)
					} else {
						count++
					}
					e.capElements("Array.prototype.flatMap", count)
					return v
				})
			})
		default:
			e.wrap(proto, name, check)
		}
	}
	e.define(proto, "join", e.vm.ToValue(e.join))

	fromLength := func(what string) func(call *goja.FunctionCall) {
		return func(call *goja.FunctionCall) { e.capElements(what, e.sizeOf(call.Argument(0))) }
	}
	e.wrap(array, "from", fromLength("Array.from"))
	e.wrap(typedArray, "from", fromLength("TypedArray.from"))
	if tproto := e.typedArrayProto; tproto != nil {
		for _, name := range []string{"join", "toLocaleString"} {
			e.wrap(tproto, name, func(call *goja.FunctionCall) {
				if obj := o(call.This); obj != nil {
					sep := 1.0
					if arg := call.Argument(0); name == "join" && !goja.IsUndefined(arg) {
						s := e.str(arg)
						call.Arguments = []goja.Value{s}
						sep = float64(s.Length())
					}
					// A number takes at most 24 characters.
					e.capBytes("TypedArray.prototype."+name, float64(e.lengthOf(obj))*(24+sep)*2)
				}
			})
		}
	}

	bufferProto := object(object(global, "ArrayBuffer"), "prototype")
	e.wrapConstructor(global, "ArrayBuffer", func(args []goja.Value) {
		if len(args) > 0 {
			e.capBytes("new ArrayBuffer", args[0].ToFloat())
		}
	})
	for name, size := range map[string]float64{"Int8Array": 1, "Uint8Array": 1, "Uint8ClampedArray": 1, "Int16Array": 2,
		"Uint16Array": 2, "Int32Array": 4, "Uint32Array": 4, "Float32Array": 4, "Float64Array": 8} {
		e.wrapConstructor(global, name, func(args []goja.Value) {
			if len(args) == 0 {
				return
			}
			if obj := o(args[0]); obj != nil {
				if inherits(obj, bufferProto) {
					return // a view on a buffer that exists
				}
				n := e.lengthOf(obj)
				e.capElements("new "+name, n)
				e.capBytes("new "+name, float64(n)*size)
				return
			}
			e.capBytes("new "+name, args[0].ToFloat()*size)
		})
	}
	for _, name := range []string{"Map", "Set", "WeakMap", "WeakSet"} {
		e.wrapConstructor(global, name, func(args []goja.Value) {
			if len(args) > 0 {
				e.capElements("new "+name, e.sizeOf(args[0]))
			}
		})
	}
}

// spreadable reports whether concat spreads obj (Symbol.isConcatSpreadable).
func spreadable(obj *goja.Object) bool {
	v := obj.GetSymbol(goja.SymIsConcatSpreadable)
	return v != nil && v.ToBoolean()
}

// countFlat counts what flat(depth) makes of obj, refusing past elementCap
// before the original builds it: arrays that share their elements
// (x = [y, y], y = [z, z], …) flatten to exponentially many.
func (e *execution) countFlat(obj *goja.Object, depth float64, count *int64) {
	e.checkHalt()
	n := e.lengthOf(obj)
	for i := int64(0); i < n; i++ {
		*count++
		e.capElements("Array.prototype.flat", *count)
		if depth >= 1 {
			if el := o(obj.Get(fmt.Sprint(i))); el != nil && el.ClassName() == "Array" {
				*count--
				e.countFlat(el, depth-1, count)
			}
		}
	}
}

// join is Array.prototype.join in Go, counting what it makes: an array of
// a million references to one long string joins into terabytes.
func (e *execution) join(call goja.FunctionCall) goja.Value {
	e.checkHalt()
	obj := call.This.ToObject(e.vm)
	n := e.lengthOf(obj)
	e.capElements("Array.prototype.join", n)
	sep := goja.Value(e.vm.ToValue(","))
	if s := call.Argument(0); !goja.IsUndefined(s) {
		sep = e.str(s)
	}
	sepLen := float64(sep.(goja.String).Length())
	var b goja.StringBuilder
	total := 0.0
	for i := int64(0); i < n; i++ {
		e.checkHalt()
		if i > 0 {
			b.WriteString(sep.(goja.String))
			total += sepLen
		}
		el := obj.Get(fmt.Sprint(i))
		if el == nil || goja.IsUndefined(el) || goja.IsNull(el) {
			continue
		}
		s := e.str(el)
		total += float64(s.Length())
		e.capBytes("Array.prototype.join", total*2)
		b.WriteString(s)
	}
	return b.String()
}

// hardenObjects guards the Object, Reflect, Function and JSON builtins.
func (e *execution) hardenObjects(global *goja.Object) {
	obj := object(global, "Object")
	reflect := object(global, "Reflect")
	keysOfArg := func(what string, at ...int) func(call *goja.FunctionCall) {
		return func(call *goja.FunctionCall) {
			for i, a := range call.Arguments {
				if len(at) > 0 && i != at[0] {
					continue
				}
				if x := o(a); x != nil {
					switch x.ClassName() {
					case "Array", "String", "Arguments":
						e.capElements(what, e.lengthOf(x))
					default:
						if e.isTypedArray(x) {
							e.capElements(what, e.lengthOf(x))
						}
					}
				} else if gs, ok := a.(goja.String); ok {
					e.capElements(what, int64(gs.Length()))
				}
			}
		}
	}
	for _, name := range []string{"keys", "values", "entries", "getOwnPropertyNames", "getOwnPropertyDescriptors", "fromEntries"} {
		e.wrap(obj, name, keysOfArg("Object."+name, 0))
	}
	e.wrap(obj, "assign", keysOfArg("Object.assign"))
	e.wrap(reflect, "ownKeys", keysOfArg("Reflect.ownKeys", 0))
	argsAt := func(what string, at int) func(call *goja.FunctionCall) {
		return func(call *goja.FunctionCall) {
			if x := o(call.Argument(at)); x != nil {
				e.capElements(what, e.lengthOf(x))
			}
		}
	}
	e.wrap(object(object(global, "Function"), "prototype"), "apply", argsAt("Function.prototype.apply", 1))
	e.wrap(reflect, "apply", argsAt("Reflect.apply", 2))
	e.wrap(reflect, "construct", argsAt("Reflect.construct", 1))

	json := object(global, "JSON")
	e.wrap(json, "parse", func(call *goja.FunctionCall) {
		text := e.str(call.Argument(0))
		call.Arguments = append([]goja.Value{text}, call.Arguments[min(1, len(call.Arguments)):]...)
		// Each character of JSON can become a value of its own.
		if n := int64(text.(goja.String).Length()); n > e.stringCap()/2 {
			e.refuse("JSON.parse on a text of %d characters; at most %d", n, e.stringCap()/2)
		}
		if jsonDepth(text.String()) > maxJSONDepth {
			panic(e.vm.NewGoError(errTooDeep))
		}
	})
	e.define(json, "stringify", e.vm.ToValue(e.stringify))
}

// str is ToString(v) as a goja.String (goja's ToString leaves numbers as
// they are).
func (e *execution) str(v goja.Value) goja.String {
	s := v.ToString()
	if gs, ok := s.(goja.String); ok {
		return gs
	}
	return e.vm.ToValue(s.String()).(goja.String)
}
