package sqlstore

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"

	"strata/internal/lock"
)

// GMS parses but drops the locking clause of SELECT ... FOR UPDATE / LOCK IN SHARE MODE /
// FOR SHARE; the backend finds it in the statement text. A locking read locks every row it
// returns and returns the row's newest committed version, as InnoDB does.
//
// UPDATE and DELETE read their target rows the same way, with exclusive locks, so that their
// WHERE clause and new values are computed on the newest committed version (InnoDB's "current
// read") instead of failing when another transaction changed a row after the snapshot.
func lockingMode(ctx *sql.Context) (lock.Mode, bool) {
	q := ctx.Query()
	if len(q) < 6 {
		return 0, false
	}
	lq := strings.ToLower(strings.TrimLeft(q, " \t\r\n("))
	if strings.HasPrefix(lq, "update") || strings.HasPrefix(lq, "delete") {
		return lock.Exclusive, true
	}
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
	if err != nil {
		return nil, false, tx.sqlErr(err)
	}
	if tx.kv.ChangedInStatement(t.data, pk) {
		// This statement already changed the row: it reads it as it was when it began.
		v, ok, err = tx.kv.GetAtStatementStart(ctx, t.data, pk)
	}
	return v, ok, tx.sqlErr(err)
}
