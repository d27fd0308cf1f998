package pageclient

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latencyWindow is how many recent answers a replica's p99 is computed over.
const latencyWindow = 128

// latency tracks a replica's recent answer times and their 99th percentile.
type latency struct {
	mu   sync.Mutex
	ring [latencyWindow]time.Duration
	n    int          // answers recorded
	p99  atomic.Int64 // nanoseconds; recomputed every 16 answers
}

func (l *latency) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.n%latencyWindow] = d
	l.n++
	if l.n <= 16 || l.n%16 == 0 {
		var s [latencyWindow]time.Duration
		k := copy(s[:], l.ring[:min(l.n, latencyWindow)])
		slices.Sort(s[:k])
		l.p99.Store(int64(s[(k*99+99)/100-1]))
	}
}

// P99 returns the 99th percentile of the recent answer times (0 before any).
func (l *latency) P99() time.Duration { return time.Duration(l.p99.Load()) }
