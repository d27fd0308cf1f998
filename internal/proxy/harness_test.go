package proxy

import (
	"context"
	gosql "database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	gmssql "github.com/dolthub/go-mysql-server/sql"
	"github.com/go-sql-driver/mysql"
	"github.com/sirupsen/logrus"

	"strata/internal/engine"
	"strata/internal/localdb"
	"strata/internal/page"
	"strata/internal/proxy/route"
	"strata/internal/sqlstore"
	"strata/internal/storage"
)

const testSecret = "test-cluster-secret"

func quiet() *slog.Logger {
	if os.Getenv("PROXY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// backend is an in-process compute node.
type backend struct {
	addr string
	db   *engine.DB
	ldb  *localdb.DB // the RW's
	stop func()
	// drain drains its SQL server (as a writer handing over in a switchover).
	drain *sqlstore.Drain
}

// startRW starts a read-write node in dir that accepts the proxy's logins.
func startRW(t testing.TB, dir string) *backend {
	t.Helper()
	ctx := context.Background()
	ldb, err := localdb.Open(ctx, localdb.Options{Dir: dir, Logger: quiet(), LockWaitTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := serveSQL(t, ldb.DB, false, func() { ldb.Close() })
	b.ldb = ldb
	return b
}

// localFollow is the one-process log as a follower reads it.
type localFollow struct {
	storage.LogReader
	groupEnd func() page.LSN
}

func (l localFollow) GroupEnd() page.LSN { return l.groupEnd() }

// startRO starts a read-only node following rw's log.
func startRO(t *testing.T, rw *backend) *backend {
	t.Helper()
	ctx := context.Background()
	roDB, err := engine.OpenReadOnly(ctx, engine.ReadOnlyOptions{Pages: rw.ldb.Pages, View: rw.db.VisibleLSN(),
		Follow: localFollow{LogReader: rw.ldb.Log, groupEnd: rw.db.VisibleLSN}, PoolFrames: 64, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = gmssql.SystemVariables.AssignValues(map[string]any{"read_only": int8(0), "super_read_only": int8(0)})
	})
	return serveSQL(t, roDB, true, func() { roDB.Close() })
}

func serveSQL(t testing.TB, db *engine.DB, readOnly bool, closeDB func()) *backend {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, db, quiet())
	if err != nil {
		t.Fatal(err)
	}
	eng, err := st.NewSQLEngineWith(ctx, sqlstore.EngineOptions{ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &trackListener{Listener: nl}
	drain := &sqlstore.Drain{}
	srv, err := st.ServeWith(eng, l, sqlstore.ServeOptions{ProxySecret: testSecret, Drain: drain})
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{addr: l.Addr().String(), db: db, drain: drain}
	stopped := false
	b.stop = func() {
		if !stopped {
			stopped = true
			srv.Close()
			l.closeAll() // as a process that exits: its connections end
			closeDB()
		}
	}
	t.Cleanup(b.stop)
	return b
}

// trackListener remembers the connections it accepted, to close them as a dying node would.
type trackListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
}

func TestMain(m *testing.M) {
	logrus.SetLevel(logrus.WarnLevel)
	os.Exit(m.Run())
}

// startProxy starts a proxy over disc.
func startProxy(t testing.TB, disc Discovery, tweak func(*Options)) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Discovery: disc, Secret: testSecret, PollInterval: 20 * time.Millisecond, BackendWait: 2 * time.Second,
		LSNWait: 2 * time.Second, Logger: quiet(), Consistency: route.SessionConsistency}
	if tweak != nil {
		tweak(&o)
	}
	s, err := Listen(context.Background(), l, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// open opens a database/sql handle on the proxy as user:password.
func open(t *testing.T, addr, user, password, db string, params ...string) *gosql.DB {
	t.Helper()
	dsn := fmt.Sprintf("%s:%s@tcp(%s)/%s?timeout=5s&readTimeout=30s&writeTimeout=30s", user, password, addr, db)
	if len(params) > 0 {
		dsn += "&" + strings.Join(params, "&")
	}
	c, err := gosql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// conn is one connection of d, so that a session's statements share it.
func conn(t *testing.T, d *gosql.DB) *gosql.Conn {
	t.Helper()
	c, err := d.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type execer interface {
	ExecContext(context.Context, string, ...any) (gosql.Result, error)
	QueryContext(context.Context, string, ...any) (*gosql.Rows, error)
}

func mustExec(t *testing.T, db execer, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// rows runs q and returns its rows as "a,b c,d".
func rows(t *testing.T, db execer, q string, args ...any) string {
	t.Helper()
	rs, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out []string
	for rs.Next() {
		vals := make([]gosql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var f []string
		for _, v := range vals {
			if v.Valid {
				f = append(f, v.String)
			} else {
				f = append(f, "NULL")
			}
		}
		out = append(out, strings.Join(f, ","))
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return strings.Join(out, " ")
}

// errCode is the MySQL error number of err (0 if none).
func errCode(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// counter reads a proxy counter before and after f.
func delta(c interface{ Load() int64 }, f func()) int64 {
	before := c.Load()
	f()
	return c.Load() - before
}

// single is a discovery of one RW.
func single(b *backend) *StaticDiscovery {
	d := &StaticDiscovery{}
	d.Set(Topology{RW: &Node{ID: "rw", Addr: b.addr, Epoch: 1}})
	return d
}
