package sqlstore

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"

	"strata/internal/lock"
)

// GMS parses but drops the locking clause of SELECT ... FOR UPDATE / LOCK IN SHARE MODE /
// FOR SHARE; the backend finds it in the statement text. A locking read locks every row it
// returns and returns the row's newest committed version, as InnoDB does.
func lockingMode(ctx *sql.Context) (lock.Mode, bool) {
	q := ctx.Query()
	if len(q) < 10 {
		return 0, false
	}
	lq := strings.ToLower(q)
	if !strings.Contains(lq, "select") {
		return 0, false
	}
	switch {
	case strings.Contains(lq, "for update"):
		return lock.Exclusive, true
	case strings.Contains(lq, "lock in share mode"), strings.Contains(lq, "for share"):
		return lock.Shared, true
	}
	return 0, false
}

// lockedRow locks the row stored under pk and returns its newest committed value (nil if it
// is gone).
func (t *Table) lockedRow(ctx *sql.Context, tx *Transaction, pk []byte, mode lock.Mode) ([]byte, bool, error) {
	v, ok, err := tx.kv.GetForUpdate(ctx, t.data, pk, mode)
	return v, ok, tx.sqlErr(err)
}
