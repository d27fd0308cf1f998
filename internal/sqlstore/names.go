package sqlstore

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
)

// maxColumns is MySQL's limit on the columns of a table (ER_TOO_MANY_FIELDS).
const maxColumns = 4096

// erInvalidCharacterString is MySQL's ER_INVALID_CHARACTER_STRING.
const erInvalidCharacterString = 1300

// checkName refuses an identifier that is not valid UTF-8: catalog keys hold names
// lower-cased, and lower-casing replaces each invalid byte with U+FFFD, so two different
// names would become one. MySQL refuses them too (1300). checkIdentifiers (parser.go) applies
// it to every identifier of a statement, when the statement is parsed: GMS lower-cases some
// names (databases, views) before they reach the backend.
func checkName(name string) error {
	if utf8.ValidString(name) {
		return nil
	}
	var b strings.Builder
	for i := 0; i < len(name); {
		r, n := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02X`, name[i])
		} else {
			b.WriteString(name[i : i+n])
		}
		i += n
	}
	return mysql.NewSQLError(erInvalidCharacterString, mysql.SSUnknownSQLState, "Invalid utf8mb4 character string: '%s'", b.String())
}

// checkColumns refuses a table of more than maxColumns columns, as MySQL does (1117).
// (Column names, like every identifier, are checked by checkIdentifiers when the statement
// is parsed.)
func checkColumns(sch sql.Schema) error {
	if len(sch) > maxColumns {
		return mysql.NewSQLError(mysql.ERTooManyFields, mysql.SSUnknownSQLState, "Too many columns")
	}
	return nil
}
