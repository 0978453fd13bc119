package actions

import (
	"math/big"
	"reflect"

	"github.com/dop251/goja/ast"
)

// Actions run without BigInt. goja computes BigInt arithmetic in one step
// with math/big and no limit: 2n ** 10000000000n or 1n << 10000000000n asks
// for gigabytes and minutes inside a single instruction, where neither the
// time limit nor the memory watchdog can stop it. So the code is refused
// when it holds a BigInt literal, and the runtime has no BigInt, no BigInt
// typed arrays, no DataView BigInt accessors and no eval or Function
// constructor (which could compile a literal later): with those gone no
// BigInt value can come to exist.

var (
	numberLiteral = reflect.TypeFor[*ast.NumberLiteral]()
	bigIntType    = reflect.TypeFor[*big.Int]()
)

// bigIntLine returns the line of the first BigInt literal in tree, 0 when
// there is none. goja's ast has no walker, so the tree is walked by
// reflection: every node is a struct, a pointer, an interface or a slice.
func bigIntLine(tree *ast.Program) int {
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value) int
	walk = func(v reflect.Value) int {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				return 0
			}
			if v.Type() == numberLiteral {
				lit := v.Elem()
				if val := lit.FieldByName("Value"); !val.IsNil() && val.Elem().Type() == bigIntType {
					if tree.File == nil {
						return 1
					}
					return max(1, tree.File.Position(int(lit.FieldByName("Idx").Int())-tree.File.Base()).Line)
				}
				return 0
			}
			if seen[v.Pointer()] {
				return 0
			}
			seen[v.Pointer()] = true
			return walk(v.Elem())
		case reflect.Interface:
			if v.IsNil() {
				return 0
			}
			return walk(v.Elem())
		case reflect.Struct:
			for i := range v.NumField() {
				if line := walk(v.Field(i)); line > 0 {
					return line
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				if line := walk(v.Index(i)); line > 0 {
					return line
				}
			}
		}
		return 0
	}
	return walk(reflect.ValueOf(tree))
}
