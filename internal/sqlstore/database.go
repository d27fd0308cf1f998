package sqlstore

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// Database is one SQL database (schema).
type Database struct {
	s   *Store
	rec dbRecord
}

var (
	_ sql.Database                = (*Database)(nil)
	_ sql.TableCreator            = (*Database)(nil)
	_ sql.TableDropper            = (*Database)(nil)
	_ sql.TableRenamer            = (*Database)(nil)
	_ sql.CollatedDatabase        = (*Database)(nil)
	_ sql.ViewDatabase            = (*Database)(nil)
	_ sql.TriggerDatabase         = (*Database)(nil)
	_ sql.StoredProcedureDatabase = (*Database)(nil)
)

// Name implements sql.Nameable.
func (d *Database) Name() string { return d.rec.Name }

// GetCollation implements sql.CollatedDatabase.
func (d *Database) GetCollation(*sql.Context) sql.CollationID {
	if d.rec.Collation == 0 {
		return sql.Collation_Default
	}
	return sql.CollationID(d.rec.Collation)
}

// SetCollation implements sql.CollatedDatabase.
func (d *Database) SetCollation(ctx *sql.Context, collation sql.CollationID) error {
	t, err := d.s.writeTxn(ctx)
	if err != nil {
		return err
	}
	d.rec.Collation = uint16(collation)
	return sqlError(d.s.cat(t).put(ctx, sysKey("D", d.rec.Name), d.rec))
}

// GetTableInsensitive implements sql.Database.
func (d *Database) GetTableInsensitive(ctx *sql.Context, name string) (sql.Table, bool, error) {
	if rec, ok := d.tempTable(ctx, name); ok && !d.s.past {
		tbl, err := d.s.openTable(ctx, d, rec)
		return tbl, err == nil, err
	}
	t, done, err := d.s.txnOf(ctx)
	if err != nil {
		return nil, false, err
	}
	defer done()
	raw, ok, err := t.kv.Get(ctx, d.s.sys, sysKey("T", d.rec.Name, name))
	if err != nil || !ok {
		return nil, false, err
	}
	tbl, err := d.s.tableFromRecord(ctx, d, raw)
	if err != nil {
		return nil, false, err
	}
	return tbl, true, nil
}

// GetTableNames implements sql.Database.
func (d *Database) GetTableNames(ctx *sql.Context) ([]string, error) {
	t, done, err := d.s.txnOf(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	var names []string
	err = d.s.cat(t).list(ctx, sysKey("T", d.rec.Name), func(b []byte) error {
		var rec tableRecord
		if err := jsonUnmarshal(b, &rec); err != nil {
			return err
		}
		names = append(names, rec.Name)
		return nil
	})
	sort.Strings(names)
	return names, err
}

// CreateTable implements sql.TableCreator.
func (d *Database) CreateTable(ctx *sql.Context, name string, schema sql.PrimaryKeySchema, collation sql.CollationID, comment string) error {
	if err := checkColumns(schema.Schema); err != nil {
		return err
	}
	t, err := d.s.writeTxn(ctx)
	if err != nil {
		return err
	}
	c := d.s.cat(t)
	key := sysKey("T", d.rec.Name, name)
	var existing tableRecord
	if ok, err := c.lockedGet(ctx, key, &existing); err != nil {
		return sqlError(err)
	} else if ok {
		return sql.ErrTableAlreadyExists.New(name)
	}
	id, err := c.nextID(ctx)
	if err != nil {
		return sqlError(err)
	}
	rec := tableRecord{Name: name, ID: id, PK: schema.PkOrdinals, Collation: uint16(collation), Comment: comment,
		Tree: fmt.Sprintf("%s%d", tablePrefix, id)}
	for _, col := range schema.Schema {
		rec.Columns = append(rec.Columns, columnRecord(col))
	}
	if _, err := d.s.tree(ctx, rec.Tree); err != nil {
		return err
	}
	return sqlError(c.put(ctx, key, rec))
}

// DropTable implements sql.TableDropper. The table's trees are dropped once the transaction
// commits.
func (d *Database) DropTable(ctx *sql.Context, name string) error {
	if d.dropTemp(ctx, name) {
		return nil
	}
	t, err := d.s.writeTxn(ctx)
	if err != nil {
		return err
	}
	c := d.s.cat(t)
	key := sysKey("T", d.rec.Name, name)
	var rec tableRecord
	if ok, err := c.lockedGet(ctx, key, &rec); err != nil {
		return sqlError(err)
	} else if !ok {
		return sql.ErrTableNotFound.New(name)
	}
	if err := c.del(ctx, key); err != nil {
		return sqlError(err)
	}
	trees := []string{rec.Tree}
	for _, ix := range rec.Indexes {
		trees = append(trees, ix.Tree)
	}
	id := rec.ID
	t.root().onCommit = append(t.root().onCommit, func() {
		d.s.dropCounter(id)
		for _, tr := range trees {
			if err := d.s.db.DropTree(ctx, tr); err != nil {
				d.s.lg.Warn("sqlstore: drop tree after DROP TABLE", "tree", tr, "err", err)
			}
		}
	})
	return nil
}

// RenameTable implements sql.TableRenamer.
func (d *Database) RenameTable(ctx *sql.Context, oldName, newName string) error {
	t, err := d.s.writeTxn(ctx)
	if err != nil {
		return err
	}
	c := d.s.cat(t)
	oldKey, newKey := sysKey("T", d.rec.Name, oldName), sysKey("T", d.rec.Name, newName)
	var rec, other tableRecord
	if ok, err := c.lockedGet(ctx, oldKey, &rec); err != nil {
		return sqlError(err)
	} else if !ok {
		return sql.ErrTableNotFound.New(oldName)
	}
	if !strings.EqualFold(oldName, newName) {
		if ok, err := c.lockedGet(ctx, newKey, &other); err != nil {
			return sqlError(err)
		} else if ok {
			return sql.ErrTableAlreadyExists.New(newName)
		}
		if err := c.del(ctx, oldKey); err != nil {
			return sqlError(err)
		}
	}
	rec.Name = newName
	return sqlError(c.put(ctx, newKey, rec))
}

// Views, triggers and stored procedures: GMS parses and runs them; the database keeps their
// definitions in the catalog.

// createDef stores definition v of the given kind under name, failing with exists() if a
// definition of that name is there.
func (d *Database) createDef(ctx *sql.Context, kind, name string, v any, exists func() error) error {
	t, err := d.s.writeTxn(ctx)
	if err != nil {
		return err
	}
	c := d.s.cat(t)
	key := sysKey(kind, d.rec.Name, name)
	var old map[string]any
	if ok, err := c.lockedGet(ctx, key, &old); err != nil {
		return sqlError(err)
	} else if ok {
		return exists()
	}
	return sqlError(c.put(ctx, key, v))
}

// dropDef removes the definition of the given kind under name, failing with missing() if
// there is none.
func (d *Database) dropDef(ctx *sql.Context, kind, name string, missing func() error) error {
	t, err := d.s.writeTxn(ctx)
	if err != nil {
		return err
	}
	c := d.s.cat(t)
	key := sysKey(kind, d.rec.Name, name)
	var old map[string]any
	if ok, err := c.lockedGet(ctx, key, &old); err != nil {
		return sqlError(err)
	} else if !ok {
		return missing()
	}
	return sqlError(c.del(ctx, key))
}

// CreateView implements sql.ViewDatabase.
func (d *Database) CreateView(ctx *sql.Context, name string, selectStatement, createViewStmt string) error {
	mode, _ := ctx.GetSessionVariable(ctx, "sql_mode")
	modeStr, _ := mode.(string)
	def := sql.ViewDefinition{Name: name, TextDefinition: selectStatement, CreateViewStatement: createViewStmt, SqlMode: modeStr}
	if err := d.s.checkViewCycle(ctx, d.rec.Name, name, def); err != nil {
		return err
	}
	return d.createDef(ctx, "V", name, def, func() error { return sql.ErrExistingView.New(d.rec.Name, name) })
}

// DropView implements sql.ViewDatabase.
func (d *Database) DropView(ctx *sql.Context, name string) error {
	return d.dropDef(ctx, "V", name, func() error { return sql.ErrViewDoesNotExist.New(d.rec.Name, name) })
}

// GetViewDefinition implements sql.ViewDatabase.
func (d *Database) GetViewDefinition(ctx *sql.Context, name string) (sql.ViewDefinition, bool, error) {
	var v sql.ViewDefinition
	ok, err := getDef(d, ctx, "V", name, &v)
	if ok && err == nil {
		err = d.s.checkViewCycle(ctx, d.rec.Name, name, v) // one stored before cycles were refused
	}
	return v, ok, err
}

// getDef reads the definition of the given kind under name into v.
func getDef(d *Database, ctx *sql.Context, kind, name string, v any) (bool, error) {
	t, done, err := d.s.txnOf(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	return d.s.cat(t).get(ctx, sysKey(kind, d.rec.Name, name), v)
}

// AllViews implements sql.ViewDatabase.
func (d *Database) AllViews(ctx *sql.Context) ([]sql.ViewDefinition, error) {
	var out []sql.ViewDefinition
	err := listDefs(d, ctx, "V", func(b []byte) error {
		var v sql.ViewDefinition
		err := jsonUnmarshal(b, &v)
		out = append(out, v)
		return err
	})
	return out, err
}

func listDefs(d *Database, ctx *sql.Context, kind string, fn func([]byte) error) error {
	t, done, err := d.s.txnOf(ctx)
	if err != nil {
		return err
	}
	defer done()
	return d.s.cat(t).list(ctx, sysKey(kind, d.rec.Name), fn)
}

// GetTriggers implements sql.TriggerDatabase.
func (d *Database) GetTriggers(ctx *sql.Context) ([]sql.TriggerDefinition, error) {
	var out []sql.TriggerDefinition
	err := listDefs(d, ctx, "R", func(b []byte) error {
		var v sql.TriggerDefinition
		err := jsonUnmarshal(b, &v)
		v.CreateStatement = qualifyTriggerTable(v.CreateStatement, d.rec.Name)
		out = append(out, v)
		return err
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, err
}

// CreateTrigger implements sql.TriggerDatabase.
func (d *Database) CreateTrigger(ctx *sql.Context, def sql.TriggerDefinition) error {
	if def.CreatedAt.IsZero() {
		def.CreatedAt = time.Now().UTC()
	}
	return d.createDef(ctx, "R", def.Name, def, func() error { return fmt.Errorf("trigger %q already exists", def.Name) })
}

// DropTrigger implements sql.TriggerDatabase.
func (d *Database) DropTrigger(ctx *sql.Context, name string) error {
	return d.dropDef(ctx, "R", name, func() error { return sql.ErrTriggerDoesNotExist.New(name) })
}

// GetStoredProcedure implements sql.StoredProcedureDatabase.
func (d *Database) GetStoredProcedure(ctx *sql.Context, name string) (sql.StoredProcedureDetails, bool, error) {
	var v sql.StoredProcedureDetails
	ok, err := getDef(d, ctx, "P", name, &v)
	return v, ok, err
}

// GetStoredProcedures implements sql.StoredProcedureDatabase.
func (d *Database) GetStoredProcedures(ctx *sql.Context) ([]sql.StoredProcedureDetails, error) {
	var out []sql.StoredProcedureDetails
	err := listDefs(d, ctx, "P", func(b []byte) error {
		var v sql.StoredProcedureDetails
		err := jsonUnmarshal(b, &v)
		out = append(out, v)
		return err
	})
	return out, err
}

// SaveStoredProcedure implements sql.StoredProcedureDatabase.
func (d *Database) SaveStoredProcedure(ctx *sql.Context, spd sql.StoredProcedureDetails) error {
	return d.createDef(ctx, "P", spd.Name, spd, func() error { return sql.ErrStoredProcedureAlreadyExists.New(spd.Name) })
}

// DropStoredProcedure implements sql.StoredProcedureDatabase.
func (d *Database) DropStoredProcedure(ctx *sql.Context, name string) error {
	return d.dropDef(ctx, "P", name, func() error { return sql.ErrStoredProcedureDoesNotExist.New(name) })
}

// triggerTable finds the table of a CREATE TRIGGER statement: the identifier after
// {BEFORE|AFTER} {INSERT|UPDATE|DELETE} ON, and whether a '.' (a qualified name) follows.
var triggerTable = regexp.MustCompile("(?is)^.*?\\b(?:BEFORE|AFTER)\\s+(?:INSERT|UPDATE|DELETE)\\s+ON\\s+(`(?:[^`]|``)+`|[\\w$]+)(\\s*\\.)?")

// qualifyTriggerTable returns a trigger's CREATE statement with its table qualified by db,
// the trigger's database. GMS parses a trigger's statement, to fire it or to list it in
// information_schema.TRIGGERS, in the session's current database (analyzer/triggers.go,
// information_schema.go triggersRowIter), so with another current database the table was
// not found: an INSERT INTO u1.t from another database failed with 1146 (or 1046 with none),
// and so did mysqldump, which reads information_schema.TRIGGERS with the mysql database
// current. The stored statement is kept as written.
func qualifyTriggerTable(stmt, db string) string {
	m := triggerTable.FindStringSubmatchIndex(stmt)
	if m == nil || m[4] >= 0 {
		return stmt
	}
	q := stmt[:m[2]] + "`" + strings.ReplaceAll(db, "`", "``") + "`." + stmt[m[2]:]
	if _, err := ast.Parse(q); err != nil {
		return stmt
	}
	return q
}

// unqualifyTriggerTable undoes qualifyTriggerTable: SHOW CREATE TRIGGER gives the statement
// as written, so that a dump loads into a database of another name, as MySQL's does.
func unqualifyTriggerTable(stmt, db string) string {
	m := triggerTable.FindStringSubmatchIndex(stmt)
	if m == nil || m[4] < 0 || stmt[m[2]:m[3]] != "`"+strings.ReplaceAll(db, "`", "``")+"`" {
		return stmt
	}
	return stmt[:m[2]] + stmt[m[5]:]
}
