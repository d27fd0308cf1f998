package pagenode

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"strata/internal/logclient"
	"strata/internal/meta"
	"strata/internal/node/lognode"
	"strata/internal/node/metanode"
	"strata/internal/page"
	"strata/internal/pageclient"
	"strata/internal/redo"
	"strata/internal/storage"
)

const testSecret = "branches-test-secret"

// startNode runs a node's Run in the background until the test ends, and returns the address
// its Ready gave.
func startNode(t *testing.T, run func(ctx context.Context, ready func(string)) error) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(a string) { addr <- a }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("a node did not stop in 30 s")
		}
	})
	select {
	case a := <-addr:
		return a
	case err := <-done:
		t.Fatalf("a node exited: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("a node not ready in 60 s")
	}
	return ""
}

// writeGroups appends n groups to log, each a record on page id (an init first) and a commit,
// applying them to want.
func writeGroups(t *testing.T, log *logclient.Log, want map[page.ID]*page.Page, ids []page.ID, n int) {
	t.Helper()
	for i := range n {
		g := redo.NewGroup()
		start := log.End()
		for _, id := range ids {
			p := want[id]
			if p == nil {
				p = new(page.Page)
				want[id] = p
			}
			off := page.LSN(g.Len())
			var r redo.Record
			if p.Type() == page.TypeZero {
				r = g.Init(id, page.TypeLeaf, 0, 2)
			} else {
				r = g.Insert(id, 0, []byte{byte(i), byte(id)})
			}
			if err := redo.Apply(p, start+off, r); err != nil {
				t.Fatal(err)
			}
		}
		g.Commit(uint64(i+1), time.Now().UnixMicro())
		if _, _, err := log.Append(g.Bytes(), true); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.WaitDurable(context.Background(), log.End()); err != nil {
		t.Fatal(err)
	}
}

// TestBranchStores: a Page Store node opens a branch store once the branch's point is fixed
// and its writer has created its log, serves it as the branch's timeline (the branch's own
// pages on top of the main database's at the branch point, whatever the main database wrote
// since), and removes it with the branch.
func TestBranchStores(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and three Log Stores")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	base := t.TempDir()
	etcd := startNode(t, func(ctx context.Context, ready func(string)) error {
		return metanode.Run(ctx, metanode.Options{Dir: filepath.Join(base, "meta"), Listen: "127.0.0.1:0", PeerAddr: "127.0.0.1:0",
			ID: "meta", Secret: testSecret, Logger: quiet, Ready: ready})
	})
	var logAddrs []string
	for _, n := range []string{"l1", "l2", "l3"} {
		logAddrs = append(logAddrs, startNode(t, func(ctx context.Context, ready func(string)) error {
			return lognode.Run(ctx, lognode.Options{Dir: filepath.Join(base, n), Listen: "127.0.0.1:0", ID: n, Secret: testSecret,
				Logger: quiet, Ready: ready})
		}))
	}
	mainLog, err := logclient.Recover(ctx, logclient.Options{Addrs: logAddrs, Secret: testSecret, Epoch: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer mainLog.Close()
	mainPages := map[page.ID]*page.Page{}
	writeGroups(t, mainLog, mainPages, []page.ID{3, 4}, 20)
	at := mainLog.End() // the branch point: a group end
	atPages := map[page.ID]page.Page{3: *mainPages[3], 4: *mainPages[4]}

	psDir := filepath.Join(base, "ps")
	psAddr := startNode(t, func(ctx context.Context, ready func(string)) error {
		return Run(ctx, Options{Dir: psDir, Listen: "127.0.0.1:0", ID: "pagestore-1", LogAddrs: logAddrs, Secret: testSecret,
			Etcd: []string{etcd}, FlushInterval: 50 * time.Millisecond, Logger: quiet, Ready: ready})
	})
	writeGroups(t, mainLog, mainPages, []page.ID{3, 4}, 10) // the main database goes on

	mc, err := meta.Dial(ctx, meta.ClientOptions{Endpoints: []string{etcd}, Password: meta.PasswordFromSecret(testSecret), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	b, err := mc.CreateBranch(ctx, meta.Branch{Name: "dev", At: time.Now(), Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	b.LSN = uint64(at)
	if err := mc.FixBranch(ctx, b); err != nil {
		t.Fatal(err)
	}
	// The branch's writer creates its log at the branch point and writes page 3 (the main
	// database's) and page 9 (its own).
	branchLog, err := logclient.Recover(ctx, logclient.Options{Addrs: logAddrs, Secret: testSecret, Epoch: 1, Timeline: b.Timeline,
		Start: at, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer branchLog.Close()
	want := map[page.ID]*page.Page{}
	for id, p := range atPages {
		cp := p
		want[id] = &cp
	}
	writeGroups(t, branchLog, want, []page.ID{3, 9}, 15)
	end := branchLog.End()

	client := func(tl uint64) *pageclient.Client {
		c, err := pageclient.New(pageclient.Options{Placement: pageclient.Static{Default: []string{psAddr}}, Secret: testSecret,
			Logger: quiet, Timeline: tl})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	bc := client(b.Timeline)
	var got page.Page
	deadline := time.Now().Add(30 * time.Second)
	for {
		gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
		err := bc.GetPage(gctx, 9, end, &got)
		gcancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the branch is not served within 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for id, p := range want {
		p.Seal()
		if err := bc.GetPage(ctx, id, end, &got); err != nil || got != *p {
			t.Fatalf("branch page %d: %v (equal: %v)", id, err, got == *p)
		}
	}
	main4 := mainPages[4]
	main4.Seal()
	if err := client(0).GetPage(ctx, 4, mainLog.End(), &got); err != nil || got != *main4 {
		t.Fatalf("main page 4 through timeline 0: %v", err)
	}
	if _, err := os.Stat(filepath.Join(branchesDir(psDir), "1")); err != nil {
		t.Fatalf("the branch store's files: %v", err)
	}

	if _, err := mc.DeleteBranch(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		_, statErr := os.Stat(filepath.Join(branchesDir(psDir), "1"))
		gctx, gcancel := context.WithTimeout(ctx, time.Second)
		err := bc.GetPage(gctx, 9, end, &got)
		gcancel()
		if errors.Is(statErr, os.ErrNotExist) && err != nil && !errors.Is(err, storage.ErrPageNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a deleted branch is still served or kept: %v, %v", err, statErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
