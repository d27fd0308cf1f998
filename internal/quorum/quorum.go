// Package quorum holds the pure, deterministic decisions of the replicated Log Store: the
// durable LSN given what each replica acknowledged, and the epoch history bookkeeping that
// recovery and replica reconciliation rely on (which replica's log to keep, and up to where two
// logs agree). Nothing here does I/O, keeps time or starts goroutines.
package quorum

import (
	"slices"

	"strata/internal/page"
)

// Majority returns the quorum size of n voters: more than half of them.
func Majority(n int) int { return n/2 + 1 }

// DurableLSN returns the highest LSN that at least q of the replicas have acknowledged: every
// byte below it is on q replicas. acks holds one acknowledged LSN per replica (zero for a
// replica that acknowledged nothing). With fewer than q replicas, or q < 1, nothing is durable
// and it returns 0. acks is not modified.
func DurableLSN(acks []page.LSN, q int) page.LSN {
	if q < 1 || len(acks) < q {
		return 0
	}
	var small [7]page.LSN
	s := append(small[:0], acks...)
	slices.SortFunc(s, func(a, b page.LSN) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	return s[q-1]
}
