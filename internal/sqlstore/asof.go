package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"strata/internal/engine"
	"strata/internal/page"
	"strata/internal/storage"
)

// Time travel: `SELECT … FROM t AS OF TIMESTAMP '2026-12-06 10:00:00'` (or any expression
// GMS accepts after AS OF that gives a date and time, read in the session's time zone, or
// `AS OF <lsn>`, a log position such as STRATA_LAST_COMMIT_LSN() returns) reads t as it was
// then. The time is mapped to the log position of the last commit at or before it by the
// Page Stores' time index (engine.DB.LSNAt), and the table is read from a past view: a
// read-only engine over the same Page Stores at that position (engine.DB.OpenPast), so a
// table dropped or altered since reads as it was. Past views are shared by the statements
// that ask for the same position and closed once idle (pastIdle). docs/history.md.

// pastIdle is how long a past view stays open after its last use.
const pastIdle = 30 * time.Second

// maxPastViews bounds the past views open at once; pastFrames is each one's buffer pool.
const (
	maxPastViews = 8
	pastFrames   = 256 // 4 MiB
)

// erWrongArguments is MySQL's ER_WRONG_ARGUMENTS ("Incorrect arguments to %s").
const erWrongArguments = 1210

// errAsOf is the error a client gets for an AS OF it cannot read.
func errAsOf(format string, args ...any) error {
	return mysql.NewSQLError(erWrongArguments, mysql.SSUnknownSQLState, "Incorrect arguments to AS OF: %s", fmt.Sprintf(format, args...))
}

// SnapshotResolver finds a snapshot's log position by name (false: no such snapshot).
type SnapshotResolver func(ctx context.Context, name string) (page.LSN, bool, error)

// SetSnapshots sets how AS OF 'NAME' finds a snapshot (nil: no snapshots here).
func (s *Store) SetSnapshots(r SnapshotResolver) { s.snapshots.Store(&r) }

// pastView is the database as of one log position.
type pastView struct {
	lsn   page.LSN
	db    *engine.DB
	store *Store
	used  time.Time // under pastViews.mu
}

// pastViews are the past views open on a store.
type pastViews struct {
	mu    sync.Mutex
	views map[page.LSN]*pastView
	timer *time.Timer
}

// pastAt returns the store that reads the database as of asOf, the value GMS evaluated
// after AS OF (a string or a time).
func (s *Store) pastAt(ctx *sql.Context, asOf any) (*Store, error) {
	if s.past {
		return s, nil // a table of a past view that GMS resolves again
	}
	lsn, err := s.resolveAsOf(ctx, asOf)
	if err != nil {
		return nil, err
	}
	return s.pastView(ctx, lsn)
}

var lsnForm = regexp.MustCompile(`^\s*[0-9]+\s*$`)

// resolveAsOf maps an AS OF value to a log position.
func (s *Store) resolveAsOf(ctx *sql.Context, asOf any) (page.LSN, error) {
	if str, ok := asOf.(string); ok && lsnForm.MatchString(str) {
		n, err := strconv.ParseUint(strings.TrimSpace(str), 10, 64)
		if err != nil {
			return 0, errAsOf("%q is not a log position", str)
		}
		return s.lsnAsOf(ctx, page.LSN(n))
	}
	at, err := asOfTime(ctx, asOf)
	if err != nil {
		if str, ok := asOf.(string); ok {
			if r := s.snapshots.Load(); r != nil && *r != nil {
				lsn, found, serr := (*r)(ctx, strings.TrimSpace(str))
				if serr != nil {
					return 0, errAsOf("%v", serr)
				}
				if found {
					// A snapshot's position is a commit's end that the Page Stores retain
					// as it is, whatever the time index still holds.
					if v := s.db.VisibleLSN(); lsn > v {
						return 0, errAsOf("snapshot %s at log position %d is beyond what is committed here (%d)", strings.TrimSpace(str), lsn, v)
					}
					return lsn, nil
				}
			}
		}
		return 0, err
	}
	now := time.Now()
	if at.After(now) {
		return 0, errAsOf("%s is in the future (now is %s)", fmtTime(at), fmtTime(now))
	}
	tp, err := s.db.LSNAt(ctx, at.UnixMicro())
	switch {
	case errors.Is(err, storage.ErrBeforeHistory):
		if tp.Oldest == 0 {
			return 0, errAsOf("%s is before the history window: no commit is kept yet", fmtTime(at))
		}
		return 0, errAsOf("%s is before the history window, which is from %s to now", fmtTime(at), fmtTime(time.UnixMicro(tp.Oldest)))
	case errors.Is(err, engine.ErrNoHistory):
		return 0, errAsOf("this server keeps no history")
	case err != nil:
		return 0, err
	}
	return tp.LSN, nil
}

// lsnAsOf checks a log position given in the LSN form.
func (s *Store) lsnAsOf(ctx context.Context, lsn page.LSN) (page.LSN, error) {
	if v := s.db.VisibleLSN(); lsn > v {
		return 0, errAsOf("log position %d is beyond what is committed here (%d)", lsn, v)
	}
	tp, err := s.db.CommitAtOrBefore(ctx, lsn)
	switch {
	case errors.Is(err, storage.ErrBeforeHistory):
		return 0, errAsOf("log position %d is before the history window", lsn)
	case errors.Is(err, engine.ErrNoHistory):
		return 0, errAsOf("this server keeps no history")
	case err != nil:
		return 0, err
	}
	return tp.LSN, nil
}

// asOfTime reads an AS OF value as a moment: a date and time in the session's time zone.
func asOfTime(ctx *sql.Context, asOf any) (time.Time, error) {
	v, _, err := types.DatetimeMaxPrecision.Convert(ctx, asOf)
	if err != nil || v == nil {
		return time.Time{}, errAsOf("%v is neither a date and time, a log position nor a snapshot", asOf)
	}
	wall := v.(time.Time) // the fields as written, in UTC
	tz, err := function.SessionTimeZone(ctx)
	if err != nil {
		return time.Time{}, err
	}
	loc, err := location(tz)
	if err != nil {
		return time.Time{}, errAsOf("time zone %q: %v", tz, err)
	}
	return time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), loc), nil
}

var offsetForm = regexp.MustCompile(`^([+-])(\d{1,2}):(\d{2})$`)

// location returns the time zone a session's time_zone names: an offset (+hh:mm), or a
// name of the system's zone database.
func location(tz string) (*time.Location, error) {
	if m := offsetForm.FindStringSubmatch(tz); m != nil {
		h, _ := strconv.Atoi(m[2])
		mi, _ := strconv.Atoi(m[3])
		off := h*3600 + mi*60
		if m[1] == "-" {
			off = -off
		}
		return time.FixedZone(tz, off), nil
	}
	return time.LoadLocation(tz)
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000 UTC") }

// pastView returns the store of the past view at lsn, opening it if needed.
func (s *Store) pastView(ctx context.Context, lsn page.LSN) (*Store, error) {
	p := &s.pastv
	p.mu.Lock()
	if v, ok := p.views[lsn]; ok {
		v.used = time.Now()
		p.mu.Unlock()
		return v.store, nil
	}
	p.mu.Unlock()
	db, err := s.db.OpenPast(ctx, lsn, pastFrames)
	if errors.Is(err, storage.ErrCompacted) {
		return nil, errAsOf("log position %d is before the history window", lsn)
	}
	if err != nil {
		return nil, err
	}
	store, err := openPast(db, s.lg)
	if err != nil {
		db.Close()
		if errors.Is(err, storage.ErrCompacted) {
			return nil, errAsOf("log position %d is before the history window", lsn)
		}
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.views[lsn]; ok { // opened meanwhile by another statement
		v.used = time.Now()
		db.Close()
		return v.store, nil
	}
	if p.views == nil {
		p.views = map[page.LSN]*pastView{}
	}
	p.views[lsn] = &pastView{lsn: lsn, db: db, store: store, used: time.Now()}
	s.sweepPastLocked(time.Now())
	return store, nil
}

// sweepPast closes the past views idle for pastIdle, and the least recently used beyond
// maxPastViews; it runs again while views are open.
func (s *Store) sweepPast() {
	s.pastv.mu.Lock()
	defer s.pastv.mu.Unlock()
	s.sweepPastLocked(time.Now())
}

func (s *Store) sweepPastLocked(now time.Time) {
	p := &s.pastv
	for lsn, v := range p.views {
		if now.Sub(v.used) >= pastIdle && !v.db.InUse() {
			delete(p.views, lsn)
			v.db.Close()
		}
	}
	for len(p.views) > maxPastViews {
		var lru *pastView
		for _, v := range p.views {
			if !v.db.InUse() && (lru == nil || v.used.Before(lru.used)) {
				lru = v
			}
		}
		if lru == nil {
			break // all in use: they close once idle
		}
		delete(p.views, lru.lsn)
		lru.db.Close()
	}
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if len(p.views) > 0 {
		p.timer = time.AfterFunc(pastIdle/2, s.sweepPast)
	}
}

// closePast closes every past view (the store is closing).
func (s *Store) closePast() {
	s.pastv.mu.Lock()
	defer s.pastv.mu.Unlock()
	for lsn, v := range s.pastv.views {
		delete(s.pastv.views, lsn)
		v.db.Close()
	}
	if s.pastv.timer != nil {
		s.pastv.timer.Stop()
		s.pastv.timer = nil
	}
}

// openPast opens the store of a past view's engine: read-only, its own catalog as of the
// view, no session transaction (every read is a transaction of the past engine).
func openPast(db *engine.DB, lg *slog.Logger) (*Store, error) {
	s := &Store{db: db, lg: lg, counters: map[uint64]*counter{}, past: true}
	s.stats = newStatsProvider(s)
	s.decor = newDecorrelator()
	id, err := db.Tree(sysTree)
	if err != nil {
		return nil, errAsOf("the position is before the database's catalog existed")
	}
	s.sys = id
	return s, nil
}

// GetTableInsensitiveAsOf implements sql.VersionedDatabase: the table as of asOf, from a
// past view.
func (d *Database) GetTableInsensitiveAsOf(ctx *sql.Context, name string, asOf any) (sql.Table, bool, error) {
	past, err := d.s.pastAt(ctx, asOf)
	if err != nil {
		return nil, false, err
	}
	pd, err := past.Database(ctx, d.rec.Name)
	if sql.ErrDatabaseNotFound.Is(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return pd.(*Database).GetTableInsensitive(ctx, name)
}

// GetTableNamesAsOf implements sql.VersionedDatabase.
func (d *Database) GetTableNamesAsOf(ctx *sql.Context, asOf any) ([]string, error) {
	past, err := d.s.pastAt(ctx, asOf)
	if err != nil {
		return nil, err
	}
	pd, err := past.Database(ctx, d.rec.Name)
	if sql.ErrDatabaseNotFound.Is(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return pd.(*Database).GetTableNames(ctx)
}

var _ sql.VersionedDatabase = (*Database)(nil)

// checkAsOfPlaceholder returns why a statement cannot be run, when an AS OF in it takes a
// placeholder: GMS evaluates the moment while it plans, and a prepared statement is planned
// before its parameters are known (with a bare `?` it would even fail on a nil expression).
func checkAsOfPlaceholder(query string, stmt ast.Statement) string {
	if !strings.Contains(strings.ToLower(query), "of") {
		return ""
	}
	found := false
	_ = ast.Walk(func(n ast.SQLNode) (bool, error) {
		t, ok := n.(*ast.AliasedTableExpr)
		if !ok || t.AsOf == nil {
			return !found, nil
		}
		for _, e := range []ast.Expr{t.AsOf.Time, t.AsOf.Start, t.AsOf.End} {
			if e == nil {
				continue
			}
			_ = ast.Walk(func(n ast.SQLNode) (bool, error) {
				if v, ok := n.(*ast.SQLVal); ok && v.Type == ast.ValArg {
					found = true
				}
				return !found, nil
			}, e)
		}
		return !found, nil
	}, stmt)
	if !found {
		return ""
	}
	return "a prepared statement cannot take the moment of AS OF as a parameter; write it in the statement"
}
