package sqlstore

import (
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
)

// foreignKeyMessage is MySQL 8's message for a foreign key violation (num 1451 or 1452) of
// constraint name on table: GMS's error names them but not the columns, which the catalog
// gives. Without the constraint's definition, the message is MySQL's short form.
func (ec errContext) foreignKeyMessage(num int, name, table string) string {
	head := "Cannot add or update a child row: a foreign key constraint fails"
	if num == erRowIsReferenced2 {
		head = "Cannot delete or update a parent row: a foreign key constraint fails"
	}
	fk, ok := ec.s.foreignKeyNamed(ec.db, table, name)
	if !ok {
		return head
	}
	ref := quoteIdent(fk.ParentTable)
	if !strings.EqualFold(fk.ParentDatabase, fk.Database) {
		ref = quoteIdent(fk.ParentDatabase) + "." + ref
	}
	desc := fmt.Sprintf("%s.%s, CONSTRAINT %s FOREIGN KEY (%s) REFERENCES %s (%s)",
		quoteIdent(fk.Database), quoteIdent(fk.Table), quoteIdent(fk.Name), quoteIdents(fk.Columns), ref, quoteIdents(fk.ParentColumns))
	desc += referentialAction("DELETE", fk.OnDelete) + referentialAction("UPDATE", fk.OnUpdate)
	return fmt.Sprintf("%s (%s)", head, desc)
}

// referentialAction is InnoDB's description of an ON DELETE or ON UPDATE action: none for
// RESTRICT, which is also the default.
func referentialAction(event string, a sql.ForeignKeyReferentialAction) string {
	switch a {
	case sql.ForeignKeyReferentialAction_Cascade, sql.ForeignKeyReferentialAction_SetNull, sql.ForeignKeyReferentialAction_NoAction:
		return " ON " + event + " " + string(a)
	}
	return ""
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func quoteIdents(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(n)
	}
	return strings.Join(q, ", ")
}

// foreignKeyNamed returns the committed foreign key constraint name of table, preferring
// database db where several databases have one.
func (s *Store) foreignKeyNamed(db, table, name string) (sql.ForeignKeyConstraint, bool) {
	if s == nil {
		return sql.ForeignKeyConstraint{}, false
	}
	ctx := sql.NewEmptyContext()
	t, done, err := s.txnOf(ctx)
	if err != nil {
		return sql.ForeignKeyConstraint{}, false
	}
	defer done()
	var found []sql.ForeignKeyConstraint
	err = s.cat(t).list(ctx, sysKey("T"), func(b []byte) error {
		var rec tableRecord
		if err := jsonUnmarshal(b, &rec); err != nil {
			return err
		}
		for _, fk := range rec.FKs {
			if strings.EqualFold(fk.Name, name) && strings.EqualFold(fk.Table, table) {
				found = append(found, fk)
			}
		}
		return nil
	})
	if err != nil || len(found) == 0 {
		return sql.ForeignKeyConstraint{}, false
	}
	for _, fk := range found {
		if strings.EqualFold(fk.Database, db) {
			return fk, true
		}
	}
	return found[0], true
}

// dupEntry is MySQL 8's message for a duplicate of row's values in columns ords of key
// keyName ("PRIMARY" for the primary key): the values as text joined by '-', the key
// qualified by the table's name. It is the text of GMS's unique-key error (sql.NewUniqueKeyErr),
// which errcodes.go shows without GMS's prefix.
func (t *Table) dupEntry(ctx *sql.Context, row sql.Row, ords []int, keyName string) string {
	vals := make([]string, len(ords))
	for i, o := range ords {
		vals[i] = valueText(ctx, t.sch.Schema[o].Type, row[o])
	}
	entry := strings.Join(vals, "-")
	if r := []rune(entry); len(r) > 192 {
		entry = string(r[:192])
	}
	return fmt.Sprintf("Duplicate entry '%s' for key '%s.%s'", entry, t.Name(), keyName)
}

// valueText is v of type typ as MySQL prints it.
func valueText(ctx *sql.Context, typ sql.Type, v any) string {
	if v == nil {
		return "NULL"
	}
	if sv, err := typ.SQL(ctx, nil, v); err == nil {
		return sv.ToString()
	}
	return fmt.Sprint(v)
}
