package sqlstore

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"

	"strata/internal/engine"
	"strata/internal/page"
)

// Transaction is GMS's handle on an engine transaction.
type Transaction struct {
	sess       *Session
	kv         *engine.Txn
	ro         bool
	temp       bool // a read-only transaction made for a call that had none
	done       bool
	autocommit bool // began under autocommit (a single statement unless START TRANSACTION follows)
	savepoints []savepoint
	onCommit   []func()
	opts       engine.TxnOptions
	// parent is set on a handle that joins a statement already running in this session (a
	// stored procedure called from a trigger): committing or rolling back the handle does
	// nothing, the running statement's transaction decides.
	parent *Transaction
}

// root returns the transaction a joining handle belongs to.
func (t *Transaction) root() *Transaction {
	for t.parent != nil {
		t = t.parent
	}
	return t
}

// sqlErr maps err for the client; a deadlock rolls the whole transaction back, as InnoDB
// does, and the session goes on in a new one.
func (t *Transaction) sqlErr(err error) error {
	if isDeadlock(err) && !t.done {
		t.kv.Rollback()
		t.savepoints = nil
		t.onCommit = nil
		if kv, berr := t.sess.store.db.Begin(t.opts); berr == nil {
			t.kv = kv
		} else {
			t.done = true
		}
	}
	return sqlError(err)
}

type savepoint struct {
	name string
	sp   engine.Savepoint
}

var _ sql.Transaction = (*Transaction)(nil)

func (t *Transaction) String() string { return fmt.Sprintf("strata txn %d", t.kv.ID()) }

// IsReadOnly implements sql.Transaction.
func (t *Transaction) IsReadOnly() bool { return t.ro }

// Session is a client session: GMS's base session plus the open engine transaction.
type Session struct {
	*sql.BaseSession
	store *Store
	cur   *Transaction
	temp  map[tempKey]*tableRecord // temporary tables
	guard *guardConn               // the connection's, or nil (LOAD DATA LOCAL, loaddata.go)
	// oneShot holds what a SET TRANSACTION without scope changed for the next transaction
	// only (readonly.go).
	oneShot *oneShot
	// readWritePid is the statement (process id) of the last START TRANSACTION READ WRITE.
	readWritePid uint64

	// planGen changes whenever something a prepared plan template depends on changes in the
	// session: variables, the current database, temporary tables, the user.
	planGen atomic.Uint64
	pending atomic.Pointer[pendingPlan] // a template plan about to run (prepared.go)
	// ignorePid is the statement (process id) of the last INSERT IGNORE or UPDATE IGNORE
	// (errcodes_data.go notes it; declared.go reads it).
	ignorePid atomic.Uint64
	// lastCommit is the end of the last commit made in this session (STRATA_LAST_COMMIT_LSN).
	lastCommit atomic.Uint64
}

// noteCommit records a commit of the session that ended at end.
func (s *Session) noteCommit(end page.LSN) {
	for {
		cur := s.lastCommit.Load()
		if uint64(end) <= cur || s.lastCommit.CompareAndSwap(cur, uint64(end)) {
			return
		}
	}
}

// SetSessionVariable implements sql.Session.
func (s *Session) SetSessionVariable(ctx *sql.Context, name string, value interface{}) error {
	s.planGen.Add(1)
	return s.BaseSession.SetSessionVariable(ctx, name, value)
}

// InitSessionVariable implements sql.Session.
func (s *Session) InitSessionVariable(ctx *sql.Context, name string, value interface{}) error {
	s.planGen.Add(1)
	return s.BaseSession.InitSessionVariable(ctx, name, value)
}

// SetUserVariable implements sql.Session.
func (s *Session) SetUserVariable(ctx *sql.Context, name string, value interface{}, typ sql.Type) error {
	s.planGen.Add(1)
	return s.BaseSession.SetUserVariable(ctx, name, value, typ)
}

// SetCurrentDatabase implements sql.Session.
func (s *Session) SetCurrentDatabase(name string) {
	s.planGen.Add(1)
	s.BaseSession.SetCurrentDatabase(name)
}

// SetClient implements sql.Session.
func (s *Session) SetClient(c sql.Client) {
	s.planGen.Add(1)
	s.BaseSession.SetClient(c)
}

var (
	_ sql.TransactionSession    = (*Session)(nil)
	_ sql.LifecycleAwareSession = (*Session)(nil)
)

// NewSession returns a session over base.
func (s *Store) NewSession(base *sql.BaseSession) *Session {
	return &Session{BaseSession: base, store: s}
}

// StartTransaction implements sql.TransactionSession. A statement run inside an explicit
// transaction (as the statements of a stored procedure are) joins it.
func (s *Session) StartTransaction(ctx *sql.Context, char sql.TransactionCharacteristic) (sql.Transaction, error) {
	autocommit, err := plan.IsSessionAutocommit(ctx)
	if err != nil {
		return nil, err
	}
	if s.cur != nil && !s.cur.done {
		if ctx.GetIgnoreAutoCommit() || !autocommit {
			return s.cur, nil
		}
		if s.cur.kv.InStatement() || s.cur.kv.Writes() > 0 {
			// A statement is running (GMS starts a transaction for each statement of a
			// procedure that a trigger calls): join it.
			return &Transaction{sess: s, kv: s.cur.kv, ro: s.cur.ro, parent: s.cur, opts: s.cur.opts}, nil
		}
		s.cur.rollback() // left by a statement that failed before it ran
	}
	s.beginOneShot(ctx) // readonly.go
	opts := engine.TxnOptions{Isolation: isolationOf(ctx), LockWaitTimeout: lockWaitOf(ctx)}
	kv, err := s.store.db.Begin(opts)
	if err != nil {
		return nil, err
	}
	t := &Transaction{sess: s, kv: kv, ro: s.readOnlyTxn(ctx, char), autocommit: autocommit && !ctx.GetIgnoreAutoCommit(), opts: opts}
	s.cur = t
	return t, nil
}

func isolationOf(ctx *sql.Context) engine.Isolation {
	v, err := ctx.GetSessionVariable(ctx, "transaction_isolation")
	if err == nil {
		if s, ok := v.(string); ok && strings.EqualFold(s, "READ-COMMITTED") || strings.EqualFold(fmt.Sprint(v), "READ-UNCOMMITTED") {
			return engine.ReadCommitted
		}
	}
	return engine.RepeatableRead
}

func lockWaitOf(ctx *sql.Context) time.Duration {
	v, err := ctx.GetSessionVariable(ctx, "innodb_lock_wait_timeout")
	if err != nil {
		return 0
	}
	if n, ok := toUint(v); ok && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}

func (t *Transaction) rollback() {
	if t.done || t.parent != nil {
		return
	}
	t.done = true
	t.kv.Rollback()
	if t.sess != nil && t.sess.cur == t {
		t.sess.cur = nil
	}
}

// txnOf returns the transaction behind a GMS handle.
func txnOf(tx sql.Transaction) (*Transaction, error) {
	t, ok := tx.(*Transaction)
	if !ok || t == nil {
		return nil, fmt.Errorf("sqlstore: not a strata transaction: %T", tx)
	}
	return t, nil
}

// CommitTransaction implements sql.TransactionSession.
func (s *Session) CommitTransaction(ctx *sql.Context, tx sql.Transaction) error {
	t, err := txnOf(tx)
	if err != nil {
		return err
	}
	if t.done || t.parent != nil {
		return nil
	}
	t.done = true
	if s.cur == t {
		s.cur = nil
	}
	ddl := t.kv.WroteTree(s.store.sys)
	wrote := t.kv.Wrote()
	var end page.LSN
	if ddl {
		end, err = s.store.commitCatalog(ctx, t.kv)
	} else {
		end, err = t.kv.Commit(ctx)
	}
	if err == nil && wrote {
		s.noteCommit(end)
	}
	if ddl {
		s.store.catalogWrites.Add(1) // cached catalog facts are stale now
	}
	if err != nil {
		// The transaction has ended (as a failed COMMIT ends it in MySQL): take it off the
		// session, which GMS does only after a successful commit, so that the next statement
		// starts a new one under the session's autocommit.
		if cur, ok := ctx.GetTransaction().(*Transaction); ok && cur == t {
			ctx.SetTransaction(nil)
			ctx.SetIgnoreAutoCommit(false)
		}
		return sqlError(err)
	}
	for _, fn := range t.onCommit {
		fn()
	}
	return nil
}

// Rollback implements sql.TransactionSession.
func (s *Session) Rollback(ctx *sql.Context, tx sql.Transaction) error {
	t, err := txnOf(tx)
	if err != nil {
		return err
	}
	t.rollback()
	return nil
}

// CreateSavepoint implements sql.TransactionSession.
func (s *Session) CreateSavepoint(ctx *sql.Context, tx sql.Transaction, name string) error {
	t, err := savepointOwner(tx)
	if err != nil {
		return err
	}
	for i, sp := range t.savepoints {
		if strings.EqualFold(sp.name, name) {
			t.savepoints = append(t.savepoints[:i], t.savepoints[i+1:]...)
			break
		}
	}
	t.savepoints = append(t.savepoints, savepoint{name: name, sp: t.kv.Savepoint()})
	return nil
}

// savepointOwner returns the transaction that owns the savepoints of a GMS handle: a joining
// handle's root.
func savepointOwner(tx sql.Transaction) (*Transaction, error) {
	t, err := txnOf(tx)
	if err != nil {
		return nil, err
	}
	return t.root(), nil
}

func (t *Transaction) findSavepoint(name string) int {
	for i := len(t.savepoints) - 1; i >= 0; i-- {
		if strings.EqualFold(t.savepoints[i].name, name) {
			return i
		}
	}
	return -1
}

// RollbackToSavepoint implements sql.TransactionSession: the savepoint stays, later ones go.
func (s *Session) RollbackToSavepoint(ctx *sql.Context, tx sql.Transaction, name string) error {
	t, err := savepointOwner(tx)
	if err != nil {
		return err
	}
	i := t.findSavepoint(name)
	if i < 0 {
		return sql.ErrSavepointDoesNotExist.New(name)
	}
	if err := t.kv.RollbackTo(t.savepoints[i].sp); err != nil {
		return sqlError(err)
	}
	t.savepoints = t.savepoints[:i+1]
	return nil
}

// ReleaseSavepoint implements sql.TransactionSession: the savepoint and later ones go.
func (s *Session) ReleaseSavepoint(ctx *sql.Context, tx sql.Transaction, name string) error {
	t, err := savepointOwner(tx)
	if err != nil {
		return err
	}
	i := t.findSavepoint(name)
	if i < 0 {
		return sql.ErrSavepointDoesNotExist.New(name)
	}
	t.savepoints = t.savepoints[:i]
	return nil
}

// CommandBegin implements sql.LifecycleAwareSession: under READ COMMITTED each statement
// reads a new snapshot.
func (s *Session) CommandBegin() error {
	if s.cur != nil && !s.cur.done {
		s.cur.kv.StartStatement()
	}
	return nil
}

// CommandEnd implements sql.LifecycleAwareSession. A statement that began its own
// transaction under autocommit and did not commit it (it failed) is rolled back, so that its
// locks and snapshot do not outlive it.
func (s *Session) CommandEnd() {
	if t := s.cur; t != nil && !t.done && t.autocommit && !s.GetIgnoreAutoCommit() {
		t.rollback()
		if cur, ok := s.GetTransaction().(*Transaction); ok && cur == t {
			s.SetTransaction(nil)
		}
	}
}

// SessionEnd implements sql.LifecycleAwareSession: a disconnect rolls back.
func (s *Session) SessionEnd() {
	if s.cur != nil {
		s.cur.rollback()
	}
	s.dropTempTables()
}
