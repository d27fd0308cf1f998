package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"strata/internal/engine"
	"strata/internal/localdb"
)

func run(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	root := newRoot()
	root.SetOut(&out)
	root.SetArgs(args)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("strata %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

func TestCheckAndLogDump(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := localdb.Open(ctx, localdb.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := db.CreateTree(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	txn, _ := db.Begin(engine.TxnOptions{})
	txn.Put(ctx, tree, []byte("k"), []byte("v"))
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if out := run(t, "check", "--data", dir); !strings.HasPrefix(out, "ok: 1 trees") {
		t.Fatalf("check: %q", out)
	}
	out := run(t, "log", "dump", "--data", dir)
	for _, want := range []string{"meta page=1", "init page=2", "commit page=0", " end\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("log dump lacks %q:\n%s", want, out)
		}
	}
}
