package sqlstore

import (
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
)

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
			// GMS: a string that shows NULL as an empty string; read-only at run time
			// (files.go sets it from the engine's options).
			&sql.MysqlSystemVariable{
				Name:    "secure_file_priv",
				Scope:   sql.GetMysqlScope(sql.SystemVariableScope_Global),
				Dynamic: false,
				Type:    types.LongText,
				Default: nil,
			},
		})
	})
}
