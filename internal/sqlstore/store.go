// Package sqlstore provides go-mysql-server's storage backend over Strata's engine: databases,
// tables, rows, primary and secondary indexes, auto-increment, DDL, views, triggers and stored
// procedures, all kept in engine trees and changed inside engine transactions, and the session
// type through which GMS's transactions become engine transactions.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dolthub/go-mysql-server/sql"

	"strata/internal/engine"
	"strata/internal/page"
	"strata/internal/tuple"
)

// Store is the GMS database provider over an engine.
type Store struct {
	db  *engine.DB
	sys page.ID
	lg  *slog.Logger

	countersMu sync.Mutex
	counters   map[uint64]*counter // per table: auto-increment and hidden row IDs

	schemas     sync.Map // catalog record bytes -> *cachedSchema
	schemaCount atomic.Int64

	// catalogWrites counts catalog changes made in any transaction (committed or not); the
	// foreign key list is cached against it.
	catalogWrites atomic.Uint64
	fkMu          sync.Mutex
	fkGen         uint64
	fkCache       []sql.ForeignKeyConstraint
	fkValid       bool

	// catalogBusy counts catalog-changing commits in progress and catalogLSN is the end of
	// the last one that completed: prepared plan templates are checked against them (see
	// planGuard.templateValid).
	catalogBusy atomic.Int64
	catalogLSN  atomic.Uint64
	prep        preparedCounters

	// files is the file policy (secure_file_priv) of the newest engine over the store.
	files atomic.Pointer[filePolicy]

	dataErrs dataErrors // MySQL's wording of each connection's last data error (errcodes_data.go)

	replayMu sync.Mutex
	replayed []chan struct{} // account followers on a read-only node (users_replay.go)

	stats *statsProvider // index statistics for the optimiser (stats.go)
	decor *decorrelator  // grouped passes for correlated aggregates (decorrelate.go)

	uuidShorts *uuidShortSeq // UUID_SHORT()'s sequence (missingfuncs.go)

	// past is set on the store of a past view (asof.go): it reads only through transactions
	// of its own engine, never the session's, and changes nothing. pastv are the past views
	// open on a store that is not one.
	past      bool
	pastv     pastViews
	snapshots atomic.Pointer[SnapshotResolver] // AS OF 'NAME' (SetSnapshots)
}

// commitCatalog commits kv, which wrote the catalog, so that prepared plan templates notice.
func (s *Store) commitCatalog(ctx context.Context, kv *engine.Txn) (page.LSN, error) {
	s.catalogBusy.Add(1)
	defer s.catalogBusy.Add(-1)
	end, err := kv.Commit(ctx)
	if err != nil {
		// Whether it became visible is unknown: count everything visible as changed, and a
		// commit in doubt as changed from where it would become visible (the snapshots that
		// might see it).
		end = max(end, s.db.VisibleLSN())
	}
	for {
		cur := s.catalogLSN.Load()
		if uint64(end) <= cur || s.catalogLSN.CompareAndSwap(cur, uint64(end)) {
			break
		}
	}
	return end, err
}

// catalogReplayed is told by a following read-only engine that a replayed group changed the
// catalog, before view becomes visible: cached catalog facts (the foreign key list, prepared
// plan templates) are stale from view on, as after a catalogue commit here.
func (s *Store) catalogReplayed(view page.LSN) {
	s.catalogWrites.Add(1)
	for {
		cur := s.catalogLSN.Load()
		if uint64(view) <= cur || s.catalogLSN.CompareAndSwap(cur, uint64(view)) {
			break
		}
	}
	s.wakeReplayed()
}

// Open prepares the catalog tree and reclaims trees that no table references (left by a
// CREATE TABLE that rolled back or a DROP TABLE cut short by a crash).
func Open(ctx context.Context, db *engine.DB, lg *slog.Logger) (*Store, error) {
	if lg == nil {
		lg = slog.Default()
	}
	s := &Store{db: db, lg: lg, counters: map[uint64]*counter{}, uuidShorts: newUUIDShortSeq(1, time.Now())}
	s.stats = newStatsProvider(s)
	s.decor = newDecorrelator()
	var err error
	if s.sys, err = s.tree(ctx, sysTree); err != nil {
		return nil, err
	}
	if db.ReadOnly() {
		// A read-only engine that follows the log tells the store of the writer's catalog
		// changes as it replays them; the read-write node reclaims what no table uses.
		db.OnCatalogChange(s.catalogReplayed)
		if err := db.WatchTree(ctx, sysTree); err != nil {
			return nil, err
		}
		return s, nil
	}
	if err := s.reclaimTrees(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Engine returns the storage engine.
func (s *Store) Engine() *engine.DB { return s.db }

const tablePrefix = "sql/t/"

func (s *Store) reclaimTrees(ctx context.Context) error {
	txn, err := s.db.Begin(engine.TxnOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer txn.Rollback()
	used := map[string]bool{}
	c := catalog{store: s, txn: txn}
	err = c.list(ctx, sysKey("T"), func(b []byte) error {
		var rec tableRecord
		if err := jsonUnmarshal(b, &rec); err != nil {
			return err
		}
		used[rec.Tree] = true
		for _, ix := range rec.Indexes {
			used[ix.Tree] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range s.db.Trees() {
		if strings.HasPrefix(name, tablePrefix) && !used[name] {
			s.lg.Info("sqlstore: dropping a tree no table uses", "tree", name)
			if err := s.db.DropTree(ctx, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// txnOf returns the engine transaction of ctx's GMS transaction, or a read-only one at the
// latest snapshot (and a function to end it) when the statement has none, as during
// COM_STMT_PREPARE.
func (s *Store) txnOf(ctx *sql.Context) (*Transaction, func(), error) {
	if t, ok := ctx.GetTransaction().(*Transaction); ok && t != nil && !t.done && !s.past {
		return t, func() {}, nil
	}
	kv, err := s.db.Begin(engine.TxnOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	t := &Transaction{kv: kv, ro: true, temp: true}
	return t, kv.Rollback, nil
}

func (s *Store) cat(t *Transaction) catalog { return catalog{store: s, txn: t.kv} }

// Database implements sql.DatabaseProvider.
func (s *Store) Database(ctx *sql.Context, name string) (sql.Database, error) {
	if name == logTablesDB {
		return logDatabase{}, nil // mysql.general_log and slow_log (logtables.go)
	}
	t, done, err := s.txnOf(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	var rec dbRecord
	ok, err := s.cat(t).get(ctx, sysKey("D", name), &rec)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, sql.ErrDatabaseNotFound.New(name)
	}
	return &Database{s: s, rec: rec}, nil
}

// HasDatabase implements sql.DatabaseProvider.
func (s *Store) HasDatabase(ctx *sql.Context, name string) bool {
	_, err := s.Database(ctx, name)
	return err == nil
}

// AllDatabases implements sql.DatabaseProvider.
func (s *Store) AllDatabases(ctx *sql.Context) []sql.Database {
	t, done, err := s.txnOf(ctx)
	if err != nil {
		return nil
	}
	defer done()
	var out []sql.Database
	_ = s.cat(t).list(ctx, sysKey("D"), func(b []byte) error {
		var rec dbRecord
		if err := jsonUnmarshal(b, &rec); err != nil {
			return err
		}
		out = append(out, &Database{s: s, rec: rec})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name()) < strings.ToLower(out[j].Name()) })
	return out
}

// CreateDatabase implements sql.MutableDatabaseProvider.
func (s *Store) CreateDatabase(ctx *sql.Context, name string) error {
	return s.CreateCollatedDatabase(ctx, name, sql.Collation_Default)
}

// CreateCollatedDatabase implements sql.CollatedDatabaseProvider.
func (s *Store) CreateCollatedDatabase(ctx *sql.Context, name string, collation sql.CollationID) error {
	t, err := s.writeTxn(ctx)
	if err != nil {
		return err
	}
	c := s.cat(t)
	key := sysKey("D", name)
	var rec dbRecord
	if ok, err := c.lockedGet(ctx, key, &rec); err != nil {
		return sqlError(err)
	} else if ok {
		return sql.ErrDatabaseExists.New(name)
	}
	return sqlError(c.put(ctx, key, dbRecord{Name: name, Collation: uint16(collation)}))
}

// DropDatabase implements sql.MutableDatabaseProvider.
func (s *Store) DropDatabase(ctx *sql.Context, name string) error {
	t, err := s.writeTxn(ctx)
	if err != nil {
		return err
	}
	c := s.cat(t)
	key := sysKey("D", name)
	var rec dbRecord
	if ok, err := c.lockedGet(ctx, key, &rec); err != nil {
		return sqlError(err)
	} else if !ok {
		return sql.ErrDatabaseNotFound.New(name)
	}
	db := &Database{s: s, rec: rec}
	names, err := db.GetTableNames(ctx)
	if err != nil {
		return err
	}
	for _, tn := range names {
		if err := db.DropTable(ctx, tn); err != nil {
			return err
		}
	}
	for _, kind := range []string{"V", "R", "P"} {
		var keys [][]byte
		prefix := sysKey(kind, name)
		it := t.kv.Scan(ctx, s.sys, prefix, tuple.PrefixEnd(prefix), false)
		for it.Next() {
			keys = append(keys, append([]byte(nil), it.Key()...))
		}
		it.Close()
		for _, k := range keys {
			if err := c.del(ctx, k); err != nil {
				return sqlError(err)
			}
		}
	}
	return sqlError(c.del(ctx, key))
}

// writeTxn returns ctx's transaction for a change.
func (s *Store) writeTxn(ctx *sql.Context) (*Transaction, error) {
	if s.past {
		return nil, errAsOf("a table as of the past cannot be changed")
	}
	t, ok := ctx.GetTransaction().(*Transaction)
	if !ok || t == nil || t.done {
		return nil, errors.New("sqlstore: no transaction for a write")
	}
	return t, nil
}

var _ sql.CollatedDatabaseProvider = (*Store)(nil)

func errNotSupported(what string) error { return fmt.Errorf("sqlstore: %s is not supported", what) }
