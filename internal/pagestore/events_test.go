package pagestore

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/storage"
)

// TestGetPageEventsAndPebbleMetrics: every GetPage call is reported with its outcome, and the
// pebble metrics under the store are readable while it runs and refused once it is closed.
func TestGetPageEventsAndPebbleMetrics(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 1, log, 8)
	w.groups(50)
	log.makeDurable()
	var mu sync.Mutex
	var infos []GetPageInfo
	s := openStore(t, vfs.NewMem(), log, func(o *Options) {
		o.EventListener.GetPage = func(i GetPageInfo) {
			mu.Lock()
			infos = append(infos, i)
			mu.Unlock()
		}
	})
	s.Start()
	waitPersisted(t, s, log.end())
	var p page.Page
	if err := s.GetPage(context.Background(), w.ids[0], log.end(), &p); err != nil {
		t.Fatal(err)
	}
	if err := s.GetPage(context.Background(), page.Invalid, log.end(), &p); !errors.Is(err, storage.ErrPageNotFound) {
		t.Fatalf("GetPage of the invalid page: %v", err)
	}
	mu.Lock()
	if len(infos) != 2 || infos[0].Err != nil || infos[0].Duration <= 0 || !errors.Is(infos[1].Err, storage.ErrPageNotFound) {
		t.Fatalf("events %+v: want a success then ErrPageNotFound", infos)
	}
	mu.Unlock()
	m, err := s.PebbleMetrics()
	if err != nil {
		t.Fatal(err)
	}
	if m.DiskSpaceUsage() == 0 {
		t.Fatal("pebble reports no disk space used")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PebbleMetrics(); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("metrics of a closed store: %v", err)
	}
}
