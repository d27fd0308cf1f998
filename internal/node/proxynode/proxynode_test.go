package proxynode

import (
	"context"
	gosql "database/sql"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"strata/internal/meta"
)

// TestRunPublishes: the proxy node registers itself in the control plane with role proxy
// and its MySQL address, and with no RW answers a login with 2003.
func TestRunPublishes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lg := slog.New(slog.NewTextHandler(io.Discard, nil))
	const secret = "s"
	ms, err := meta.StartServer(ctx, meta.ServerOptions{Dir: t.TempDir(), Logger: lg, Password: meta.PasswordFromSecret(secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Etcd: ms.Endpoints(), Secret: secret, ID: "p1", Listen: "127.0.0.1:0",
			BackendWait: 200 * time.Millisecond, Logger: lg, Ready: func(a net.Addr) { ready <- a }})
	}()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("the proxy did not start")
	}
	mc, err := meta.Dial(ctx, meta.ClientOptions{Endpoints: ms.Endpoints(), Logger: lg, Password: meta.PasswordFromSecret(secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		nodes, err := mc.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, n := range nodes {
			found = found || n.Role == meta.RoleProxy && n.ID == "p1" && n.Addr == addr.String()
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no proxy node published: %+v", nodes)
		}
		time.Sleep(20 * time.Millisecond)
	}
	db, err := gosql.Open("mysql", "root@tcp("+addr.String()+")/?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var me *mysql.MySQLError
	if err := db.PingContext(ctx); !errors.As(err, &me) || me.Number != 2003 {
		t.Fatalf("a login with no RW: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}
