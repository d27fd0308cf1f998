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
// wraps it: it records per connection why a statement was stopped (1317 for KILL, 3024 when
// max_execution_time or the MAX_EXECUTION_TIME hint runs out for a SELECT), which
// interruptHandler (interrupts.go) gives the client instead of GMS's bare context error;
// and it gives a SELECT with a time limit a context that a timer cancels. A statement
// without a time limit costs a lock and a map deletion more than in GMS.
type limitProcessList struct {
	sql.ProcessList
	mu     sync.Mutex
	timed  map[uint64]timedStmt // query pid -> the time limit of a running statement
	causes map[uint32]error     // connection ID -> why its statement was stopped
	// users holds the account of each connection that has run a statement: GMS's list
	// names a connection "unauthenticated user" until a database is selected
	// (ProcessList.ConnectionReady is called only from SessionManager.SetDB), so SHOW
	// PROCESSLIST showed a client connected without a database so.
	users map[uint32]string
}

// timedStmt is a running statement with a time limit.
type timedStmt struct {
	cancel context.CancelCauseFunc
	timer  *time.Timer
}

var (
	errQueryInterrupted = mysql.NewSQLError(mysql.ERQueryInterrupted, "70100", "Query execution was interrupted")
	errQueryTimeout     = mysql.NewSQLError(mysql.ERQueryTimeout, mysql.SSUnknownSQLState, "Query execution was interrupted, maximum statement execution time exceeded")
)

func newLimitProcessList(pl sql.ProcessList) *limitProcessList {
	return &limitProcessList{ProcessList: pl, timed: map[uint64]timedStmt{}, causes: map[uint32]error{}, users: map[uint32]string{}}
}

// BeginQuery implements sql.ProcessList.
func (pl *limitProcessList) BeginQuery(ctx *sql.Context, query string) (*sql.Context, error) {
	if ctx.IsInterpreted() {
		return pl.ProcessList.BeginQuery(ctx, query)
	}
	id := ctx.Session.ID()
	pl.mu.Lock()
	delete(pl.causes, id)
	if _, ok := pl.users[id]; !ok {
		pl.users[id] = ctx.Session.Client().User
	}
	pl.mu.Unlock()
	d := maxExecutionTime(ctx, query)
	if d <= 0 {
		return pl.ProcessList.BeginQuery(ctx, query)
	}
	cctx, cancel := context.WithCancelCause(ctx.Context)
	out, err := pl.ProcessList.BeginQuery(ctx.WithContext(cctx), query)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	t := timedStmt{cancel: cancel}
	t.timer = time.AfterFunc(d, func() { pl.interrupt(id, cancel, errQueryTimeout) })
	pl.mu.Lock()
	pl.timed[out.Pid()] = t
	pl.mu.Unlock()
	return out, nil
}

// EndQuery implements sql.ProcessList.
func (pl *limitProcessList) EndQuery(ctx *sql.Context) {
	pl.ProcessList.EndQuery(ctx)
	if ctx.IsInterpreted() {
		return
	}
	pl.mu.Lock()
	t, ok := pl.timed[ctx.Pid()]
	delete(pl.timed, ctx.Pid())
	pl.mu.Unlock()
	if ok {
		t.timer.Stop()
		t.cancel(nil)
	}
}

// Kill implements sql.ProcessList: GMS cancels the connection's statement, and the cause
// is recorded for interruptHandler.
func (pl *limitProcessList) Kill(connID uint32) {
	pl.mu.Lock()
	pl.causes[connID] = errQueryInterrupted
	pl.mu.Unlock()
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
	delete(pl.causes, connID)
	delete(pl.users, connID)
	pl.mu.Unlock()
	pl.ProcessList.RemoveConnection(connID)
}

// Processes implements sql.ProcessList, with each connection's account once known.
func (pl *limitProcessList) Processes() []sql.Process {
	procs := pl.ProcessList.Processes()
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for i := range procs {
		if u, ok := pl.users[procs[i].Connection]; ok && u != "" && procs[i].User == unauthenticatedUser {
			procs[i].User = u
		}
	}
	return procs
}

// unauthenticatedUser is how GMS's process list names a connection it takes as not ready.
const unauthenticatedUser = "unauthenticated user"

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
