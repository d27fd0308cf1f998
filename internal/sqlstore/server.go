package sqlstore

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"

	"strata/internal/engine"
)

// EngineOptions configure a GMS engine over the store.
type EngineOptions struct {
	// SecureFilePriv confines server-side file access (LOAD_FILE, INTO OUTFILE/DUMPFILE,
	// LOAD DATA INFILE) to a directory, created if missing; "" or FilesDisabled ("NULL")
	// refuses it. It is fixed for the engine's life, as MySQL's --secure-file-priv.
	SecureFilePriv string
	// DefaultCollation is the default of collation_server, collation_database and
	// collation_connection, and so the collation of a database created without one;
	// Collation_Unspecified means DefaultCollation (MySQL's utf8mb4_0900_ai_ci). GMS keeps
	// system variables per process: the first engine's choice holds for the process.
	DefaultCollation sql.CollationID
	// ReadOnly makes the engine a read-only node's: every statement that would change data,
	// schema, users or grants fails with MySQL's 1290 (ER_OPTION_PREVENTS_STATEMENT, as
	// MySQL's --read-only), temporary tables included, since they too would be written to
	// the shared storage; @@read_only and @@super_read_only are 1. Like the other system
	// variables, the last engine's value is the process's.
	ReadOnly bool
}

// NewSQLEngine returns a GMS engine over the store, with users and grants persisted in the
// catalog and server-side file access disabled. A new database gets root@localhost with no
// password.
func (s *Store) NewSQLEngine(ctx context.Context) (*sqle.Engine, error) {
	return s.NewSQLEngineWith(ctx, EngineOptions{})
}

// NewSQLEngineWith is NewSQLEngine with options.
func (s *Store) NewSQLEngineWith(ctx context.Context, o EngineOptions) (*sqle.Engine, error) {
	registerVariables()
	if o.DefaultCollation == sql.Collation_Unspecified {
		o.DefaultCollation = DefaultCollation
	}
	registerDefaultCollation(o.DefaultCollation)
	eng := sqle.NewDefault(s)
	eng.Analyzer.Catalog.StatsProvider = s.stats // stats.go: index histograms for the coster
	installLimits(eng)                           // limits.go: wraps the parser
	installPlanRules(eng)                        // planrules.go: index use GMS misses
	installNumericAggRule(eng)
	installDatabaseCollationRule(eng)
	installHelpTablesRule(eng)
	installTimeCastRule(eng)
	installTimestampDiffRule(eng)
	installCorrelatedLookups(eng) // correlated.go: subqueries read by the outer row's keys
	s.installInfoSchema(eng)      // infoschema.go
	installIntArithRule(eng)      // arith.go
	installOperationsRule(eng)    // arith.go: the same, before GMS folds constants
	installCaseTypeRule(eng)      // casetype.go
	installDecimalCastRule(eng)   // decimalcast.go
	installDecorrelate(eng)       // decorrelate.go: correlated aggregates from one grouped pass
	installBinaryChanges(eng)     // binarychanges.go: an UPDATE changing only case changes the row
	s.installLSNFuncs(eng)        // lsnfuncs.go: log positions for the proxy
	installStatusVars(eng)        // statusvars.go: Strata_* in SHOW STATUS
	mdb := eng.Analyzer.Catalog.MySQLDb
	files, err := newFilePolicy(o.SecureFilePriv, mdb)
	if err != nil {
		return nil, err
	}
	// GMS keeps system variables per process; the value shown is the last engine's, while
	// each engine enforces its own policy.
	if err := sql.SystemVariables.AssignValues(map[string]any{"secure_file_priv": files.value()}); err != nil {
		return nil, fmt.Errorf("sqlstore: secure_file_priv: %w", err)
	}
	s.files.Store(files)
	ro := int8(0)
	if o.ReadOnly {
		ro = 1
	}
	if err := sql.SystemVariables.AssignValues(map[string]any{"read_only": ro, "super_read_only": ro}); err != nil {
		return nil, fmt.Errorf("sqlstore: read_only: %w", err)
	}
	eng.ReadOnly.Store(o.ReadOnly)
	installExecGuards(eng, files, copyDeclaredGuard{s: s}, s.dataErrorGuard(eng))
	mdb.SetPersister(&usersPersister{s: s})
	blob, err := s.loadUsers(ctx)
	if err != nil {
		return nil, err
	}
	if len(blob) > 0 {
		sctx := sql.NewContext(ctx)
		if err := mdb.LoadData(sctx, blob); err != nil {
			return nil, fmt.Errorf("sqlstore: load users: %w", err)
		}
		mdb.SetEnabled(true)
	} else {
		mdb.AddRootAccount()
	}
	if s.db.ReadOnly() {
		s.followUsers(mdb, blob)
	}
	return eng, nil
}

var usersKey = sysKey("M")

func (s *Store) loadUsers(ctx context.Context) ([]byte, error) {
	txn, err := s.db.Begin(engine.TxnOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer txn.Rollback()
	b, _, err := txn.Get(ctx, s.sys, usersKey)
	return b, err
}

// usersPersister keeps GMS's users, roles and grants in the catalog tree, committed at once
// (account statements are not transactional in GMS).
type usersPersister struct{ s *Store }

func (p *usersPersister) Persist(ctx *sql.Context, data []byte) error {
	txn, err := p.s.db.Begin(engine.TxnOptions{})
	if err != nil {
		return err
	}
	if err := txn.Put(ctx, p.s.sys, usersKey, data); err != nil {
		txn.Rollback()
		return sqlError(err)
	}
	end, err := p.s.commitCatalog(ctx, txn)
	if sess, ok := ctx.Session.(*Session); ok && err == nil {
		sess.noteCommit(end)
	}
	return sqlError(err)
}

// SessionBuilder returns the GMS session builder that gives each connection a Session.
func (s *Store) SessionBuilder() server.SessionBuilder {
	return func(ctx context.Context, c *mysql.Conn, addr string) (sql.Session, error) {
		host, user := "", ""
		if u, ok := c.UserData.(sql.MysqlConnectionUser); ok {
			host, user = u.Host, u.User
		}
		client := sql.Client{Address: host, User: user, Capabilities: c.Capabilities}
		sess := s.NewSession(sql.NewBaseSessionWithClientServer(addr, client, c.ConnectionID))
		if err := applyHandshakeCollation(sess, c); err != nil {
			return nil, err
		}
		if err := applyTLSStatus(sess, c); err != nil {
			return nil, err
		}
		sess.guard = guardOf(c)
		return sess, nil
	}
}

// ServeOptions configure a server.
type ServeOptions struct {
	TLS        *tls.Config // nil: no TLS
	RequireTLS bool        // refuse connections without TLS
	// NoPlanCache runs every prepared statement execution through GMS's normal path
	// (binding and analysis each time) instead of reusing analysed plans (prepared.go).
	// STRATA_PLAN_CACHE=off in the environment does the same, for A/B measurements.
	NoPlanCache bool
	// Observe, when set, is told of every statement clients run (metrics).
	Observe StatementObserver
	// ProxySecret, the cluster secret, lets the Strata proxy log in for its clients
	// (proxyauth.go); "" refuses such logins.
	ProxySecret string
	// Drain, when set, lets its owner stop the server taking statements before closing it
	// (drain.go).
	Drain *Drain
}

// Serve starts a MySQL server for eng on l and returns it; Close stops it.
func (s *Store) Serve(eng *sqle.Engine, l net.Listener) (*server.Server, error) {
	return s.ServeWith(eng, l, ServeOptions{})
}

// ServeWith is Serve with options.
func (s *Store) ServeWith(eng *sqle.Engine, l net.Listener, o ServeOptions) (*server.Server, error) {
	cfg := server.Config{Protocol: "tcp", Address: l.Addr().String(), Listener: l, Version: ServerVersion,
		TLSConfig: o.TLS, RequireSecureTransport: o.RequireTLS}
	wrap := func(h mysql.Handler) (mysql.Handler, error) { return h, nil }
	var srv *server.Server
	if !o.NoPlanCache && os.Getenv("STRATA_PLAN_CACHE") != "off" {
		wrap = s.installPreparedPlans(eng, func() *server.SessionManager { return srv.SessionManager() })
	}
	wrap = withInterruptErrors(eng, wrap)    // interrupts.go
	wrap = s.withErrorCodes(eng, wrap, &srv) // errcodes.go
	if o.Observe != nil {
		wrap = withObserver(o.Observe, wrap) // observe.go
	}
	wrap, cfg.ProtocolListenerFactory = s.guardProtocol(wrap, l, o.TLS != nil, o.ProxySecret, eng.ProcessList.Kill, o.Drain) // listener.go
	srv, err := server.NewServerWithHandler(cfg, eng, sql.NewContext, s.SessionBuilder(), nil, wrap)
	if err != nil {
		return nil, err
	}
	go func() {
		if err := srv.Start(); err != nil {
			s.lg.Info("sqlstore: server stopped", "err", err)
		}
	}()
	return srv, nil
}
