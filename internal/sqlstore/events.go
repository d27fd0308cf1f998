package sqlstore

import (
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
)

// Events.
//
// Strata has no event scheduler, so a database holds no events: SHOW EVENTS,
// information_schema.EVENTS and mysqldump --events (which runs SHOW EVENTS in every
// database) find none, where GMS refused them for a database that is not a
// sql.EventDatabase (planbuilder/show.go: 1105 "doesn't support events", which stopped
// mysqldump --events). Creating or altering an event is refused with MySQL's
// ER_NOT_SUPPORTED_YET.

// erNotSupportedYet is MySQL's ER_NOT_SUPPORTED_YET.
const erNotSupportedYet = 1235

var _ sql.EventDatabase = (*Database)(nil)

func eventsNotSupported(what string) error {
	return mysql.NewSQLError(erNotSupportedYet, "42000", "This version of MySQL doesn't yet support '%s'", what)
}

// GetEvent implements sql.EventDatabase: there are none.
func (d *Database) GetEvent(*sql.Context, string) (sql.EventDefinition, bool, error) {
	return sql.EventDefinition{}, false, nil
}

// GetEvents implements sql.EventDatabase: there are none.
func (d *Database) GetEvents(*sql.Context) ([]sql.EventDefinition, interface{}, error) {
	return nil, nil, nil
}

// SaveEvent implements sql.EventDatabase: refused.
func (d *Database) SaveEvent(*sql.Context, sql.EventDefinition) (bool, error) {
	return false, eventsNotSupported("events")
}

// DropEvent implements sql.EventDatabase: no event exists.
func (d *Database) DropEvent(_ *sql.Context, name string) error {
	return sql.ErrEventDoesNotExist.New(name)
}

// UpdateEvent implements sql.EventDatabase: refused.
func (d *Database) UpdateEvent(*sql.Context, string, sql.EventDefinition) (bool, error) {
	return false, eventsNotSupported("events")
}

// UpdateLastExecuted implements sql.EventDatabase: no event runs.
func (d *Database) UpdateLastExecuted(*sql.Context, string, time.Time) error { return nil }

// NeedsToReloadEvents implements sql.EventDatabase.
func (d *Database) NeedsToReloadEvents(*sql.Context, interface{}) (bool, error) { return false, nil }
