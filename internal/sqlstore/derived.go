package sqlstore

import (
	"sync/atomic"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// derived holds a value an expression derives from its arguments' types (its result type,
// how it compares), computed once those types are known: GMS asks an expression for its
// Type for every row it sends and at every comparison of a sort, and deriving it again each
// time would build contexts and types per row.
type derived[T any] struct{ p atomic.Pointer[T] }

// get returns the value f derives from args, kept once every argument is resolved and none
// has a type left to be decided (a prepared statement's parameter).
func (d *derived[T]) get(args []sql.Expression, f func() T) T {
	if p := d.p.Load(); p != nil {
		return *p
	}
	v := f()
	for _, a := range args {
		if !a.Resolved() || types.IsDeferredType(a.Type()) {
			return v
		}
	}
	d.p.Store(&v)
	return v
}
