package sqlstore

import (
	"context"
	"strings"
	"sync"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/vitess/go/mysql"
)

// The default collation.
//
// MySQL 8's default collation is utf8mb4_0900_ai_ci (accent- and case-insensitive: 'a' =
// 'A', and WHERE name = 'ALICE' finds 'alice'); GMS's is utf8mb4_0900_bin, a constant
// (sql.Collation_Default) that it uses for collation_server, collation_database,
// collation_connection and for a CREATE DATABASE that names none. Strata gives those three
// variables MySQL's default and a new database @@collation_server, so tables and string
// columns created without a collation take it, as string literals take
// @@collation_connection. Databases, tables and columns already created keep the
// collation they were created with (their keys are encoded by it).
//
// A client's handshake names the collation it speaks (e.g. latin1_general_ci or
// utf8mb4_general_ci); as in MySQL, it sets the connection's character_set_client,
// character_set_connection, character_set_results and collation_connection.

// DefaultCollation is the collation of a new database when the engine's options name none.
const DefaultCollation = sql.Collation_utf8mb4_0900_ai_ci

// collationVariables take the server's default collation.
var collationVariables = []string{"collation_server", "collation_database", "collation_connection"}

var collationOnce sync.Once

// registerDefaultCollation gives the collation variables the default coll. GMS keeps
// system variables per process, so the first engine's choice holds for the process.
func registerDefaultCollation(coll sql.CollationID) {
	collationOnce.Do(func() {
		var vars []sql.SystemVariable
		for _, name := range collationVariables {
			v, _, ok := sql.SystemVariables.GetGlobal(name)
			mv, isMysql := v.(*sql.MysqlSystemVariable)
			if !ok || !isMysql {
				continue
			}
			nv := *mv
			nv.Default = coll.Name()
			vars = append(vars, &nv)
		}
		sql.SystemVariables.AddSystemVariables(vars)
	})
}

// installDatabaseCollationRule makes a CREATE DATABASE that names no collation take the
// session's @@collation_server (GMS would give it utf8mb4_0900_bin).
func installDatabaseCollationRule(eng *sqle.Engine) {
	installFirst(eng, "once-before", analyzer.Rule{Id: ruleDatabaseCollation, Apply: databaseCollation})
}

// databaseCollation is the analyzer rule of installDatabaseCollationRule. It also gives
// @@collation_database and @@character_set_database, read with no current database, the
// server's collation as MySQL does (GMS: utf8mb4_0900_bin).
func databaseCollation(ctx *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	cdb, ok := n.(*plan.CreateDB)
	if !ok {
		if ctx.GetCurrentDatabase() != "" {
			return n, transform.SameTree, nil
		}
		return transform.NodeExprs(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
			sv, ok := e.(*expression.SystemVar)
			if !ok || sv.Collation != sql.Collation_Default {
				return e, transform.SameTree, nil
			}
			if name := strings.ToLower(sv.Name); name != "collation_database" && name != "character_set_database" {
				return e, transform.SameTree, nil
			}
			coll := sessionCollation(ctx, "collation_server")
			if coll == sql.Collation_Unspecified || coll == sv.Collation {
				return e, transform.SameTree, nil
			}
			nv := *sv
			nv.Collation = coll
			return &nv, transform.NewTree, nil
		})
	}
	if cdb.Collation != sql.Collation_Unspecified {
		return n, transform.SameTree, nil
	}
	coll := sessionCollation(ctx, "collation_server")
	if coll == sql.Collation_Unspecified {
		return n, transform.SameTree, nil
	}
	nc := *cdb
	nc.Collation = coll
	return &nc, transform.NewTree, nil
}

// sessionCollation is the collation a session variable names, or Collation_Unspecified.
func sessionCollation(ctx *sql.Context, name string) sql.CollationID {
	v, err := ctx.GetSessionVariable(ctx, name)
	if err != nil {
		return sql.Collation_Unspecified
	}
	s, ok := v.(string)
	if !ok {
		return sql.Collation_Unspecified
	}
	coll, err := sql.ParseCollation("", s, false)
	if err != nil {
		return sql.Collation_Unspecified
	}
	return coll
}

// applyHandshakeCollation sets the session's character set and collation variables to the
// collation the client's handshake named, as MySQL does (SET NAMES). An id the server does
// not know, or 0 (a client that named none), leaves the server's defaults.
func applyHandshakeCollation(sess sql.Session, c *mysql.Conn) error {
	if c == nil || c.CharacterSet == 0 {
		return nil
	}
	name := sql.CollationID(c.CharacterSet).Name()
	if name == "" {
		return nil
	}
	coll, err := sql.ParseCollation("", name, false)
	if err != nil { // a collation GMS does not implement
		return nil
	}
	cs := coll.CharacterSet()
	ctx := sql.NewContext(context.Background(), sql.WithSession(sess))
	for _, v := range []struct{ name, value string }{
		{"character_set_client", cs.Name()},
		{"character_set_connection", cs.Name()},
		{"character_set_results", cs.Name()},
		{"collation_connection", name},
	} {
		if err := sess.InitSessionVariable(ctx, v.name, v.value); err != nil {
			return err
		}
	}
	return nil
}
