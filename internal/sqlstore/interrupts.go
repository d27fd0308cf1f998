package sqlstore

import (
	"context"
	"errors"
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
)

// withInterruptErrors returns wrap followed by interruptHandler, when eng's process list is
// a limitProcessList (installLimits).
func withInterruptErrors(eng *sqle.Engine, wrap server.HandlerWrapper) server.HandlerWrapper {
	pl, ok := eng.ProcessList.(*limitProcessList)
	if !ok {
		return wrap
	}
	return func(h mysql.Handler) (mysql.Handler, error) {
		h, err := wrap(h)
		if err != nil {
			return nil, err
		}
		return &interruptHandler{Handler: h, pl: pl}, nil
	}
}

// interruptHandler gives a statement stopped by KILL QUERY or max_execution_time MySQL's
// error (1317, 3024) instead of GMS's "context canceled" (1105).
type interruptHandler struct {
	mysql.Handler
	pl *limitProcessList
}

// ComQuery implements mysql.Handler.
func (h *interruptHandler) ComQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) error {
	return h.translate(c, h.Handler.ComQuery(ctx, c, query, callback))
}

// ComMultiQuery implements mysql.Handler.
func (h *interruptHandler) ComMultiQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) (string, error) {
	rest, err := h.Handler.ComMultiQuery(ctx, c, query, callback)
	return rest, h.translate(c, err)
}

// ComStmtExecute implements mysql.Handler.
func (h *interruptHandler) ComStmtExecute(ctx context.Context, c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	return h.translate(c, h.Handler.ComStmtExecute(ctx, c, prepare, callback))
}

// ComRegisterReplica implements mysql.BinlogReplicaHandler, as the wrapped handler does.
func (h *interruptHandler) ComRegisterReplica(c *mysql.Conn, host string, port uint16, user, password string) error {
	if b, ok := h.Handler.(mysql.BinlogReplicaHandler); ok {
		return b.ComRegisterReplica(c, host, port, user, password)
	}
	return mysql.NewSQLError(mysql.ERUnknownComError, mysql.SSUnknownComError, "replication is not supported")
}

// ComBinlogDumpGTID implements mysql.BinlogReplicaHandler, as the wrapped handler does.
func (h *interruptHandler) ComBinlogDumpGTID(c *mysql.Conn, logFile string, logPos uint64, gtidSet mysql.GTIDSet) error {
	if b, ok := h.Handler.(mysql.BinlogReplicaHandler); ok {
		return b.ComBinlogDumpGTID(c, logFile, logPos, gtidSet)
	}
	return mysql.NewSQLError(mysql.ERUnknownComError, mysql.SSUnknownComError, "replication is not supported")
}

// translate replaces a cancellation error by the reason the statement was stopped.
func (h *interruptHandler) translate(c *mysql.Conn, err error) error {
	if err == nil {
		return nil
	}
	cause := h.pl.takeCause(c.ConnectionID)
	if cause != nil && isCancellation(err) {
		return cause
	}
	return err
}

// isCancellation reports whether err is a context's cancellation, as GMS returns it: the
// error itself, or turned into an unknown MySQL error (1105) with its text.
func isCancellation(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var se *mysql.SQLError
	if errors.As(err, &se) {
		if se.Num == mysql.ERQueryInterrupted || se.Num == mysql.ERQueryTimeout {
			return true
		}
		return se.Num == mysql.ERUnknownError && (strings.Contains(se.Message, context.Canceled.Error()) || strings.Contains(se.Message, context.DeadlineExceeded.Error()))
	}
	return false
}
