package sqlstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/planbuilder"

	"strata/internal/engine"
	"strata/internal/lock"
	"strata/internal/page"
	"strata/internal/tuple"
)

// The SQL catalog lives in one engine tree, sysTree, as rows like any other: it is read at a
// transaction's snapshot and written in its write set, so DDL is redo-logged, atomic with the
// statement, and visible to other sessions only when committed. Keys are tuples:
//
//	("D", db)            database record
//	("T", db, table)     table record: schema, indexes, trees
//	("V"|"R"|"P", db, name)  view, trigger, stored procedure
//	("S")                sequence for table and index IDs
//
// Names in keys are lower-cased (MySQL names are case-insensitive); records keep the case.
const sysTree = "sql/catalog"

func sysKey(kind string, names ...string) []byte {
	k := tuple.AppendString(nil, kind)
	for _, n := range names {
		k = tuple.AppendString(k, strings.ToLower(n))
	}
	return k
}

type dbRecord struct {
	Name      string `json:"name"`
	Collation uint16 `json:"collation,omitempty"`
}

type colRecord struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	Nullable      bool   `json:"nullable,omitempty"`
	Default       string `json:"default,omitempty"`
	Generated     string `json:"generated,omitempty"`
	OnUpdate      string `json:"on_update,omitempty"`
	AutoIncrement bool   `json:"auto_increment,omitempty"`
	PrimaryKey    bool   `json:"primary_key,omitempty"`
	Virtual       bool   `json:"virtual,omitempty"`
	Comment       string `json:"comment,omitempty"`
	Extra         string `json:"extra,omitempty"`
}

type indexRecord struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Lengths []uint16 `json:"lengths,omitempty"`
	Unique  bool     `json:"unique,omitempty"`
	Comment string   `json:"comment,omitempty"`
	Tree    string   `json:"tree"`
}

type tableRecord struct {
	Name      string                     `json:"name"`
	ID        uint64                     `json:"id"`
	Columns   []colRecord                `json:"columns"`
	PK        []int                      `json:"pk,omitempty"` // column ordinals; none: hidden row ID
	Indexes   []indexRecord              `json:"indexes,omitempty"`
	Tree      string                     `json:"tree"`
	Collation uint16                     `json:"collation,omitempty"`
	Comment   string                     `json:"comment,omitempty"`
	Checks    []sql.CheckDefinition      `json:"checks,omitempty"`
	FKs       []sql.ForeignKeyConstraint `json:"fks,omitempty"`
	AutoInc   uint64                     `json:"auto_increment,omitempty"` // set by AUTO_INCREMENT=N
	Temporary bool                       `json:"-"`                        // a session's temporary table
}

// catalog reads and writes catalog records inside a transaction.
type catalog struct {
	store *Store
	txn   *engine.Txn
}

func (c catalog) get(ctx context.Context, key []byte, v any) (bool, error) {
	b, ok, err := c.txn.Get(ctx, c.store.sys, key)
	if err != nil || !ok {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("sqlstore: catalog record %x: %w", key, err)
	}
	return true, nil
}

// lockedGet locks key exclusively and reads its newest committed version: DDL on one object
// is serialised, and never works from a stale definition.
func (c catalog) lockedGet(ctx context.Context, key []byte, v any) (bool, error) {
	b, ok, err := c.txn.GetForUpdate(ctx, c.store.sys, key, lock.Exclusive)
	if err != nil || !ok {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("sqlstore: catalog record %x: %w", key, err)
	}
	return true, nil
}

func (c catalog) put(ctx context.Context, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.txn.Put(ctx, c.store.sys, key, b)
}

func (c catalog) del(ctx context.Context, key []byte) error {
	return c.txn.Delete(ctx, c.store.sys, key)
}

// list returns the records under a key prefix, decoded by fn.
func (c catalog) list(ctx context.Context, prefix []byte, fn func(b []byte) error) error {
	it := c.txn.Scan(ctx, c.store.sys, prefix, tuple.PrefixEnd(prefix), false)
	defer it.Close()
	for it.Next() {
		if err := fn(it.Value()); err != nil {
			return err
		}
	}
	return it.Err()
}

// nextID returns a new ID for a table or index tree, under a lock on the sequence.
func (c catalog) nextID(ctx context.Context) (uint64, error) {
	key := sysKey("S")
	b, ok, err := c.txn.GetForUpdate(ctx, c.store.sys, key, lock.Exclusive)
	if err != nil {
		return 0, err
	}
	id := uint64(1)
	if ok && len(b) == 8 {
		id = binary.BigEndian.Uint64(b)
	}
	if err := c.txn.Put(ctx, c.store.sys, key, binary.BigEndian.AppendUint64(nil, id+1)); err != nil {
		return 0, err
	}
	return id, nil
}

// tree returns the root of a named engine tree, creating it if needed. Trees are created
// outside the transaction (an aborted CREATE TABLE leaves an empty tree that Store.Open
// reclaims).
func (s *Store) tree(ctx context.Context, name string) (page.ID, error) {
	if id, err := s.db.Tree(name); err == nil {
		return id, nil
	}
	id, err := s.db.CreateTree(ctx, name)
	if err != nil {
		if id, err2 := s.db.Tree(name); err2 == nil {
			return id, nil
		}
		return 0, err
	}
	return id, nil
}

// schemaOf builds the GMS schema of a table record.
func schemaOf(rec *tableRecord) (sql.PrimaryKeySchema, error) {
	sch := make(sql.Schema, len(rec.Columns))
	for i, c := range rec.Columns {
		typ, err := planbuilder.ParseColumnTypeString(c.Type)
		if err != nil {
			return sql.PrimaryKeySchema{}, fmt.Errorf("sqlstore: table %s column %s type %q: %w", rec.Name, c.Name, c.Type, err)
		}
		col := &sql.Column{
			Name: c.Name, Type: typ, Nullable: c.Nullable, Source: rec.Name, PrimaryKey: c.PrimaryKey,
			AutoIncrement: c.AutoIncrement, Comment: c.Comment, Extra: c.Extra, Virtual: c.Virtual,
		}
		if c.Default != "" {
			col.Default = sql.NewUnresolvedColumnDefaultValue(c.Default)
		}
		if c.Generated != "" {
			col.Generated = sql.NewUnresolvedColumnDefaultValue(c.Generated)
		}
		if c.OnUpdate != "" {
			col.OnUpdate = sql.NewUnresolvedColumnDefaultValue(c.OnUpdate)
		}
		sch[i] = col
	}
	return sql.NewPrimaryKeySchema(sch, rec.PK...), nil
}

// columnRecord describes a GMS column for the catalog.
func columnRecord(c *sql.Column) colRecord {
	r := colRecord{Name: c.Name, Type: typeString(c.Type), Nullable: c.Nullable, AutoIncrement: c.AutoIncrement,
		PrimaryKey: c.PrimaryKey, Virtual: c.Virtual, Comment: c.Comment, Extra: c.Extra}
	if c.Default != nil {
		r.Default = c.Default.String()
	}
	if c.Generated != nil {
		r.Generated = c.Generated.String()
	}
	if c.OnUpdate != nil {
		r.OnUpdate = c.OnUpdate.String()
	}
	return r
}

// typeString is a type's SQL text with its collation spelled out: GMS leaves the table's
// default collation implicit, and a type parsed back without it has none.
func typeString(t sql.Type) string {
	s := sqlTypeString(t) // showcreate.go
	if strings.Contains(strings.ToLower(s), " collate ") {
		return s
	}
	if ct, ok := t.(sql.TypeWithCollation); ok {
		if coll := ct.Collation(); coll != sql.Collation_Unspecified && coll != sql.Collation_binary {
			return s + " COLLATE " + coll.Name()
		}
	}
	return s
}
