package sqlstore

import (
	"fmt"
	"net"
	"regexp"
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/dolthub/vitess/go/mysql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// installAuthErrors makes eng's privilege checks fail with MySQL's errors (1142 for a
// table, 1044 for a database, 1227 for a global privilege, SQLSTATE 42000) instead of GMS's
// "command denied to user ..." (1105), which names neither the command nor the object.
// The checks themselves are GMS's.
func installAuthErrors(eng *sqle.Engine) {
	cat := eng.Analyzer.Catalog
	if cat == nil || cat.AuthHandler == nil {
		return
	}
	if _, done := cat.AuthHandler.(mysqlAuthHandler); !done {
		cat.AuthHandler = mysqlAuthHandler{AuthorizationHandler: cat.AuthHandler, mdb: cat.MySQLDb}
	}
}

// mysqlAuthHandler is GMS's authorization handler with MySQL's errors.
type mysqlAuthHandler struct {
	sql.AuthorizationHandler
	mdb *mysql_db.MySQLDb
}

var reDeniedUser = regexp.MustCompile(`(?s)^(?:command denied to user|Access denied for user) ('.*'@'.*?')(?: to (?:table|database) '.*')?$`)

// HandleAuth implements sql.AuthorizationHandler.
func (h mysqlAuthHandler) HandleAuth(ctx *sql.Context, aqs sql.AuthorizationQueryState, auth ast.AuthInformation) error {
	err := h.AuthorizationHandler.HandleAuth(ctx, aqs, auth)
	if err == nil || !(sql.ErrPrivilegeCheckFailed.Is(err) || sql.ErrTableAccessDeniedForUser.Is(err) || sql.ErrDatabaseAccessDeniedForUser.Is(err)) {
		return err
	}
	account := ""
	if m := reDeniedUser.FindStringSubmatch(err.Error()); m != nil {
		account = m[1]
	}
	switch auth.TargetType {
	case ast.AuthTargetType_SingleTableIdentifier, ast.AuthTargetType_TableColumn, ast.AuthTargetType_MultipleTableIdentifiers:
		table := h.deniedTable(ctx, aqs, auth)
		if table == "" {
			return err
		}
		return mysql.NewSQLError(erTableAccessDenied, "42000", "%s command denied to user %s for table '%s'", authCommand(auth.AuthType), clientAccount(ctx), table)
	case ast.AuthTargetType_DatabaseIdentifiers:
		if w := leadingWords(ctx.Query(), 2); w == "CREATE TABLE" || w == "CREATE TEMPORARY" {
			if table := objectName(ctx.Query(), "TABLE"); table != "" {
				return mysql.NewSQLError(erTableAccessDenied, "42000", "%s command denied to user %s for table '%s'", authCommand(auth.AuthType), clientAccount(ctx), table)
			}
		}
		for _, db := range auth.TargetNames {
			one := auth
			one.TargetNames = []string{db}
			if h.AuthorizationHandler.HandleAuth(ctx, aqs, one) != nil {
				if db == "" {
					db = ctx.GetCurrentDatabase()
				}
				return mysql.NewSQLError(erDBAccessDenied, "42000", "Access denied for user %s to database '%s'", account, db)
			}
		}
	case ast.AuthTargetType_Global:
		if auth.AuthType == ast.AuthType_FILE && h.mdb != nil {
			return fileAccessDenied(ctx, h.mdb) // MySQL's answer to a missing FILE privilege
		}
		switch w := leadingWords(ctx.Query(), 2); w {
		case "CREATE DATABASE", "CREATE SCHEMA", "DROP DATABASE", "DROP SCHEMA", "ALTER DATABASE", "ALTER SCHEMA":
			if db := objectName(ctx.Query(), "DATABASE", "SCHEMA"); db != "" && account != "" {
				return mysql.NewSQLError(erDBAccessDenied, "42000", "Access denied for user %s to database '%s'", account, db)
			}
		}
		return mysql.NewSQLError(erSpecificAccessDenied, "42000", "Access denied; you need (at least one of) the %s privilege(s) for this operation", authCommand(auth.AuthType))
	}
	if sql.ErrDatabaseAccessDeniedForUser.Is(err) {
		return mysql.NewSQLError(erDBAccessDenied, "42000", "%s", err.Error())
	}
	return err
}

// deniedTable returns the first table of auth's targets that the user may not use as auth
// asks.
func (h mysqlAuthHandler) deniedTable(ctx *sql.Context, aqs sql.AuthorizationQueryState, auth ast.AuthInformation) string {
	if auth.TargetType != ast.AuthTargetType_MultipleTableIdentifiers {
		if len(auth.TargetNames) < 2 {
			return ""
		}
		return auth.TargetNames[1]
	}
	for i := 0; i+1 < len(auth.TargetNames); i += 2 {
		one := auth
		one.TargetType = ast.AuthTargetType_SingleTableIdentifier
		one.TargetNames = auth.TargetNames[i : i+2]
		if h.AuthorizationHandler.HandleAuth(ctx, aqs, one) != nil {
			return auth.TargetNames[i+1]
		}
	}
	return ""
}

// authCommand names the command or privilege of a GMS authorization type as MySQL's
// messages do.
func authCommand(authType string) string {
	switch authType {
	case ast.AuthType_REPLACE:
		return "INSERT"
	case ast.AuthType_FOREIGN_KEY:
		return "REFERENCES"
	case ast.AuthType_LOCK:
		return "LOCK TABLES"
	case ast.AuthType_CREATE_TEMP:
		return "CREATE TEMPORARY TABLES"
	case ast.AuthType_REPLICATION_CLIENT:
		return "REPLICATION CLIENT"
	case ast.AuthType_REPLICATION:
		return "REPLICATION SLAVE"
	case ast.AuthType_ALTER_USER:
		return "CREATE USER"
	case ast.AuthType_CREATE_ROLE:
		return "CREATE ROLE or CREATE USER"
	case ast.AuthType_DROP_ROLE:
		return "DROP ROLE or CREATE USER"
	}
	if strings.HasPrefix(authType, "GRANT_") || strings.HasPrefix(authType, "REVOKE_") {
		return "GRANT OPTION"
	}
	return strings.ReplaceAll(authType, "_", " ")
}

// clientAccount is 'user'@'host' for the session's client. MySQL's table-level denials
// name the host the client connects from, which the session does not know: errcodes.go
// puts the connection's in (clientHost).
func clientAccount(ctx *sql.Context) string {
	c := ctx.Session.Client()
	return fmt.Sprintf("'%s'@'%s'", c.User, c.Address)
}

// clientHost is the host of a client's address as MySQL names it, loopback as localhost.
func clientHost(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return "localhost"
	}
	return host
}
