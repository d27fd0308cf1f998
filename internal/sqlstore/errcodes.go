package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strata/internal/engine"
	"strconv"
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
)

// MySQL error numbers that vitess does not name.
const (
	erDupEntry                = 1062
	erParseError              = 1064
	erBadTable                = 1051
	erNoReferencedRow         = 1216
	erRowIsReferenced         = 1217
	erRowIsReferenced2        = 1451
	erNoReferencedRow2        = 1452
	erWarnDataOutOfRange      = 1264
	erTruncatedWrongValue     = 1292
	erTruncatedWrongValueFor  = 1366
	erDataTooLong             = 1406
	erDataOutOfRange          = 1690
	erReadOnlyTransaction     = 1792
	erServerOfflineMode       = 3032
	erIncorrectGlobalLocalVar = 1238
	erTableAccessDenied       = 1142
	erDBAccessDenied          = 1044
	erSpecificAccessDenied    = 1227
	erDBCreateExists          = 1007
	erDBDropExists            = 1008
	erNoDB                    = 1046
	erBadDB                   = 1049
	erTableExists             = 1050
	erBadField                = 1054
	erNoSuchTable             = 1146
	erBadNull                 = 1048
	erInvalidJSONText         = 3141
	erWrongValueCountOnRow    = 1136
	erSubqueryNo1Row          = 1242
	erOperandColumns          = 1241
	erFieldSpecifiedTwice     = 1110
	erMultiplePriKey          = 1068
	erWrongAutoKey            = 1075
	erCantDropFieldOrKey      = 1091
	erKeyColumnDoesNotExist   = 1072
	erMixOfGroupFuncAndFields = 1140
	erEventDoesNotExist       = 1539
)

// reNoEvent is GMS's sql.ErrEventDoesNotExist.
var reNoEvent = regexp.MustCompile(`^Event '(.*)' does not exist$`)

// sqlStates are MySQL 8's SQLSTATEs for the errors GMS gives the generic HY000.
var sqlStates = map[int]string{
	erDBAccessDenied: "42000", mysql.ERAccessDeniedError: "28000", erNoDB: "3D000", erBadDB: "42000",
	erTableExists: "42S01", erBadTable: "42S02", erBadField: "42S22", erDupEntry: "23000",
	erParseError: "42000", erTableAccessDenied: "42000", erSpecificAccessDenied: "42000",
	erNoSuchTable: "42S02", mysql.ERLockDeadlock: "40001",
	erNoReferencedRow: "23000", erRowIsReferenced: "23000", erRowIsReferenced2: "23000", erNoReferencedRow2: "23000",
	erBadNull: "23000", erWarnDataOutOfRange: "22003", erTruncatedWrongValue: "22007",
	erDataTooLong: "22001", erDataOutOfRange: "22003", erReadOnlyTransaction: "25006",
	erInvalidJSONText: "22032", erWrongValueCountOnRow: "21S01", erSubqueryNo1Row: "21000",
	erOperandColumns: "21000", erFieldSpecifiedTwice: "42S21", erMultiplePriKey: "42000",
	erWrongAutoKey: "42000", erCantDropFieldOrKey: "42000", erKeyColumnDoesNotExist: "42000",
	erMixOfGroupFuncAndFields: "42000",
}

// withErrorCodes returns wrap followed by errorCodeHandler, and makes eng's privilege
// denials MySQL's (errcodes_auth.go). *srv is the server, once made (its sessions give a
// connection's current database).
func (s *Store) withErrorCodes(eng *sqle.Engine, wrap server.HandlerWrapper, srv **server.Server) server.HandlerWrapper {
	installAuthErrors(eng)
	return func(h mysql.Handler) (mysql.Handler, error) {
		h, err := wrap(h)
		if err != nil {
			return nil, err
		}
		return &errorCodeHandler{Handler: h, s: s, srv: srv}, nil
	}
}

// errorCodeHandler gives the errors a client sees MySQL 8's number, SQLSTATE and message
// where GMS gives its own (mostly 1105 or HY000, with GMS's texts). GMS has turned its errors
// into *mysql.SQLError by then (sql.CastSQLError), so they are recognised by number and text.
type errorCodeHandler struct {
	mysql.Handler
	s   *Store
	srv **server.Server
}

// ComQuery implements mysql.Handler.
func (h *errorCodeHandler) ComQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) error {
	h.s.dataErrs.begin(c.ConnectionID)
	return h.translate(c, query, h.Handler.ComQuery(ctx, c, query, callback))
}

// ComMultiQuery implements mysql.Handler.
func (h *errorCodeHandler) ComMultiQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) (string, error) {
	h.s.dataErrs.begin(c.ConnectionID)
	rest, err := h.Handler.ComMultiQuery(ctx, c, query, callback)
	return rest, h.translate(c, query, err)
}

// ComPrepare implements mysql.Handler. GMS binds the statement to prepare it, and its binder
// counts it in Com_insert, Com_update or Com_delete; MySQL counts those at execution only
// (preparing counts in Com_stmt_prepare), so the preparation's count is taken back.
func (h *errorCodeHandler) ComPrepare(ctx context.Context, c *mysql.Conn, query string, prepare *mysql.PrepareData) ([]*querypb.Field, error) {
	var fields []*querypb.Field
	var err error
	prep := func() { fields, err = h.Handler.ComPrepare(ctx, c, query, prepare) }
	if sqlCtx, cerr := (*h.srv).SessionManager().NewContextWithQuery(ctx, c, query); cerr != nil {
		prep()
	} else if sess, ok := sqlCtx.Session.(*Session); !ok {
		prep()
	} else {
		uncounted(sqlCtx, sess, prep)
	}
	return fields, h.translate(c, query, err)
}

// ComStmtExecute implements mysql.Handler.
func (h *errorCodeHandler) ComStmtExecute(ctx context.Context, c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	h.s.dataErrs.begin(c.ConnectionID)
	return h.translate(c, prepare.PrepareStmt, h.Handler.ComStmtExecute(ctx, c, prepare, callback))
}

// ComInitDB implements mysql.Handler.
func (h *errorCodeHandler) ComInitDB(c *mysql.Conn, schemaName string) error {
	return h.translate(c, "", h.Handler.ComInitDB(c, schemaName))
}

// ConnectionClosed implements mysql.Handler.
func (h *errorCodeHandler) ConnectionClosed(c *mysql.Conn) {
	h.s.dataErrs.forget(c.ConnectionID)
	h.Handler.ConnectionClosed(c)
}

// ComRegisterReplica implements mysql.BinlogReplicaHandler, as the wrapped handler does.
func (h *errorCodeHandler) ComRegisterReplica(c *mysql.Conn, host string, port uint16, user, password string) error {
	if b, ok := h.Handler.(mysql.BinlogReplicaHandler); ok {
		return b.ComRegisterReplica(c, host, port, user, password)
	}
	return mysql.NewSQLError(mysql.ERUnknownComError, mysql.SSUnknownComError, "replication is not supported")
}

// ComBinlogDumpGTID implements mysql.BinlogReplicaHandler, as the wrapped handler does.
func (h *errorCodeHandler) ComBinlogDumpGTID(c *mysql.Conn, logFile string, logPos uint64, gtidSet mysql.GTIDSet) error {
	if b, ok := h.Handler.(mysql.BinlogReplicaHandler); ok {
		return b.ComBinlogDumpGTID(c, logFile, logPos, gtidSet)
	}
	return mysql.NewSQLError(mysql.ERUnknownComError, mysql.SSUnknownComError, "replication is not supported")
}

// translate returns err as MySQL would report it.
func (h *errorCodeHandler) translate(c *mysql.Conn, query string, err error) error {
	var se *mysql.SQLError
	if err == nil || !errors.As(err, &se) {
		return err
	}
	ec := errContext{query: query, s: h.s, host: clientHost(c.RemoteAddr())}
	if h.srv != nil && *h.srv != nil {
		ec.db = (*h.srv).SessionManager().GetCurrentDB(c)
	}
	num, msg, ok := h.s.dataErrs.translate(c.ConnectionID, se)
	if !ok {
		num, msg = ec.rewrite(se.Num, se.Message)
	}
	state := se.State
	if num != se.Num || state == "" || state == mysql.SSUnknownSQLState {
		if st, ok := sqlStates[num]; ok {
			state = st
		} else if num != se.Num {
			state = mysql.SSUnknownSQLState
		}
	}
	if num == se.Num && state == se.State && msg == se.Message {
		return err
	}
	return &mysql.SQLError{Num: num, State: state, Message: msg, Query: se.Query}
}

// errContext is what a message is rewritten with: the statement and the current database.
type errContext struct {
	query string
	db    string
	host  string // the client's host, as MySQL names it
	s     *Store
}

var (
	reDupKey        = regexp.MustCompile(`(?s)^duplicate (?:primary|unique) key given: (Duplicate entry '.*' for key '.*')$`)
	reColNotFound   = regexp.MustCompile(`(?s)^column "(.*)" could not be found in any table in scope$`)
	reTableNoCol    = regexp.MustCompile(`(?s)^table "(.*)" does not have column "(.*)"$`)
	reUnknownCol    = regexp.MustCompile(`(?s)^Unknown column '(.*)' in '(.*)'$`)
	reSyntax        = regexp.MustCompile(`(?s)^syntax error at position (\d+)(?: near '.*')?$`)
	reTableNotFound = regexp.MustCompile(`(?s)^table not found: (.*)$`)
	reDBNotFound    = regexp.MustCompile(`(?s)^database not found: (.*)$`)
	reTableExists   = regexp.MustCompile(`(?s)^table with name (.*) already exists$`)
	reDBExists      = regexp.MustCompile(`(?s)^can't create database (.*); database exists$`)
	reNonNullable   = regexp.MustCompile(`(?s)^column name '(.*)' is non-nullable but attempted to set a value of null$`)
	reFKViolation   = regexp.MustCompile("(?s)^cannot (?:add or update a child|delete or update a parent) row - Foreign key violation on fk: `(.*)`, table: `(.*)`, referenced table: `(.*)`, key: `.*`$")
	reTableDenied   = regexp.MustCompile(`(?s)^(.* command denied to user '.*'@)'.*'( for table '.*')$`)
	reTooLong       = regexp.MustCompile(`(?s)^string '.*' is too large for column '.*'$`)
	reOutOfRange    = regexp.MustCompile(`(?s)^(?:.* out of range for .*|Out of range value for column .*)$`)
	reBadTime       = regexp.MustCompile(`(?s)^Incorrect (?:datetime|date|time|timestamp) value: '.*'$`)
	reDBDenied      = regexp.MustCompile(`(?s)^Access denied for user (.*) to database '(.*)'$`)
	reReadOnlyVar   = regexp.MustCompile(`^Variable '[^']*' is a read only variable$`)
)

// mysqlClauses are the clause names MySQL's 1054 message uses.
var mysqlClauses = map[string]bool{"field list": true, "where clause": true, "order clause": true,
	"group statement": true, "having clause": true, "on clause": true}

// rewrite returns MySQL's number and message for GMS's num and msg.
func (ec errContext) rewrite(num int, msg string) (int, string) {
	switch num {
	case erDupEntry:
		if m := reDupKey.FindStringSubmatch(msg); m != nil {
			return num, m[1]
		}
	case mysql.ERUnknownError:
		if m := reColNotFound.FindStringSubmatch(msg); m != nil {
			return erBadField, fmt.Sprintf("Unknown column '%s' in '%s'", m[1], columnClause(ec.query, m[1]))
		}
		if m := reTableNoCol.FindStringSubmatch(msg); m != nil {
			name := m[1] + "." + m[2]
			return erBadField, fmt.Sprintf("Unknown column '%s' in '%s'", name, columnClause(ec.query, name))
		}
		if m := reSyntax.FindStringSubmatch(msg); m != nil {
			pos, _ := strconv.Atoi(m[1])
			return erParseError, syntaxMessage(ec.query, pos)
		}
		if m := reTableExists.FindStringSubmatch(msg); m != nil {
			return erTableExists, fmt.Sprintf("Table '%s' already exists", m[1])
		}
		if strings.EqualFold(msg, "no database selected") {
			return erNoDB, "No database selected"
		}
		if m := reNoEvent.FindStringSubmatch(msg); m != nil {
			return erEventDoesNotExist, fmt.Sprintf("Unknown event '%s'", m[1]) // events.go
		}
		if m := reDBDenied.FindStringSubmatch(msg); m != nil {
			return erDBAccessDenied, msg
		}
		if strings.Contains(msg, engine.ErrNotServing.Error()) {
			// A read-only node that stopped serving reads (engine.DB.Refuse): MySQL's
			// offline mode is the nearest refusal a client knows.
			return erServerOfflineMode, "The server is currently in offline mode (" + msg + ")"
		}
		if msg == sql.ErrReadOnly.Message { // a read-only node (EngineOptions.ReadOnly)
			return mysql.EROptionPreventsStatement, msgReadOnlyNode
		}
		if reReadOnlyVar.MatchString(msg) {
			return erIncorrectGlobalLocalVar, msg
		}
		// Data errors that errcodes_data.go did not word (no column or row known): MySQL's
		// numbers, GMS's texts.
		switch {
		case reTooLong.MatchString(msg):
			return erDataTooLong, msg
		case reOutOfRange.MatchString(msg):
			return erWarnDataOutOfRange, msg
		case reBadTime.MatchString(msg):
			return erTruncatedWrongValue, msg
		}
	case erBadField:
		if m := reUnknownCol.FindStringSubmatch(msg); m != nil && !mysqlClauses[m[2]] {
			return num, fmt.Sprintf("Unknown column '%s' in '%s'", m[1], columnClause(ec.query, m[1]))
		}
	case erNoSuchTable:
		if m := reTableNotFound.FindStringSubmatch(msg); m != nil {
			db := qualifierOf(ec.query, m[1])
			if db == "" {
				db = ec.db
			}
			return ec.missingTable(db, m[1])
		}
	case erBadDB:
		if m := reDBNotFound.FindStringSubmatch(msg); m != nil {
			if w := leadingWords(ec.query, 2); w == "DROP DATABASE" || w == "DROP SCHEMA" {
				return erDBDropExists, fmt.Sprintf("Can't drop database '%s'; database doesn't exist", m[1])
			}
			if tbl := tableAfter(ec.query, m[1]); tbl != "" && isTableStatement(ec.query) {
				return ec.missingTable(m[1], tbl)
			}
			return num, fmt.Sprintf("Unknown database '%s'", m[1])
		}
	case erDBCreateExists:
		if m := reDBExists.FindStringSubmatch(msg); m != nil {
			return num, fmt.Sprintf("Can't create database '%s'; database exists", m[1])
		}
	case erBadNull:
		if m := reNonNullable.FindStringSubmatch(msg); m != nil {
			return num, fmt.Sprintf("Column '%s' cannot be null", m[1])
		}
	case erRowIsReferenced2, erNoReferencedRow2:
		if m := reFKViolation.FindStringSubmatch(msg); m != nil {
			return num, ec.foreignKeyMessage(num, m[1], m[2])
		}
	case erTableAccessDenied:
		if m := reTableDenied.FindStringSubmatch(msg); m != nil && ec.host != "" {
			return num, m[1] + "'" + ec.host + "'" + m[2]
		}
	case erReadOnlyTransaction:
		return num, "Cannot execute statement in a READ ONLY transaction."
	}
	return num, msg
}

// missingTable is MySQL's error for table db.name that does not exist: 1051 for DROP TABLE
// or DROP VIEW, else 1146.
func (ec errContext) missingTable(db, name string) (int, string) {
	full := name
	if db != "" {
		full = db + "." + name
	}
	switch w := leadingWords(ec.query, 3); {
	case strings.HasPrefix(w, "DROP TABLE"), strings.HasPrefix(w, "DROP VIEW"), w == "DROP TEMPORARY TABLE":
		return erBadTable, fmt.Sprintf("Unknown table '%s'", full)
	}
	return erNoSuchTable, fmt.Sprintf("Table '%s' doesn't exist", full)
}

// isTableStatement reports whether query is a statement for which MySQL reports a table
// in a missing database as a missing table (1146 or 1051) rather than 1049.
func isTableStatement(query string) bool {
	switch w := leadingWords(query, 1); w {
	case "SELECT", "INSERT", "REPLACE", "UPDATE", "DELETE", "WITH", "TABLE", "DROP", "DESCRIBE", "DESC", "EXPLAIN", "SHOW", "TRUNCATE", "ALTER", "LOCK":
		return !strings.HasPrefix(leadingWords(query, 2), "DROP DATABASE") && !strings.HasPrefix(leadingWords(query, 2), "ALTER DATABASE")
	}
	return false
}
