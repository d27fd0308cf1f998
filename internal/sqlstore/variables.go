package sqlstore

import (
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// ServerVersion is the version Strata reports: in the handshake, VERSION() and @@version.
// Drivers read the MySQL version from it, so it starts with the MySQL version Strata
// follows.
const ServerVersion = "8.0.33-strata"

// versionComment is @@version_comment (what the mysql client prints after connecting).
const versionComment = "Strata"

// defaultMaxAllowedPacket is MySQL 8's default max_allowed_packet (GMS's is 1 GiB).
const defaultMaxAllowedPacket = 64 << 20

var registerOnce sync.Once

// registerVariables gives the system variables that GMS defines differently from MySQL
// MySQL's scope, range and default. GMS keeps them per process, so this runs once.
func registerVariables() {
	registerOnce.Do(func() {
		sql.SystemVariables.AddSystemVariables([]sql.SystemVariable{
			// GMS: a global fixed at 1 s.
			&sql.MysqlSystemVariable{
				Name:    "innodb_lock_wait_timeout",
				Scope:   sql.GetMysqlScope(sql.SystemVariableScope_Both),
				Dynamic: true,
				Type:    types.NewSystemIntType("innodb_lock_wait_timeout", 1, 1073741824, false),
				Default: int64(50),
			},
			// GMS: 1 GiB by default (enforced by conn_guard.go).
			&sql.MysqlSystemVariable{
				Name:    "max_allowed_packet",
				Scope:   sql.GetMysqlScope(sql.SystemVariableScope_Both),
				Dynamic: true,
				Type:    types.NewSystemUintType("max_allowed_packet", 1024, 1073741824),
				Default: int64(defaultMaxAllowedPacket),
			},
			// GMS: accepts negatives (enforced by sprecursion.go).
			&sql.MysqlSystemVariable{
				Name:    "max_sp_recursion_depth",
				Scope:   sql.GetMysqlScope(sql.SystemVariableScope_Both),
				Dynamic: true,
				Type:    types.NewSystemIntType("max_sp_recursion_depth", 0, 255, false),
				Default: int64(0),
			},
			// GMS: 8.0.31 and "Dolt", while the handshake said ServerVersion.
			&sql.MysqlSystemVariable{
				Name:    "version",
				Scope:   sql.GetMysqlScope(sql.SystemVariableScope_Global),
				Dynamic: false,
				Type:    types.NewSystemStringType("version"),
				Default: ServerVersion,
			},
			&sql.MysqlSystemVariable{
				Name:    "version_comment",
				Scope:   sql.GetMysqlScope(sql.SystemVariableScope_Global),
				Dynamic: false,
				Type:    types.NewSystemStringType("version_comment"),
				Default: versionComment,
			},
			// GMS: a string that shows NULL as an empty string; read-only at run time
			// (files.go sets it from the engine's options).
			&sql.MysqlSystemVariable{
				Name:    "secure_file_priv",
				Scope:   sql.GetMysqlScope(sql.SystemVariableScope_Global),
				Dynamic: false,
				Type:    types.LongText,
				Default: nil,
			},
			// GMS: dynamic, and ignored. Here they say whether the node is read-only (a
			// read-only compute node: EngineOptions.ReadOnly), which no SET can change: a
			// read-write node cannot refuse writes on demand yet, and a read-only node can
			// never write.
			&sql.MysqlSystemVariable{
				Name:    "read_only",
				Scope:   sql.GetMysqlScope(sql.SystemVariableScope_Global),
				Dynamic: false,
				Type:    types.NewSystemBoolType("read_only"),
				Default: int8(0),
			},
			&sql.MysqlSystemVariable{
				Name:    "super_read_only",
				Scope:   sql.GetMysqlScope(sql.SystemVariableScope_Global),
				Dynamic: false,
				Type:    types.NewSystemBoolType("super_read_only"),
				Default: int8(0),
			},
		})
	})
}
