package sqlstore

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
)

// Stopping statements: KILL QUERY and max_execution_time.
//
// GMS's process list gives each statement a context that KILL cancels. limitProcessList
// wraps it so that the cancellation carries MySQL's error as its cause (1317 for KILL,
// 3024 when max_execution_time or the MAX_EXECUTION_TIME hint runs out for a SELECT), and
// remembers it per connection: GMS's iterators return the bare context error, which
// interruptHandler (interrupts.go) replaces by the cause.
type limitProcessList struct {
	sql.ProcessList
	mu      sync.Mutex
	running map[uint32]map[uint64]runningStmt // connection ID -> query pid -> cancellation
	causes  map[uint32]error                  // connection ID -> why its statement was stopped
}

type runningStmt struct {
	cancel context.CancelCauseFunc
	timer  *time.Timer // nil without a time limit
}

var (
	errQueryInterrupted = mysql.NewSQLError(mysql.ERQueryInterrupted, "70100", "Query execution was interrupted")
	errQueryTimeout     = mysql.NewSQLError(mysql.ERQueryTimeout, mysql.SSUnknownSQLState, "Query execution was interrupted, maximum statement execution time exceeded")
)

func newLimitProcessList(pl sql.ProcessList) *limitProcessList {
	return &limitProcessList{ProcessList: pl, running: map[uint32]map[uint64]runningStmt{}, causes: map[uint32]error{}}
}

// BeginQuery implements sql.ProcessList.
func (pl *limitProcessList) BeginQuery(ctx *sql.Context, query string) (*sql.Context, error) {
	if ctx.IsInterpreted() {
		return pl.ProcessList.BeginQuery(ctx, query)
	}
	cctx, cancel := context.WithCancelCause(ctx.Context)
	out, err := pl.ProcessList.BeginQuery(ctx.WithContext(cctx), query)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	id := ctx.Session.ID()
	r := runningStmt{cancel: cancel}
	if d := maxExecutionTime(ctx, query); d > 0 {
		r.timer = time.AfterFunc(d, func() { pl.interrupt(id, cancel, errQueryTimeout) })
	}
	pl.mu.Lock()
	delete(pl.causes, id)
	if pl.running[id] == nil {
		pl.running[id] = map[uint64]runningStmt{}
	}
	pl.running[id][out.Pid()] = r
	pl.mu.Unlock()
	return out, nil
}

func (r runningStmt) stop() {
	if r.timer != nil {
		r.timer.Stop()
	}
	r.cancel(nil)
}

// EndQuery implements sql.ProcessList.
func (pl *limitProcessList) EndQuery(ctx *sql.Context) {
	pl.ProcessList.EndQuery(ctx)
	if ctx.IsInterpreted() {
		return
	}
	id := ctx.Session.ID()
	pl.mu.Lock()
	r, ok := pl.running[id][ctx.Pid()]
	delete(pl.running[id], ctx.Pid())
	if len(pl.running[id]) == 0 {
		delete(pl.running, id)
	}
	pl.mu.Unlock()
	if ok {
		r.stop()
	}
}

// Kill implements sql.ProcessList.
func (pl *limitProcessList) Kill(connID uint32) {
	pl.mu.Lock()
	running := pl.running[connID]
	pl.mu.Unlock()
	for _, r := range running {
		pl.interrupt(connID, r.cancel, errQueryInterrupted)
	}
	pl.ProcessList.Kill(connID)
}

// interrupt cancels a statement of connection id with cause, and records the cause.
func (pl *limitProcessList) interrupt(id uint32, cancel context.CancelCauseFunc, cause error) {
	pl.mu.Lock()
	pl.causes[id] = cause
	pl.mu.Unlock()
	cancel(cause)
}

// takeCause returns and forgets why connection id's statement was stopped, if it was.
func (pl *limitProcessList) takeCause(id uint32) error {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	err := pl.causes[id]
	delete(pl.causes, id)
	return err
}

// RemoveConnection implements sql.ProcessList.
func (pl *limitProcessList) RemoveConnection(connID uint32) {
	pl.mu.Lock()
	rs := pl.running[connID]
	delete(pl.running, connID)
	delete(pl.causes, connID)
	pl.mu.Unlock()
	for _, r := range rs {
		r.stop()
	}
	pl.ProcessList.RemoveConnection(connID)
}

// maxExecutionTime is the time limit of query: MySQL applies max_execution_time, or a
// MAX_EXECUTION_TIME(ms) optimizer hint, to top-level SELECT statements only.
func maxExecutionTime(ctx *sql.Context, query string) time.Duration {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) < 6 || !strings.EqualFold(q[:6], "select") {
		return 0
	}
	if ms, ok := hintedExecutionTime(q[6:]); ok {
		return time.Duration(ms) * time.Millisecond
	}
	v, err := ctx.GetSessionVariable(ctx, "max_execution_time")
	if err != nil {
		return 0
	}
	ms, ok := types.CoalesceInt(v)
	if !ok || ms <= 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// hintedExecutionTime finds MAX_EXECUTION_TIME(ms) in an optimizer hint comment at the
// start of rest (what follows SELECT).
func hintedExecutionTime(rest string) (int64, bool) {
	rest = strings.TrimLeft(rest, " \t\r\n")
	if !strings.HasPrefix(rest, "/*+") {
		return 0, false
	}
	end := strings.Index(rest, "*/")
	if end < 0 {
		return 0, false
	}
	hint := strings.ToUpper(rest[3:end])
	i := strings.Index(hint, "MAX_EXECUTION_TIME(")
	if i < 0 {
		return 0, false
	}
	arg := hint[i+len("MAX_EXECUTION_TIME("):]
	j := strings.IndexByte(arg, ')')
	if j < 0 {
		return 0, false
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(arg[:j]), 10, 64)
	if err != nil || ms < 0 {
		return 0, false
	}
	return ms, true
}
