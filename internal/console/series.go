package console

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// maxPoints bounds the series the console keeps: five minutes at the default interval.
const maxPoints = 150

// Series is throughput and latency over the last scrapes, oldest first.
type Series struct {
	Interval float64 `json:"interval"` // seconds between scrapes
	Points   []Point `json:"points"`
}

// Point is what happened between two scrapes. A nil field had nothing to derive from (no
// node exports it, no statement ran, or a node was seen once only).
type Point struct {
	T          int64    `json:"t"`          // end of the interval, Unix milliseconds
	Statements *float64 `json:"statements"` // client statements per second
	P50        *float64 `json:"p50_ms"`     // statement latency, milliseconds
	P95        *float64 `json:"p95_ms"`
	RedoBytes  *float64 `json:"redo_bytes"` // log bytes made visible per second
	Records    *float64 `json:"records"`    // redo records the Page Stores persisted per second
}

// derive computes the point between two scrapes of the same nodes (keyed alike); a node in
// only one of them adds nothing.
func derive(prev, cur map[string]sample, at time.Time) Point {
	p := Point{T: at.UnixMilli()}
	var stmts, redo, records float64
	var haveStmts, haveRedo, haveRecords bool
	merged := map[float64]float64{} // duration histogram deltas by upper bound
	for key, c := range cur {
		pr, ok := prev[key]
		if !ok {
			continue
		}
		dt := c.at.Sub(pr.at).Seconds()
		if dt <= 0 {
			continue
		}
		if d, ok := counterDelta(pr, c, mStatements); ok {
			stmts += d / dt
			haveStmts = true
		}
		if d, ok := counterDelta(pr, c, mRecords); ok {
			records += d / dt
			haveRecords = true
		}
		pv, okp := pr.sums[mVisibleLSN]
		cv, okc := c.sums[mVisibleLSN]
		if okp && okc {
			haveRedo = true
			if cv > pv { // a restarted node may recover to a lower position: nothing to add
				redo += (cv - pv) / dt
			}
		}
		for le, d := range bucketDeltas(pr.buckets, c.buckets) {
			merged[le] += d
		}
	}
	if haveStmts {
		p.Statements = &stmts
	}
	if haveRedo {
		p.RedoBytes = &redo
	}
	if haveRecords {
		p.Records = &records
	}
	p.P50 = quantileMS(0.5, merged)
	p.P95 = quantileMS(0.95, merged)
	return p
}

// counterDelta is how much a counter grew between two samples; a counter that went back
// (its node restarted) grew by its new value, as Prometheus's rate() takes it.
func counterDelta(prev, cur sample, name string) (float64, bool) {
	pv, okp := prev.sums[name]
	cv, okc := cur.sums[name]
	if !okp || !okc {
		return 0, false
	}
	if cv < pv {
		return cv, true
	}
	return cv - pv, true
}

// bucketDeltas is the histogram of the observations between two samples: cumulative counts
// by upper bound. A histogram whose count went back (its node restarted) counts whole.
func bucketDeltas(prev, cur []bucket) map[float64]float64 {
	if len(cur) == 0 || len(prev) == 0 {
		return nil
	}
	before := map[float64]float64{}
	for _, b := range prev {
		before[b.le] = b.count
	}
	reset := cur[len(cur)-1].count < prev[len(prev)-1].count
	out := make(map[float64]float64, len(cur))
	for _, b := range cur {
		if reset {
			out[b.le] = b.count
		} else {
			out[b.le] = max(0, b.count-before[b.le])
		}
	}
	return out
}

// quantileMS estimates the q-quantile of a cumulative histogram (upper bound in seconds →
// count) in milliseconds, interpolating linearly within the bucket where it falls, as
// Prometheus's histogram_quantile does. Nil for an empty histogram.
func quantileMS(q float64, cum map[float64]float64) *float64 {
	if len(cum) == 0 {
		return nil
	}
	bs := make([]bucket, 0, len(cum))
	for le, c := range cum {
		bs = append(bs, bucket{le, c})
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	total := bs[len(bs)-1].count
	if total <= 0 {
		return nil
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				// Beyond the last finite bound: that bound is all that is known.
				if i == 0 {
					return nil
				}
				v := bs[i-1].le * 1000
				return &v
			}
			v := lower
			if b.count > below {
				v += (b.le - lower) * (rank - below) / (b.count - below)
			}
			v *= 1000
			return &v
		}
		lower, below = b.le, b.count
	}
	return nil
}
