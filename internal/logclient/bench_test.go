package logclient

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/logstore"
	"strata/internal/logstore/logtest"
)

// reportLatency reports the p50 and p99 of lat in microseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds())
	}
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// BenchmarkCommit measures one committer's commit latency (append a group, wait until a quorum
// of 3 loopback Log Stores synced it) beside the local fsync floor measured in the same run
// (write the same bytes to a file in a temp dir and fdatasync), and log throughput with many
// committers and with large appends.
//
//	go test ./internal/logclient -run '^$' -bench BenchmarkCommit -benchtime 2000x
func BenchmarkCommit(b *testing.B) {
	const size = 200
	group := logtest.Group(1, 1, size-2*18-8-4) // about 200 bytes of redo
	// The floor: one file, append and fdatasync. The -preallocated variants write into zeros
	// written and synced beforehand, as a Log Store does (no file size to commit at each sync).
	for _, prealloc := range []bool{false, true} {
		name := "baseline=local-fsync"
		if prealloc {
			name += "-preallocated"
		}
		b.Run(name, func(b *testing.B) {
			f := floorFile(b, b.TempDir(), "floor", prealloc, int64(b.N*len(group)))
			defer f.Close()
			lat := make([]time.Duration, 0, b.N)
			b.SetBytes(int64(len(group)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := f.WriteAt(group, int64(i*len(group))); err != nil {
					b.Fatal(err)
				}
				if err := f.SyncData(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
	// The three stores of this benchmark share one disk: the fair floor is three files synced
	// at once, waiting for the second.
	b.Run("baseline=3-local-fsyncs-second", func(b *testing.B) { threeSyncs(b, group, false) })
	b.Run("baseline=3-local-fsyncs-second-preallocated", func(b *testing.B) { threeSyncs(b, group, true) })
	commits := func(b *testing.B, l *Log) {
		ctx := context.Background()
		lat := make([]time.Duration, 0, b.N)
		b.SetBytes(int64(len(group)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			_, end, err := l.Append(group, true)
			if err == nil {
				err = l.WaitDurable(ctx, end)
			}
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		reportLatency(b, lat)
	}
	b.Run("quorum-2of3", func(b *testing.B) {
		l, stop := benchLogN(b, 3)
		defer stop()
		commits(b, l)
	})
	// The same with each store in its own process, as deployed: in one process the stores'
	// goroutines share the writer's two Ps, and a P stays with a goroutine blocked in fdatasync
	// until the runtime's monitor takes it back.
	b.Run("quorum-2of3-processes", func(b *testing.B) {
		var addrs []string
		for i := 0; i < 3; i++ {
			addr, stop := startStoreProcess(b)
			defer stop()
			addrs = append(addrs, addr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		l, err := Recover(ctx, Options{Addrs: addrs, Secret: secret, Epoch: 1, Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		commits(b, l)
	})
	// Throughput: 32 committers (group commit on both sides) and 64 KiB appends; one store
	// alone (quorum 1 of 1) shows the cost of a replica without the shared disk.
	for _, tc := range []struct {
		name       string
		committers int
		pad        int
		stores     int
	}{
		{"throughput-32-committers", 32, 200, 3},
		{"throughput-64KiB-appends", 1, 60 << 10, 3},
		{"throughput-64KiB-4-committers", 4, 60 << 10, 3},
		{"throughput-64KiB-appends-one-store", 1, 60 << 10, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l, stop := benchLogN(b, tc.stores)
			defer stop()
			g := logtest.Group(1, 1, tc.pad)
			b.SetBytes(int64(len(g)))
			var mu sync.Mutex
			var wg sync.WaitGroup
			n := b.N
			ctx := context.Background()
			b.ResetTimer()
			for c := 0; c < tc.committers; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						mu.Lock()
						if n == 0 {
							mu.Unlock()
							return
						}
						n--
						_, end, err := l.Append(g, true)
						mu.Unlock()
						if err == nil {
							err = l.WaitDurable(ctx, end)
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
	b.Run("baseline=3-local-fsyncs-second-64KiB", func(b *testing.B) { threeSyncs(b, logtest.Group(1, 1, 60<<10), false) })
	b.Run("baseline=local-fsync-64KiB", func(b *testing.B) {
		f, err := vfs.Default.Create(filepath.Join(b.TempDir(), "floor"), vfs.WriteCategoryUnspecified)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		g := logtest.Group(1, 1, 60<<10)
		b.SetBytes(int64(len(g)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := f.Write(g); err != nil {
				b.Fatal(err)
			}
			if err := f.SyncData(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchLogN starts n Log Stores in temp dirs on loopback and a writer over them.
func benchLogN(b *testing.B, n int) (*Log, func()) {
	var nodes []*node
	for i := 0; i < n; i++ {
		n := &node{dir: b.TempDir(), segSize: logstore.DefaultSegmentSize}
		n.startTB(b)
		nodes = append(nodes, n)
	}
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := Recover(ctx, Options{Addrs: addrs, Secret: secret, Epoch: 1, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	return l, func() {
		_ = l.Close()
		for _, n := range nodes {
			n.stop()
		}
	}
}

// floorFile creates a file for a floor baseline; with prealloc, its first size bytes are zeros,
// written and synced.
func floorFile(b *testing.B, dir, name string, prealloc bool, size int64) vfs.File {
	f, err := vfs.Default.Create(filepath.Join(dir, name), vfs.WriteCategoryUnspecified)
	if err != nil {
		b.Fatal(err)
	}
	if prealloc {
		zeros := make([]byte, 1<<20)
		for off := int64(0); off < size; off += int64(len(zeros)) {
			if _, err := f.WriteAt(zeros, off); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	return f
}

// threeSyncs writes and syncs data to three files in a temp dir at once, as three stores
// sharing a disk do, and reports when the second sync returns. With prealloc the files are
// zeros beforehand.
func threeSyncs(b *testing.B, data []byte, prealloc bool) {
	dir := b.TempDir()
	var files []vfs.File
	for i := 0; i < 3; i++ {
		f := floorFile(b, dir, fmt.Sprint(i), prealloc, int64(b.N*len(data)))
		defer f.Close()
		files = append(files, f)
	}
	lat := make([]time.Duration, 0, b.N)
	b.SetBytes(int64(len(data)))
	done := make(chan error, 3)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		off := int64(i * len(data))
		for _, f := range files {
			go func() {
				_, err := f.WriteAt(data, off)
				if err == nil {
					err = f.SyncData()
				}
				done <- err
			}()
		}
		for k := 0; k < 3; k++ {
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			if k == 1 {
				lat = append(lat, time.Since(t0))
			}
		}
	}
	b.StopTimer()
	reportLatency(b, lat)
}
