package sqlstore

import (
	"encoding/json"
	"errors"

	"github.com/dolthub/vitess/go/mysql"

	"strata/internal/lock"
)

// sqlError maps engine errors to the errors GMS turns into MySQL codes: a lock wait timeout
// to 1205, a deadlock to 1213. Others pass through.
func sqlError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, lock.ErrLockWaitTimeout):
		return mysql.NewSQLError(mysql.ERLockWaitTimeout, mysql.SSUnknownSQLState, "Lock wait timeout exceeded; try restarting transaction")
	case errors.Is(err, lock.ErrDeadlock):
		return mysql.NewSQLError(mysql.ERLockDeadlock, mysql.SSLockDeadlock, "Deadlock found when trying to get lock; try restarting transaction")
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
