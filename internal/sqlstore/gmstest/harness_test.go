package gmstest

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/dolthub/go-mysql-server/enginetest"
	"github.com/dolthub/go-mysql-server/enginetest/scriptgen/setup"
	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/sirupsen/logrus"

	"strata/internal/localdb"
	"strata/internal/sqlstore"
)

func TestMain(m *testing.M) {
	logrus.SetLevel(logrus.WarnLevel)
	flag.Parse()
	// Subtests that enginetest runs without asking SkipQueryTest are skipped by name, through
	// -test.skip (added to any pattern given on the command line).
	if pat := skipTestsPattern(); pat != "" && !noSkip {
		f := flag.Lookup("test.skip")
		if cur := f.Value.String(); cur != "" {
			pat = cur + "|" + pat
		}
		if err := f.Value.Set(pat); err != nil {
			fmt.Fprintln(os.Stderr, "gmstest: -test.skip:", err)
			os.Exit(2)
		}
	}
	code := m.Run()
	closeRecorder()
	os.Exit(code)
}

// noSkip (GMSTEST_NOSKIP=1) runs every test, skip list or not, to measure what fails now.
var noSkip = os.Getenv("GMSTEST_NOSKIP") != ""

// Harness runs GMS's enginetest suites against Strata: every engine is a fresh in-memory
// localdb under sqlstore, and every session is a sqlstore Session, so that transactions,
// savepoints and statement rollback are Strata's.
type Harness struct {
	t     *testing.T
	suite string
	skips map[string]string // lower-cased query or script name -> reason

	setupData []setup.SetupScript

	mu      sync.Mutex
	store   *sqlstore.Store
	session *sqlstore.Session
}

var (
	_ enginetest.Harness             = (*Harness)(nil)
	_ enginetest.SkippingHarness     = (*Harness)(nil)
	_ enginetest.TransactionHarness  = (*Harness)(nil)
	_ enginetest.ClientHarness       = (*Harness)(nil)
	_ enginetest.ServerHarness       = (*Harness)(nil)
	_ enginetest.KeylessTableHarness = (*Harness)(nil)
	_ enginetest.IndexHarness        = (*Harness)(nil)
	_ enginetest.ForeignKeyHarness   = (*Harness)(nil)
)

// newHarness returns a harness for one suite; it skips that suite's entries in skips.go.
func newHarness(t *testing.T, suite string) *Harness {
	h := &Harness{t: t, suite: suite, skips: map[string]string{}}
	for _, s := range Skips[suite] {
		h.skips[strings.ToLower(s.Query)] = s.Reason
	}
	for _, q := range SumAvgSkips[suite] {
		h.skips[strings.ToLower(q)] = sumAvgDecimal
	}
	for _, q := range ErrCodeSkips[suite] {
		h.skips[strings.ToLower(q)] = mysqlDupEntry
	}
	for _, s := range TypesSkips[suite] {
		h.skips[strings.ToLower(s.Query)] = s.Reason
	}
	return h
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var lockWaitOnce sync.Once

// newStore opens an empty in-memory localdb and a Store over it, closed when t ends (and
// earlier by close, which NewEngine hooks to the engine's Close).
func (h *Harness) newStore(t *testing.T) (*sqlstore.Store, *localdb.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := localdb.Open(ctx, localdb.Options{
		FS:            vfs.NewMem(),
		Dir:           "/strata",
		PoolFrames:    1024,
		PurgeInterval: 100 * time.Millisecond,
		Logger:        quiet,
	})
	if err != nil {
		t.Fatalf("localdb.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	st, err := sqlstore.Open(ctx, db.DB, quiet)
	if err != nil {
		t.Fatalf("sqlstore.Open: %v", err)
	}
	return st, db
}

// Setup implements enginetest.Harness.
func (h *Harness) Setup(scripts ...[]setup.SetupScript) {
	h.setupData = nil
	for _, s := range scripts {
		h.setupData = append(h.setupData, s...)
	}
}

// NewEngine implements enginetest.Harness: a fresh database each call, set up with the
// harness's scripts as enginetest.NewEngine does for the memory harness.
func (h *Harness) NewEngine(t *testing.T) (enginetest.QueryEngine, error) {
	if t == nil {
		t = h.t
	}
	st, db := h.newStore(t)
	// GMS's suites confine server-side files to the working directory (their
	// setSecureFilePriv); so does the harness.
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	// GMS's expected results (SHOW CREATE TABLE, information_schema, comparisons of string
	// literals) assume its default collation, utf8mb4_0900_bin; Strata's is MySQL's
	// utf8mb4_0900_ai_ci, so the harness names GMS's.
	eng, err := st.NewSQLEngineWith(context.Background(), sqlstore.EngineOptions{SecureFilePriv: wd, DefaultCollation: sql.Collation_utf8mb4_0900_bin})
	if err != nil {
		return nil, err
	}
	// GMS's own default for innodb_lock_wait_timeout is 1 s (sqlstore re-registers it with
	// MySQL's 50 s); a test that blocks on a lock should fail fast.
	lockWaitOnce.Do(func() {
		if err := sql.SystemVariables.SetGlobal(sql.NewEmptyContext(), "innodb_lock_wait_timeout", int64(1)); err != nil {
			t.Logf("set innodb_lock_wait_timeout: %v", err)
		}
	})
	// Close the database with the engine, so that a suite making hundreds of engines does not
	// keep them all open until it ends.
	_ = eng.BackgroundThreads.Add("close strata localdb", func(ctx context.Context) {
		<-ctx.Done()
		_ = db.Close()
	})

	h.mu.Lock()
	h.store = st
	h.session = nil
	h.mu.Unlock()

	data := h.setupData
	if len(data) == 0 {
		data = setup.MydbData
	}
	// Run the setup one statement at a time, so that a failure names its statement and a
	// statement in the skip list can be left out (as the memory harness leaves out CREATE
	// INDEX when indexes are not supported).
	ctx := enginetest.NewContext(h)
	for _, script := range data {
		for _, stmt := range script {
			if h.SkipQueryTest(stmt) {
				continue
			}
			if _, err := enginetest.RunSetupScripts(ctx, eng, []setup.SetupScript{{stmt}}, true); err != nil {
				return nil, fmt.Errorf("setup statement %q: %w", stmt, err)
			}
		}
	}
	// Tests start on a new session, as with the memory harness.
	h.mu.Lock()
	h.session = nil
	h.mu.Unlock()
	return eng, nil
}

func (h *Harness) currentStore() *sqlstore.Store {
	h.mu.Lock()
	st := h.store
	h.mu.Unlock()
	if st == nil {
		st, _ = h.newStore(h.t)
		h.mu.Lock()
		h.store = st
		h.mu.Unlock()
	}
	return st
}

// NewContext implements enginetest.Harness: a context on the current session.
func (h *Harness) NewContext() *sql.Context {
	st := h.currentStore()
	h.mu.Lock()
	if h.session == nil {
		h.session = st.NewSession(enginetest.NewBaseSession())
	}
	sess := h.session
	h.mu.Unlock()
	return sql.NewContext(context.Background(), sql.WithSession(sess))
}

// NewSession implements enginetest.TransactionHarness: a context on a new session over the
// same store, which becomes the current one.
func (h *Harness) NewSession() *sql.Context {
	st := h.currentStore()
	sess := st.NewSession(enginetest.NewBaseSession())
	h.mu.Lock()
	h.session = sess
	h.mu.Unlock()
	return sql.NewContext(context.Background(), sql.WithSession(sess))
}

// NewContextWithClient implements enginetest.ClientHarness.
func (h *Harness) NewContextWithClient(client sql.Client) *sql.Context {
	st := h.currentStore()
	base := sql.NewBaseSessionWithClientServer("address", client, 1)
	return sql.NewContext(context.Background(), sql.WithSession(st.NewSession(base)))
}

// SessionBuilder implements enginetest.ServerHarness.
func (h *Harness) SessionBuilder() server.SessionBuilder {
	st := h.currentStore()
	return func(ctx context.Context, c *mysql.Conn, addr string) (sql.Session, error) {
		return st.SessionBuilder()(ctx, c, addr)
	}
}

// SkipQueryTest implements enginetest.SkippingHarness.
func (h *Harness) SkipQueryTest(query string) bool {
	record(h.suite, query)
	if noSkip {
		return false
	}
	_, ok := h.skips[strings.ToLower(query)]
	return ok
}

// SupportsKeylessTables implements enginetest.KeylessTableHarness.
func (h *Harness) SupportsKeylessTables() bool { return true }

// SupportsNativeIndexCreation implements enginetest.IndexHarness.
func (h *Harness) SupportsNativeIndexCreation() bool { return true }

// SupportsForeignKeys implements enginetest.ForeignKeyHarness.
func (h *Harness) SupportsForeignKeys() bool { return true }

// The recorder writes every string the suites consult SkipQueryTest with, one JSON object a
// line, to $GMSTEST_RECORD, so that failing subtest names (which Go rewrites) can be mapped
// back to the exact query or script name for skips.go.
var (
	recMu   sync.Mutex
	recFile *os.File
)

func record(suite, query string) {
	path := os.Getenv("GMSTEST_RECORD")
	if path == "" {
		return
	}
	recMu.Lock()
	defer recMu.Unlock()
	if recFile == nil {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return
		}
		recFile = f
	}
	b, _ := json.Marshal(struct{ Suite, Query string }{suite, query})
	_, _ = recFile.Write(append(b, '\n'))
}

func closeRecorder() {
	recMu.Lock()
	defer recMu.Unlock()
	if recFile != nil {
		_ = recFile.Close()
		recFile = nil
	}
}

// skipTestsPattern turns SkipTests into a -test.skip pattern: one alternative per test, each
// level of its name matched exactly.
func skipTestsPattern() string {
	var alts []string
	for _, st := range SkipTests {
		levels := strings.Split(st.Test, "/")
		for i, l := range levels {
			levels[i] = "^" + regexp.QuoteMeta(l) + "$"
		}
		alts = append(alts, strings.Join(levels, "/"))
	}
	return strings.Join(alts, "|")
}
