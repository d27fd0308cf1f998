package sqlstore

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
)

// Data errors (1264, 1292, 1366, 1406). GMS's errors for a value that does not fit its
// column name neither the column nor the row ("300 out of range for tinyint"), which MySQL's
// do ("Out of range value for column 'n' at row 1"). The statement's iterator knows both:
// dataErrorGuard wraps the iterators of INSERT and UPDATE, counts their rows and, when one
// fails on a value, notes MySQL's error for the connection (dataErrors); errcodes.go's
// handler gives it to the client in place of GMS's. The error itself passes through
// unchanged, so GMS (INSERT IGNORE, handlers in procedures) sees its own kinds.

// dataErrors holds, per connection, MySQL's wording of the connection's last data error,
// and whether the connection's statement has yet to build its root.
type dataErrors struct {
	mu    sync.Mutex
	last  map[uint32]dataError
	fresh sync.Map // connection ID -> struct{}: its statement has built no node yet
}

// begin marks the start of a client's statement: the next node built for the connection is
// its root.
func (d *dataErrors) begin(conn uint32) { d.fresh.Store(conn, struct{}{}) }

// isRoot reports whether the connection's statement has built no node yet, and notes that
// it now has. (Lock-free once the connection has run a statement.)
func (d *dataErrors) isRoot(conn uint32) bool {
	_, ok := d.fresh.LoadAndDelete(conn)
	return ok
}

// dataError is MySQL's error for a GMS error text.
type dataError struct {
	gms string // GMS's message, as the client would get it
	num int
	msg string
}

func (d *dataErrors) put(conn uint32, e dataError) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last == nil {
		d.last = make(map[uint32]dataError)
	}
	d.last[conn] = e
}

// take removes and returns the connection's noted error, if it is the one for gmsMsg.
func (d *dataErrors) take(conn uint32, gmsMsg string) (dataError, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.last[conn]
	if !ok {
		return dataError{}, false
	}
	delete(d.last, conn)
	return e, e.gms == gmsMsg
}

// forget drops what is noted for a connection that closed.
func (d *dataErrors) forget(conn uint32) {
	d.mu.Lock()
	delete(d.last, conn)
	d.mu.Unlock()
	d.fresh.Delete(conn)
}

// dataErrorGuard returns the exec override that notes MySQL's data errors for eng's
// statements (installExecGuards).
func (s *Store) dataErrorGuard(eng *sqle.Engine) sql.NodeExecBuilder {
	return &dataErrorGuard{errs: &s.dataErrs, build: func() sql.NodeExecBuilder { return eng.Analyzer.ExecBuilder }}
}

// dataErrorGuard is the exec override that wraps INSERT and UPDATE iterators and counts
// the rows their sources give. build is the engine's whole builder, which it calls back for
// the node it wraps (once: the nested call for the same node and query is left to the
// default).
type dataErrorGuard struct {
	errs     *dataErrors
	build    func() sql.NodeExecBuilder
	building sync.Map     // buildKey -> struct{}: nodes being built by the guard
	sources  sync.Map     // buildKey -> *dataErrorIter: sources whose rows the iterator counts
	active   atomic.Int64 // entries in sources
}

// buildKey is a node built for a session (GMS builds children with derived contexts).
type buildKey struct {
	sess uint32
	n    sql.Node
}

// Build implements sql.NodeExecBuilder.
func (g *dataErrorGuard) Build(ctx *sql.Context, n sql.Node, row sql.Row) (sql.RowIter, error) {
	if ctx.Session == nil || g.build == nil {
		return nil, nil
	}
	root := g.errs.isRoot(ctx.Session.ID())
	w := &dataErrorIter{g: g, rows: new(int)}
	var source sql.Node
	switch n := n.(type) {
	case *plan.InsertInto:
		if n.Destination == nil {
			return nil, nil
		}
		w.sch, source = n.Destination.Schema(), n.Source
		noteIgnore(ctx, root && n.Ignore)
	case *plan.Update:
		noteIgnore(ctx, root && n.Ignore)
		child := n.Child
		if bc, ok := child.(*binaryChanges); ok {
			child = bc.Child
		}
		w.sch = child.Schema()
		if us, ok := child.(*plan.UpdateSource); ok {
			source = us.Child
		}
	default:
		if g.active.Load() == 0 || reflect.ValueOf(n).Kind() != reflect.Pointer {
			return nil, nil // only pointers are sources (and hashable: some nodes are slices)
		}
		if v, ok := g.sources.Load(buildKey{ctx.Session.ID(), n}); ok {
			iter, err := g.buildOnce(ctx, n, row)
			if err != nil || iter == nil {
				return iter, err
			}
			return &countingIter{RowIter: iter, rows: v.(*dataErrorIter).rows}, nil
		}
		return nil, nil
	}
	if !root {
		// Only a client statement's root is wrapped: GMS looks for its own iterator types
		// below a trigger, a block or a projection, which a wrapper would hide.
		return nil, nil
	}
	if source != nil && reflect.ValueOf(source).Kind() == reflect.Pointer {
		g.sources.Store(buildKey{ctx.Session.ID(), source}, w)
		g.active.Add(1)
		defer func() {
			g.sources.Delete(buildKey{ctx.Session.ID(), source})
			g.active.Add(-1)
		}()
	}
	iter, err := g.buildOnce(ctx, n, row)
	if err != nil || iter == nil {
		return iter, err
	}
	w.RowIter = iter
	return w, nil
}

// noteIgnore notes for the session that its statement is an INSERT IGNORE or UPDATE IGNORE.
func noteIgnore(ctx *sql.Context, ignore bool) {
	if s := sessionOf(ctx); ignore && s != nil && ctx.Pid() != 0 {
		s.ignorePid.Store(ctx.Pid())
	}
}

// ignoring reports whether ctx's statement is an INSERT IGNORE or UPDATE IGNORE.
func ignoring(ctx *sql.Context) bool {
	s := sessionOf(ctx)
	return s != nil && ctx.Pid() != 0 && s.ignorePid.Load() == ctx.Pid()
}

// buildOnce builds n with the whole builder, leaving the nested call for n to the default.
func (g *dataErrorGuard) buildOnce(ctx *sql.Context, n sql.Node, row sql.Row) (sql.RowIter, error) {
	key := buildKey{ctx.Session.ID(), n}
	if _, nested := g.building.LoadOrStore(key, struct{}{}); nested {
		return nil, nil
	}
	defer g.building.Delete(key)
	return g.build().Build(ctx, n, row)
}

// countingIter counts the rows of an INSERT's or UPDATE's source.
type countingIter struct {
	sql.RowIter
	rows *int
}

// Next implements sql.RowIter.
func (it *countingIter) Next(ctx *sql.Context) (sql.Row, error) {
	r, err := it.RowIter.Next(ctx)
	if err == nil {
		*it.rows++
	}
	return r, err
}

// dataErrorIter notes MySQL's wording of an INSERT's or UPDATE's data error. It is a
// sql.MutableRowIter, so that GMS still finds (and wraps in its accumulator) the iterator
// it wraps.
type dataErrorIter struct {
	sql.RowIter
	g    *dataErrorGuard
	sch  sql.Schema
	rows *int // rows read from the source so far; the failing one is the last
}

var _ sql.MutableRowIter = (*dataErrorIter)(nil)

// GetChildIter implements sql.MutableRowIter.
func (it *dataErrorIter) GetChildIter() sql.RowIter { return it.RowIter }

// WithChildIter implements sql.MutableRowIter.
func (it *dataErrorIter) WithChildIter(child sql.RowIter) sql.RowIter {
	c := *it
	c.RowIter = child
	return &c
}

// Next implements sql.RowIter.
func (it *dataErrorIter) Next(ctx *sql.Context) (sql.Row, error) {
	r, err := it.RowIter.Next(ctx)
	if err == nil || err == io.EOF || *it.rows == 0 {
		return r, err
	}
	if num, msg, ok := mysqlDataError(ctx, it.sch, err, *it.rows); ok {
		it.g.errs.put(ctx.Session.ID(), dataError{gms: sql.CastSQLError(err).Message, num: num, msg: msg})
	}
	return r, err
}

// mysqlDataError is MySQL's error for GMS's data error err at row (1-based) of a statement
// writing columns sch.
func mysqlDataError(ctx *sql.Context, sch sql.Schema, err error, row int) (int, string, bool) {
	var wi sql.WrappedInsertError
	var wt sql.WrappedTypeConversionError
	var cause error
	var col *sql.Column
	var val any
	switch {
	case errors.As(err, &wi):
		cause = sql.UnwrapError(wi.Cause)
		col, val = offendingColumn(ctx, sch, wi.OffendingRow, cause)
	case errors.As(err, &wt):
		cause = wt.Err
		val = wt.OffendingVal
		if wt.OffendingIdx >= 0 && wt.OffendingIdx < len(sch) {
			col = sch[wt.OffendingIdx]
		}
	default:
		return 0, "", false
	}
	if types.ErrLengthBeyondLimit.Is(cause) {
		// GMS's message names the column: take it from there when the schema does not.
		name := ""
		if col != nil {
			name = col.Name
		} else if i := strings.LastIndex(cause.Error(), "for column '"); i >= 0 {
			name = strings.TrimSuffix(cause.Error()[i+len("for column '"):], "'")
		}
		if name == "" {
			return 0, "", false
		}
		return erDataTooLong, fmt.Sprintf("Data too long for column '%s' at row %d", name, row), true
	}
	if col == nil {
		return 0, "", false
	}
	switch {
	case sql.ErrValueOutOfRange.Is(cause), strings.HasPrefix(cause.Error(), "Out of range value for column"):
		return erWarnDataOutOfRange, fmt.Sprintf("Out of range value for column '%s' at row %d", col.Name, row), true
	case types.ErrConvertingToTime.Is(cause), types.IsTime(col.Type):
		return erTruncatedWrongValue, fmt.Sprintf("Incorrect %s value: '%v' for column '%s' at row %d", timeWord(col.Type), valueString(val), col.Name, row), true
	case sql.ErrInvalidValue.Is(cause), types.IsNumber(col.Type):
		if s, ok := val.(string); ok && !looksNumeric(s) || sql.ErrInvalidValue.Is(cause) {
			return erTruncatedWrongValueFor, fmt.Sprintf("Incorrect %s value: '%v' for column '%s' at row %d", numberWord(col.Type), valueString(val), col.Name, row), true
		}
		return erWarnDataOutOfRange, fmt.Sprintf("Out of range value for column '%s' at row %d", col.Name, row), true
	}
	return 0, "", false
}

// offendingColumn finds the column of row that GMS could not convert, as GMS's INSERT
// converts them: in order, the first that fails or is out of range.
func offendingColumn(ctx *sql.Context, sch sql.Schema, row sql.Row, cause error) (*sql.Column, any) {
	for i, c := range sch {
		if i >= len(row) || row[i] == nil {
			continue
		}
		if _, inRange, err := c.Type.Convert(ctx, row[i]); err != nil || inRange == sql.OutOfRange {
			return c, row[i]
		}
	}
	return nil, nil
}

func valueString(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return fmt.Sprint(v)
}

// looksNumeric reports whether s reads as a number (then a failure is a range error).
func looksNumeric(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	digits := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = true
		case (r == '-' || r == '+') && (i == 0 || s[i-1] == 'e' || s[i-1] == 'E'), r == '.', r == 'e', r == 'E':
		default:
			return false
		}
	}
	return digits
}

// timeWord is the type MySQL's 1292 names: date, datetime, timestamp or time.
func timeWord(t sql.Type) string {
	switch {
	case types.IsTimespan(t):
		return "time"
	case t.Type() == sqltypes.Date:
		return "date"
	case t.Type() == sqltypes.Timestamp:
		return "timestamp"
	}
	return "datetime"
}

// numberWord is the type MySQL's 1366 names: integer, decimal or double.
func numberWord(t sql.Type) string {
	switch {
	case types.IsInteger(t):
		return "integer"
	case types.IsDecimal(t):
		return "decimal"
	}
	return "double"
}

// translateDataError replaces GMS's data error by MySQL's noted one.
func (d *dataErrors) translate(conn uint32, se *mysql.SQLError) (int, string, bool) {
	if d == nil {
		return 0, "", false
	}
	e, ok := d.take(conn, se.Message)
	return e.num, e.msg, ok
}
