package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"

	"strata/internal/meta"
)

func newCtlRestoreTableCmd(sh *sharedFlags) *cobra.Command {
	var dir, at, as, user, password string
	cmd := &cobra.Command{
		Use:   "restore-table DB.TABLE --at MOMENT --as DB.NEW",
		Short: "Bring one table's rows back as of a moment, into a new table of the running database",
		Long: `restore-table creates DB.NEW with TABLE's definition as of MOMENT (its columns and indexes;
not its foreign keys or triggers) and copies into it TABLE's rows as of MOMENT, in one
transaction on the writer, while the database serves. MOMENT is what AS OF takes: a date and
time in the server's time zone ('2026-12-06 10:00:00'), a log position, or a snapshot name.
A table dropped since comes back the same way; --as may then be its own name.`,
		Annotations: usesShared(etcdFlag, secretFileFlag),
		Args:        cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			srcDB, srcTable, err := splitTableName(args[0])
			if err != nil {
				return err
			}
			dstDB, dstTable, err := splitTableName(as)
			if err != nil {
				return fmt.Errorf("--as: %w", err)
			}
			if at == "" {
				return errors.New("--at is required")
			}
			if password == "" {
				password = os.Getenv("STRATA_ROOT_PASSWORD")
			}
			mc, err := ctlMeta(ctx, sh, dir)
			if err != nil {
				return err
			}
			defer mc.Close()
			addr, err := writerAddr(ctx, mc)
			if err != nil {
				return err
			}
			start := time.Now()
			n, err := restoreTable(ctx, addr, user, password, srcDB, srcTable, at, dstDB, dstTable)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "strata: %s.%s as of %s restored into %s.%s: %d rows in %v\n",
				srcDB, srcTable, at, dstDB, dstTable, n, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "data", "strata-data", "data directory of a cluster started with 'strata up'")
	cmd.Flags().StringVar(&at, "at", "", "the moment: a date and time, a log position or a snapshot name")
	cmd.Flags().StringVar(&as, "as", "", "the new table, DB.NAME")
	cmd.Flags().StringVar(&user, "user", "root", "MySQL user to run the restore as")
	cmd.Flags().StringVar(&password, "password", "", "its password (default $STRATA_ROOT_PASSWORD)")
	return cmd
}

// splitTableName splits DB.TABLE (each part optionally in backquotes).
func splitTableName(s string) (string, string, error) {
	db, table, ok := strings.Cut(s, ".")
	db, table = strings.Trim(db, "`"), strings.Trim(table, "`")
	if !ok || db == "" || table == "" || strings.ContainsAny(db+table, "`.\x00") {
		return "", "", fmt.Errorf("%q is not DB.TABLE", s)
	}
	return db, table, nil
}

// writerAddr returns the MySQL address of the writer serving now.
func writerAddr(ctx context.Context, mc *meta.Client) (string, error) {
	nodes, err := mc.Nodes(ctx)
	if err != nil {
		return "", err
	}
	if w, ok := servingWriter(nodes); ok {
		return w.Addr, nil
	}
	return "", errors.New("no writer is serving")
}

// servingWriter returns the writer among nodes that is up and serves MySQL now.
func servingWriter(nodes []meta.Node) (meta.Node, bool) {
	now := time.Now()
	for _, n := range nodes {
		if n.Role == meta.RoleRW && n.State == meta.StateUp && !n.IsDown(now) && n.Addr != "" {
			return n, true
		}
	}
	return meta.Node{}, false
}

// foreignKeyLine matches a foreign key clause of SHOW CREATE TABLE.
var foreignKeyLine = regexp.MustCompile("(?m)^\\s*(CONSTRAINT `[^`]*` )?FOREIGN KEY .*$\n?")

// restoreTable runs the restore on the writer at addr and returns the rows copied.
func restoreTable(ctx context.Context, addr, user, password, srcDB, srcTable, at, dstDB, dstTable string) (int64, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = user, password, "tcp", addr
	cfg.Timeout, cfg.MultiStatements = 10*time.Second, false
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return 0, err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)
	q := func(s string) string { return "`" + s + "`" }
	lit := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(at) + "'"
	var name, create string
	if err := db.QueryRowContext(ctx, fmt.Sprintf("SHOW CREATE TABLE %s.%s AS OF %s", q(srcDB), q(srcTable), lit)).Scan(&name, &create); err != nil {
		return 0, fmt.Errorf("the definition of %s.%s as of %s: %w", srcDB, srcTable, at, err)
	}
	// The new table: the old definition under the new name, without foreign keys (they
	// would name the present tables; their names must be unique in a database).
	head := regexp.MustCompile("^CREATE TABLE `(?:[^`]|``)*`")
	if !head.MatchString(create) {
		return 0, fmt.Errorf("unexpected definition of %s.%s: %.60q", srcDB, srcTable, create)
	}
	create = head.ReplaceAllLiteralString(create, "CREATE TABLE "+q(dstDB)+"."+q(dstTable))
	create = foreignKeyLine.ReplaceAllString(create, "")
	create = regexp.MustCompile(`,(\s*\n\))`).ReplaceAllString(create, "$1")
	if _, err := db.ExecContext(ctx, create); err != nil { // DDL commits by itself
		return 0, fmt.Errorf("create %s.%s: %w", dstDB, dstTable, err)
	}
	n, err := copyRows(ctx, db, fmt.Sprintf("INSERT INTO %s.%s SELECT * FROM %s.%s AS OF %s", q(dstDB), q(dstTable), q(srcDB), q(srcTable), lit))
	if err != nil {
		// Nothing half made stays: the new table goes with the failed copy.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, derr := db.ExecContext(dctx, fmt.Sprintf("DROP TABLE %s.%s", q(dstDB), q(dstTable))); derr != nil {
			err = errors.Join(err, fmt.Errorf("drop the new table: %w", derr))
		}
		return 0, fmt.Errorf("copy the rows: %w", err)
	}
	return n, nil
}

// copyRows runs the copy in one transaction and returns the rows it wrote.
func copyRows(ctx context.Context, db *sql.DB, insert string) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, insert)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	return n, tx.Commit()
}
