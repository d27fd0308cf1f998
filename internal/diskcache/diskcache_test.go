package diskcache

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"strata/internal/page"
)

// testPage returns a sealed leaf page id last changed at lsn, its body marked with both.
func testPage(id page.ID, lsn page.LSN) *page.Page {
	p := new(page.Page)
	p.Init(id, page.TypeLeaf, 0, 1)
	p.SetLSN(lsn)
	if err := p.Insert(0, []byte{byte(id), byte(lsn), byte(lsn >> 8)}); err != nil {
		panic(err)
	}
	p.Seal()
	return p
}

func open(t *testing.T, fs vfs.FS, slots int) *Cache {
	t.Helper()
	c, err := Open(Options{FS: fs, Path: filepath.Join(t.TempDir(), "pagecache"), Bytes: int64(slots) * page.Size})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestGetPut(t *testing.T) {
	c := open(t, nil, 4)
	var dst page.Page
	if c.Get(7, 100, &dst) {
		t.Fatal("hit in an empty cache")
	}
	c.Put(testPage(7, 100))
	if !c.Get(7, 100, &dst) || dst != *testPage(7, 100) {
		t.Fatal("the page put is not read back")
	}
	// Another version of the page is a miss: the pool asks for the version it evicted.
	if c.Get(7, 99, &dst) || c.Get(7, 101, &dst) {
		t.Fatal("another version read as this one")
	}
	// A newer version replaces the older one in its slot.
	c.Put(testPage(7, 200))
	if c.Get(7, 100, &dst) {
		t.Fatal("the replaced version is still read")
	}
	if !c.Get(7, 200, &dst) || dst != *testPage(7, 200) {
		t.Fatal("the new version is not read")
	}
	// Four slots: the fifth page takes the oldest slot (FIFO), the others stay.
	for id := page.ID(8); id <= 11; id++ {
		c.Put(testPage(id, page.LSN(id)))
	}
	if c.Get(7, 200, &dst) {
		t.Fatal("the oldest page was not replaced")
	}
	for id := page.ID(8); id <= 11; id++ {
		if !c.Get(id, page.LSN(id), &dst) || dst != *testPage(id, page.LSN(id)) {
			t.Fatalf("page %d lost", id)
		}
	}
	st := c.Stats()
	if st.Slots != 4 || st.Pages != 4 || st.Writes != 6 || st.Hits != 6 || st.Rejected != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestPutSeals: the pool's frames are not sealed; Put computes the checksum.
func TestPutSeals(t *testing.T) {
	c := open(t, nil, 2)
	p := testPage(3, 30)
	p.SetLSN(31) // changed after the seal, as a frame in the pool is
	c.Put(p)
	var dst page.Page
	if !c.Get(3, 31, &dst) || dst.Verify() != nil {
		t.Fatal("an unsealed page is not kept checked")
	}
}

// TestBadSlot: what a slot holds is checked, not trusted. A slot overwritten behind the
// index (another page, a torn write) is a miss, never a wrong page.
func TestBadSlot(t *testing.T) {
	c := open(t, nil, 2)
	c.Put(testPage(5, 50))
	c.Put(testPage(6, 60))
	e := c.index[5]
	other := testPage(9, 50)
	if _, err := c.f.WriteAt(other[:], int64(e.slot)*page.Size); err != nil {
		t.Fatal(err)
	}
	var dst page.Page
	if c.Get(5, 50, &dst) {
		t.Fatal("another page's bytes read as page 5")
	}
	// Half a page rewritten: the checksum fails.
	e = c.index[6]
	torn := testPage(6, 60)
	torn[page.Size-1] ^= 0xff
	if _, err := c.f.WriteAt(torn[page.Size/2:], int64(e.slot)*page.Size+page.Size/2); err != nil {
		t.Fatal(err)
	}
	if c.Get(6, 60, &dst) {
		t.Fatal("a torn page read")
	}
	if c.Get(5, 50, &dst) || c.Get(6, 60, &dst) {
		t.Fatal("a rejected page read later")
	}
	if st := c.Stats(); st.Rejected != 2 || st.Hits != 0 || st.Pages != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDiskErrors: a failed write keeps nothing (not even the older copy), a failed read is
// a miss; neither is an error to the pool, which reads the Page Store instead.
func TestDiskErrors(t *testing.T) {
	var failWrites, failReads atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failWrites.Load() && op.Kind == errorfs.OpFileWriteAt {
			return errors.New("injected write error")
		}
		if failReads.Load() && op.Kind == errorfs.OpFileReadAt {
			return errors.New("injected read error")
		}
		return nil
	})
	c := open(t, errorfs.Wrap(vfs.Default, inj), 4)
	c.Put(testPage(1, 10))
	failWrites.Store(true)
	c.Put(testPage(1, 20))
	c.Put(testPage(2, 20))
	failWrites.Store(false)
	var dst page.Page
	if c.Get(1, 10, &dst) || c.Get(1, 20, &dst) || c.Get(2, 20, &dst) {
		t.Fatal("a page whose write failed is read")
	}
	c.Put(testPage(3, 30))
	failReads.Store(true)
	if c.Get(3, 30, &dst) {
		t.Fatal("a failed read is a hit")
	}
	failReads.Store(false)
	if c.Get(3, 30, &dst) {
		t.Fatal("an entry whose read failed is kept")
	}
	if st := c.Stats(); st.WriteErrors != 2 || st.ReadErrors != 1 || st.Pages != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestConcurrent puts and gets pages from many goroutines on a cache far smaller than the
// pages, so slots are taken while they are read: every hit must be the exact page asked for.
func TestConcurrent(t *testing.T) {
	c := open(t, nil, 8)
	const pages = 64
	var latest [pages + 1]atomic.Uint64 // the version last put of each page
	var mu [pages + 1]sync.Mutex        // one writer per page, as one frame holds a page
	var wg sync.WaitGroup
	var hits atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			var dst page.Page
			for i := 0; i < 2000; i++ {
				id := page.ID(1 + r.IntN(pages))
				if r.IntN(2) == 0 {
					mu[id].Lock()
					lsn := page.LSN(latest[id].Add(1))
					c.Put(testPage(id, lsn))
					mu[id].Unlock()
					continue
				}
				lsn := page.LSN(latest[id].Load())
				if c.Get(id, lsn, &dst) {
					hits.Add(1)
					if dst != *testPage(id, lsn) {
						t.Errorf("page %d at %d: wrong bytes", id, lsn)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if hits.Load() == 0 {
		t.Fatal("no hits: the test tested nothing")
	}
	t.Logf("%+v", c.Stats())
}

func TestCloseRemovesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pagecache")
	c, err := Open(Options{Path: path, Bytes: 10 * page.Size})
	if err != nil {
		t.Fatal(err)
	}
	if c.Slots() != 10 {
		t.Fatalf("%d slots", c.Slots())
	}
	c.Put(testPage(1, 1))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := vfs.Default.Stat(path); err == nil {
		t.Fatal("file left behind")
	}
	// A new cache on a path that holds an old file starts empty.
	c, err = Open(Options{Path: path, Bytes: 10 * page.Size})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Put(testPage(1, 1))
	c2, err := Open(Options{Path: path, Bytes: 10 * page.Size})
	if err != nil {
		t.Fatal(err)
	}
	var dst page.Page
	if c2.Get(1, 1, &dst) {
		t.Fatal("a new cache read an old file's page")
	}
	// Its index starts empty whatever the file holds; the file itself is emptied too.
	if fi, err := vfs.Default.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("the old file was not emptied: %v, %v", fi, err)
	}
	_ = c2.f.Close()
}
