package sqlstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression/function"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
	"github.com/dolthub/vitess/go/mysql"
)

// Server-side file access: LOAD_FILE(), SELECT … INTO OUTFILE/DUMPFILE and LOAD DATA INFILE
// (without LOCAL) read and write files on the server as the server's user. As in MySQL, they
// require the FILE privilege and are confined to the secure_file_priv directory; with
// secure_file_priv NULL they are refused. LOAD DATA LOCAL INFILE reads the client's file and
// needs neither.

// FilesDisabled is the secure_file_priv value that disables server-side file access.
const FilesDisabled = "NULL"

// filePolicy is an engine's secure_file_priv: the real (symlink-free) path of the directory
// that server-side file access is confined to, or off.
type filePolicy struct {
	dir string // "" when disabled
	mdb *mysql_db.MySQLDb
}

// newFilePolicy prepares secure_file_priv: FilesDisabled (or "") refuses all server-side file
// access; a directory is created (0700) if missing and confines it.
func newFilePolicy(dir string, mdb *mysql_db.MySQLDb) (*filePolicy, error) {
	p := &filePolicy{mdb: mdb}
	if dir == "" || strings.EqualFold(dir, FilesDisabled) {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlstore: secure_file_priv: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: secure_file_priv: %w", err)
	}
	if p.dir, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("sqlstore: secure_file_priv: %w", err)
	}
	return p, nil
}

// value is what @@secure_file_priv shows: the directory with a trailing separator, as MySQL
// shows it, or NULL.
func (p *filePolicy) value() any {
	if p.dir == "" {
		return nil
	}
	return p.dir + string(filepath.Separator)
}

func errSecureFilePriv() error {
	return mysql.NewSQLError(mysql.EROptionPreventsStatement, mysql.SSUnknownSQLState,
		"The MySQL server is running with the --secure-file-priv option so it cannot execute this statement")
}

// checkPrivilege returns MySQL's error for a user without the FILE privilege: 1045, as
// MySQL 8 answers LOAD_FILE, INTO OUTFILE and LOAD DATA INFILE.
func (p *filePolicy) checkPrivilege(ctx *sql.Context) error {
	if p.mdb.UserActivePrivilegeSet(ctx).Has(sql.PrivilegeType_File) {
		return nil
	}
	return fileAccessDenied(ctx, p.mdb)
}

// fileAccessDenied is MySQL's 1045 for the session's account, as MySQL answers a missing FILE privilege.
func fileAccessDenied(ctx *sql.Context, mdb *mysql_db.MySQLDb) error {
	c := ctx.Session.Client()
	using := "NO"
	rd := mdb.Reader()
	if u := mdb.GetUser(rd, c.User, c.Address, false); u != nil && u.AuthString != "" {
		using = "YES"
	}
	rd.Close()
	return mysql.NewSQLError(mysql.ERAccessDeniedError, mysql.SSAccessDeniedError,
		"Access denied for user '%s'@'%s' (using password: %s)", c.User, c.Address, using)
}

// within reports whether path is dir or inside it; both are clean absolute paths.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// readable returns the real path of an existing file name (relative names are taken from
// the server's working directory, as GMS opens them) if it lies inside the directory.
func (p *filePolicy) readable(name string) (string, error) {
	if p.dir == "" {
		return "", errSecureFilePriv()
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", errSecureFilePriv()
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && p.creatable(name) == nil {
			return "", err // inside the directory, but missing
		}
		return "", errSecureFilePriv()
	}
	if !within(p.dir, real) {
		return "", errSecureFilePriv()
	}
	return real, nil
}

// creatable checks that a new file name would be created inside the directory: its parent's
// real path lies inside, and the name itself is not a symbolic link (GMS creates with
// O_EXCL, which refuses an existing name or link anyway).
func (p *filePolicy) creatable(name string) error {
	if p.dir == "" {
		return errSecureFilePriv()
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return errSecureFilePriv()
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil || !within(p.dir, parent) {
		return errSecureFilePriv()
	}
	if fi, err := os.Lstat(abs); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return errSecureFilePriv()
	}
	return nil
}

// loadFile is LOAD_FILE() under the file policy. It reuses GMS's expression for everything
// but evaluation.
type loadFile struct {
	*function.LoadFile
	arg sql.Expression
	p   *filePolicy
}

var _ sql.FunctionExpression = (*loadFile)(nil)

// Function implements sql.FunctionProvider: LOAD_FILE is served under the engine's file
// policy instead of GMS's, which reads any file the process can, and SUM and AVG, STDDEV
// and VARIANCE with MySQL's types (sumavg.go, variance.go), functions whose GMS versions
// answer wrongly (fixedfuncs.go) and MySQL's functions GMS lacks (missingfuncs.go).
func (s *Store) Function(_ *sql.Context, name string) (sql.Function, bool) {
	if f, ok := numericAggFunction(name); ok {
		return f, true
	}
	if f, ok := varianceFunction(name); ok {
		return f, true
	}
	if f, ok := fixedFunction(name); ok {
		return f, true
	}
	if f, ok := missingFunction(name, s.uuidShorts); ok {
		return f, true
	}
	if !strings.EqualFold(name, "load_file") {
		return nil, false
	}
	p := s.files.Load()
	if p == nil {
		p = &filePolicy{} // no engine yet: refuse
	}
	return sql.Function1{Name: "load_file", Fn: func(e sql.Expression) sql.Expression {
		return &loadFile{LoadFile: function.NewLoadFile(e).(*function.LoadFile), arg: e, p: p}
	}}, true
}

// WithChildren implements sql.Expression.
func (l *loadFile) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(l, len(children), 1)
	}
	return &loadFile{LoadFile: function.NewLoadFile(children[0]).(*function.LoadFile), arg: children[0], p: l.p}, nil
}

// Eval implements sql.Expression: MySQL's LOAD_FILE needs the FILE privilege (1045
// otherwise) and returns NULL for a file outside secure_file_priv, missing, unreadable, not
// a regular file, or larger than max_allowed_packet.
func (l *loadFile) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	if err := l.p.checkPrivilege(ctx); err != nil {
		return nil, err
	}
	v, err := l.arg.Eval(ctx, row)
	if err != nil || v == nil {
		return nil, err
	}
	var name string
	switch x := v.(type) {
	case string:
		name = x
	case []byte:
		name = string(x)
	default:
		name = fmt.Sprint(x)
	}
	real, err := l.p.readable(name)
	if err != nil {
		return nil, nil
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, nil
	}
	limit := int64(64 << 20)
	if mp, err := ctx.GetSessionVariable(ctx, "max_allowed_packet"); err == nil {
		if n, ok := mp.(int64); ok {
			limit = n
		}
	}
	if fi.Size() > limit {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil || int64(len(b)) > limit {
		return nil, nil
	}
	return b, nil
}
