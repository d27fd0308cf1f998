package sqlstore

import (
	"context"
	"reflect"
	"strings"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/sqltypes"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// mysql.general_log and mysql.slow_log.
//
// MySQL 8 has these two tables in its mysql schema whatever log_output says; with
// log_output=FILE (Strata writes no query log to tables) they are empty. MariaDB's
// mysqldump (Debian's mysqldump) reads their definitions whenever it dumps the mysql
// database (dump_first_mysql_tables: SHOW CREATE TABLE general_log, slow_log, unconditionally),
// so `mysqldump --all-databases` failed with 1146.
//
// GMS's mysql database is a fixed set of tables (mysql_db/mysql_db.go, GetTableInsensitive),
// and the catalog answers the name "mysql" with it before the database provider is asked
// (analyzer/catalog.go, Database; mysql_db/privileged_database_provider.go, Database). So the
// two tables live in a database the Store provides under a name no client can write (it is
// not valid UTF-8, which checkIdentifiers refuses in statements), logTablesDB, and the parser
// wrapper (checkStatement) points a statement's references to mysql.general_log and
// mysql.slow_log (or general_log and slow_log while mysql is the current database) there.
// The database calls itself mysql, so privileges, metadata and messages name mysql. Its
// tables are empty; CREATE TABLE IF NOT EXISTS of them (what a dump holds) is
// the no-op it is in MySQL; other writes fail.

// logTablesDB is the name the Store answers with the log tables' database.
const logTablesDB = "mysql\xff"

// logTableNames are the log tables, lowercased.
var logTableNames = []string{"general_log", "slow_log"}

// isLogTable reports whether name is one of the log tables.
func isLogTable(name string) bool {
	for _, n := range logTableNames {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// logDatabase is the mysql database as far as the log tables go.
type logDatabase struct{}

var _ sql.Database = logDatabase{}
var _ sql.CollatedDatabase = logDatabase{}
var _ sql.ViewDatabase = logDatabase{}
var _ sql.AliasedDatabase = logDatabase{}
var _ sql.TableCreator = logDatabase{}

// Name implements sql.Database.
func (logDatabase) Name() string { return "mysql" }

// GetTableInsensitive implements sql.Database.
func (logDatabase) GetTableInsensitive(_ *sql.Context, name string) (sql.Table, bool, error) {
	t := logTable(strings.ToLower(name))
	if t == nil {
		return nil, false, nil
	}
	return t, true, nil
}

// GetTableNames implements sql.Database.
func (logDatabase) GetTableNames(*sql.Context) ([]string, error) {
	return append([]string(nil), logTableNames...), nil
}

// AliasedName implements sql.AliasedDatabase: privileges are mysql's.
func (logDatabase) AliasedName() string { return "mysql" }

// CreateView implements sql.ViewDatabase.
func (logDatabase) CreateView(*sql.Context, string, string, string) error {
	return sql.ErrDatabaseWriteLocked.New("mysql")
}

// DropView implements sql.ViewDatabase.
func (logDatabase) DropView(*sql.Context, string) error {
	return sql.ErrDatabaseWriteLocked.New("mysql")
}

// GetViewDefinition implements sql.ViewDatabase: there are none.
func (logDatabase) GetViewDefinition(*sql.Context, string) (sql.ViewDefinition, bool, error) {
	return sql.ViewDefinition{}, false, nil
}

// AllViews implements sql.ViewDatabase.
func (logDatabase) AllViews(*sql.Context) ([]sql.ViewDefinition, error) { return nil, nil }

// CreateTable implements sql.TableCreator: the log tables exist, so CREATE TABLE IF NOT
// EXISTS of one (what a dump of the mysql database holds) does nothing, as in MySQL.
func (logDatabase) CreateTable(_ *sql.Context, name string, _ sql.PrimaryKeySchema, _ sql.CollationID, _ string) error {
	if isLogTable(name) {
		return sql.ErrTableAlreadyExists.New(name)
	}
	return sql.ErrDatabaseWriteLocked.New()
}

// GetCollation implements sql.CollatedDatabase.
func (logDatabase) GetCollation(*sql.Context) sql.CollationID {
	return sql.Collation_utf8mb3_general_ci
}

// SetCollation implements sql.CollatedDatabase.
func (logDatabase) SetCollation(*sql.Context, sql.CollationID) error {
	return sql.ErrDatabaseWriteLocked.New("mysql")
}

// emptyLogTable is a log table with MySQL 8's definition and no rows.
type emptyLogTable struct {
	name    string
	comment string
	schema  sql.Schema
}

var _ sql.Table = (*emptyLogTable)(nil)
var _ sql.CommentedTable = (*emptyLogTable)(nil)

var (
	logTablesOnce sync.Once
	logTables     map[string]*emptyLogTable
)

// logTable returns the log table of a lowercased name, or nil.
func logTable(name string) *emptyLogTable {
	logTablesOnce.Do(func() {
		utf8 := sql.Collation_utf8mb3_general_ci
		ts := types.MustCreateDatetimeType(sqltypes.Timestamp, 6)
		now := func() *sql.ColumnDefaultValue {
			e, err := function.NewNow(expression.NewLiteral(int8(6), types.Int8))
			if err != nil {
				panic(err)
			}
			d, err := sql.NewColumnDefaultValue(e, ts, false, false, false)
			if err != nil {
				panic(err)
			}
			return d
		}
		col := func(table, name string, typ sql.Type) *sql.Column {
			return &sql.Column{Name: name, Type: typ, Source: table, DatabaseSource: "mysql"}
		}
		stamp := func(table, name string) *sql.Column {
			c := col(table, name, ts)
			c.Default, c.OnUpdate = now(), now()
			return c
		}
		mediumText := types.MustCreateString(sqltypes.Text, types.MediumTextBlobMax, utf8)
		// MySQL 8.0's mysql.general_log and mysql.slow_log (scripts/mysql_system_tables.sql).
		logTables = map[string]*emptyLogTable{
			"general_log": {name: "general_log", comment: "General log", schema: sql.Schema{
				stamp("general_log", "event_time"),
				col("general_log", "user_host", mediumText),
				col("general_log", "thread_id", types.Uint64),
				col("general_log", "server_id", types.Uint32),
				col("general_log", "command_type", types.MustCreateString(sqltypes.VarChar, 64, utf8)),
				col("general_log", "argument", types.MediumBlob),
			}},
			"slow_log": {name: "slow_log", comment: "Slow log", schema: sql.Schema{
				stamp("slow_log", "start_time"),
				col("slow_log", "user_host", mediumText),
				col("slow_log", "query_time", types.Time),
				col("slow_log", "lock_time", types.Time),
				col("slow_log", "rows_sent", types.Int32),
				col("slow_log", "rows_examined", types.Int32),
				col("slow_log", "db", types.MustCreateString(sqltypes.VarChar, 512, utf8)),
				col("slow_log", "last_insert_id", types.Int32),
				col("slow_log", "insert_id", types.Int32),
				col("slow_log", "server_id", types.Uint32),
				col("slow_log", "sql_text", types.MediumBlob),
				col("slow_log", "thread_id", types.Uint64),
			}},
		}
	})
	return logTables[name]
}

// Name implements sql.Table.
func (t *emptyLogTable) Name() string { return t.name }

// String implements sql.Table.
func (t *emptyLogTable) String() string { return t.name }

// Schema implements sql.Table.
func (t *emptyLogTable) Schema() sql.Schema { return t.schema }

// Collation implements sql.Table.
func (t *emptyLogTable) Collation() sql.CollationID { return sql.Collation_utf8mb3_general_ci }

// Comment implements sql.CommentedTable.
func (t *emptyLogTable) Comment() string { return t.comment }

// Partitions implements sql.Table: none, the table is empty.
func (t *emptyLogTable) Partitions(*sql.Context) (sql.PartitionIter, error) {
	return sql.PartitionsToPartitionIter(), nil
}

// PartitionRows implements sql.Table.
func (t *emptyLogTable) PartitionRows(*sql.Context, sql.Partition) (sql.RowIter, error) {
	return sql.RowsToRowIter(), nil
}

// logTableRefs points the references of stmt to mysql.general_log and mysql.slow_log at
// logTablesDB (see above). Only statements whose text names a log table are walked.
func logTableRefs(ctx context.Context, query string, stmt ast.Statement) {
	if stmt == nil {
		return
	}
	lower := strings.ToLower(query)
	if !strings.Contains(lower, "general_log") && !strings.Contains(lower, "slow_log") {
		return
	}
	cur := ""
	if sctx, ok := ctx.(*sql.Context); ok {
		cur = sctx.GetCurrentDatabase()
	}
	inMySQL := strings.EqualFold(cur, "mysql")
	retarget(reflect.ValueOf(&stmt).Elem(), inMySQL, 0)
}

var (
	tableNameType = reflect.TypeOf(ast.TableName{})
	colNameType   = reflect.TypeOf(ast.ColName{})
)

// retarget rewrites, below v, the table names of the log tables (not column qualifiers).
func retarget(v reflect.Value, inMySQL bool, depth int) {
	if depth > maxASTDepth+100 {
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		if e := v.Elem(); e.Type() == tableNameType {
			if tn, ok := logTableName(e.Interface().(ast.TableName), inMySQL); ok && v.CanSet() {
				v.Set(reflect.ValueOf(tn))
			}
			return
		}
		retarget(v.Elem(), inMySQL, depth+1)
	case reflect.Pointer:
		if !v.IsNil() {
			retarget(v.Elem(), inMySQL, depth+1)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			retarget(v.Index(i), inMySQL, depth+1)
		}
	case reflect.Struct:
		switch v.Type() {
		case colNameType:
			return
		case tableNameType:
			if tn, ok := logTableName(v.Interface().(ast.TableName), inMySQL); ok && v.CanSet() {
				v.Set(reflect.ValueOf(tn))
			}
			return
		}
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			if t.Field(i).IsExported() {
				retarget(v.Field(i), inMySQL, depth+1)
			}
		}
	}
}

// logTableName returns tn pointed at logTablesDB, if it names a log table of mysql.
func logTableName(tn ast.TableName, inMySQL bool) (ast.TableName, bool) {
	if !isLogTable(tn.Name.String()) {
		return tn, false
	}
	db := tn.DbQualifier.String()
	if !strings.EqualFold(db, "mysql") && (db != "" || !inMySQL) {
		return tn, false
	}
	tn.DbQualifier = ast.NewTableIdent(logTablesDB)
	return tn, true
}
