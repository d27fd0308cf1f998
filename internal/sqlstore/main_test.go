package sqlstore

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/sirupsen/logrus"

	"strata/internal/localdb"
)

// TestMain quiets go-mysql-server's logging and, when STRATA_TEST_SERVE names a data
// directory, turns the test binary into a server process (for tests that kill it).
func TestMain(m *testing.M) {
	logrus.SetLevel(logrus.WarnLevel)
	mysql.SetLogger(log.New(io.Discard, "", 0)) // the driver reports killed connections
	if dir := os.Getenv("STRATA_TEST_SERVE"); dir != "" {
		if err := serveForever(dir); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func serveForever(dir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := localdb.Open(ctx, localdb.Options{Dir: dir, Logger: quiet, PoolFrames: 256})
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := Open(ctx, db.DB, quiet)
	if err != nil {
		return err
	}
	eng, err := st.NewSQLEngine(ctx)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv, err := st.Serve(eng, l)
	if err != nil {
		return err
	}
	fmt.Printf("ADDR %s\n", l.Addr())
	<-ctx.Done()
	return srv.Close()
}
