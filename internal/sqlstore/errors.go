package sqlstore

import (
	"encoding/json"
	"errors"

	"github.com/dolthub/vitess/go/mysql"

	"strata/internal/engine"
	"strata/internal/lock"
)

// sqlError maps engine errors to the errors GMS turns into MySQL codes: a lock wait timeout
// to 1205, a deadlock to 1213, a change asked of a read-only node to 1290. Others pass
// through.
func sqlError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, lock.ErrLockWaitTimeout):
		return mysql.NewSQLError(mysql.ERLockWaitTimeout, mysql.SSUnknownSQLState, "Lock wait timeout exceeded; try restarting transaction")
	case errors.Is(err, lock.ErrDeadlock):
		return mysql.NewSQLError(mysql.ERLockDeadlock, mysql.SSLockDeadlock, "Deadlock found when trying to get lock; try restarting transaction")
	case errors.Is(err, engine.ErrReadOnlyNode):
		return errReadOnlyNode()
	case errors.Is(err, engine.ErrNotServing):
		return mysql.NewSQLError(erServerOfflineMode, mysql.SSUnknownSQLState, "The server is currently in offline mode (%s)", err.Error())
	}
	return err
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// erCheckRead is MySQL's ER_CHECKREAD: a row changed after the transaction's snapshot.
const erCheckRead = 1020

func isDeadlock(err error) bool {
	var se *mysql.SQLError
	return errors.Is(err, lock.ErrDeadlock) || errors.As(err, &se) && se.Num == mysql.ERLockDeadlock
}

// msgReadOnlyNode is MySQL's message for a change on a server started with --read-only.
const msgReadOnlyNode = "The MySQL server is running with the --read-only option so it cannot execute this statement"

// errReadOnlyNode is MySQL's error 1290 for a change on a read-only node.
func errReadOnlyNode() error {
	return mysql.NewSQLError(mysql.EROptionPreventsStatement, mysql.SSUnknownSQLState, "%s", msgReadOnlyNode)
}
