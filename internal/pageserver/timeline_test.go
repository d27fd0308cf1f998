package pageserver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/page"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/pageclient"
	"strata/internal/pageserver/pstest"
	"strata/internal/pagestore"
	"strata/internal/redo"
	"strata/internal/storage"
	"strata/internal/storage/memstore"
)

// TestTimelines: a Page Store process serves a branch beside the main database. Requests
// that name the branch's timeline read the branch (its pages on top of the main database's at
// the branch point; the main database's below it), those that name none read the main
// database as before, and a timeline the process does not serve is FailedPrecondition (as an
// unowned segment: the client tries another replica; never "no such page").
func TestTimelines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	main := pstest.NewWorkload(7, 1, 6)
	if err := main.Groups(60); err != nil {
		t.Fatal(err)
	}
	at := main.Log.End() // the branch point
	r := pstest.StartReplica(t, main.Log, secret, nil)
	r.WaitConsumed(t, at)

	// The branch: a log that starts at the branch point, with records of its own on page 3
	// (which the main database has) and on page 9 (which it has not).
	branch := memstore.FromBytes(main.Log.Bytes())
	want := map[page.ID]*page.Page{3: new(page.Page), 9: new(page.Page)}
	if err := r.Store.GetPage(ctx, 3, at, want[3]); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		g := redo.NewGroup()
		start := branch.End()
		add := func(rec func() redo.Record) {
			off := page.LSN(g.Len())
			r := rec()
			if err := redo.Apply(want[r.Page], start+off, r); err != nil {
				t.Fatal(err)
			}
		}
		if i == 0 {
			add(func() redo.Record { return g.Init(9, page.TypeLeaf, 0, 2) })
		}
		add(func() redo.Record { return g.Insert(3, 0, []byte{byte(i), 1, 2}) })
		add(func() redo.Record { return g.Insert(9, 0, []byte{byte(i), 9}) })
		g.Commit(uint64(1000+i), int64(1_800_000_000_000_000+i))
		if _, _, err := branch.Append(g.Bytes(), true); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range want {
		p.Seal()
	}
	bs, err := pagestore.Open(ctx, pagestore.Options{FS: vfs.NewMem(), Dir: "b", Log: branch, Logger: pstest.Discard,
		Base: r.Store, BaseLSN: at, CompactInterval: -1, FlushInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	bs.Start()
	if err := r.Server.AddTimeline(1, bs); err != nil {
		t.Fatal(err)
	}
	if err := r.Server.AddTimeline(0, bs); err == nil {
		t.Fatal("timeline 0 was replaced")
	}

	// More writes on the main database after the branch point.
	if err := main.Groups(30); err != nil {
		t.Fatal(err)
	}
	end := branch.End()
	pl := pageclient.Static{Default: []string{r.Addr}}
	clients := map[uint64]*pageclient.Client{}
	for _, tl := range []uint64{0, 1, 2} {
		c, err := pageclient.New(pageclient.Options{Placement: pl, Secret: secret, Logger: pstest.Discard, Timeline: tl})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[tl] = c
	}
	for id, p := range want {
		var got page.Page
		if err := clients[1].GetPage(ctx, id, end, &got); err != nil {
			t.Fatalf("branch page %d: %v", id, err)
		}
		if got != *p {
			t.Fatalf("branch page %d differs from the base's page at the branch point with the branch's records", id)
		}
	}
	// Page 4: untouched by the branch, the main database's at the branch point, not after.
	var got, mainAt, mainNow page.Page
	for _, c := range []struct {
		tl  uint64
		lsn page.LSN
		p   *page.Page
	}{{1, end, &got}, {0, at, &mainAt}, {0, main.Log.End(), &mainNow}} {
		if err := clients[c.tl].GetPage(ctx, 4, c.lsn, c.p); err != nil {
			t.Fatal(err)
		}
	}
	if got != mainAt || got == mainNow {
		t.Fatal("an untouched page of the branch is not the main database's at the branch point")
	}
	if err := clients[2].GetPage(ctx, 4, end, &got); err == nil || errors.Is(err, storage.ErrPageNotFound) {
		t.Fatalf("a timeline the store does not serve: %v", err)
	}
	pc := pageserverpb.NewPageStoreClient(pstest.Dial(t, r.Addr, secret))
	if _, err := pc.GetPage(ctx, &pageserverpb.GetPageRequest{Timeline: 2, Page: 4, Lsn: uint64(end)}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("GetPage of timeline 2: %v, want FailedPrecondition", err)
	}
	if _, err := pc.Status(ctx, &pageserverpb.StatusRequest{Timeline: 1 << 40}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Status of timeline 2^40: %v, want InvalidArgument", err)
	}
	st, err := pc.Status(ctx, &pageserverpb.StatusRequest{Timeline: 1})
	if err != nil || page.LSN(st.GetConsumed()) < end {
		t.Fatalf("Status of the branch: %v, %v", st, err)
	}
	r.Server.RemoveTimeline(1)
	if _, err := pc.Status(ctx, &pageserverpb.StatusRequest{Timeline: 1}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("Status of a removed timeline: %v, want FailedPrecondition", err)
	}
}
