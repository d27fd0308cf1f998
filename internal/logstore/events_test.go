package logstore

import (
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/quorum"
	"strata/internal/redo"
)

// TestStatsAndBatchEvents: every durable batch is counted and reported with its bytes, its
// wait (at least the sync) and its sync time.
func TestStatsAndBatchEvents(t *testing.T) {
	var mu sync.Mutex
	var infos []BatchInfo
	s, err := Open(Options{FS: slowFS{vfs.NewMem()}, Dir: "ls", Logger: quiet(),
		EventListener: EventListener{BatchDurable: func(i BatchInfo) {
			mu.Lock()
			infos = append(infos, i)
			mu.Unlock()
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
	before := s.Stats()
	data := appendGroups(t, s, 1, 1, 3, 100)

	st := s.Stats()
	if got := st.Bytes - before.Bytes; got != uint64(len(data)) {
		t.Fatalf("bytes +%d, want +%d", got, len(data))
	}
	if st.Fsyncs-before.Fsyncs != 3 || st.Batches-before.Batches != 3 {
		t.Fatalf("stats %+v after %+v: want 3 more batches and syncs (one per awaited group)", st, before)
	}
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, i := range infos {
		total += i.Bytes
		// slowFS makes every data sync take 2 ms.
		if i.Sync < 2*time.Millisecond || i.Wait < i.Sync {
			t.Fatalf("batch %+v: want sync >= 2ms and wait >= sync", i)
		}
	}
	if total != len(data) {
		t.Fatalf("events report %d bytes, want %d", total, len(data))
	}
}
