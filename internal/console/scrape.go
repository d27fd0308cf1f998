package console

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"strata/internal/meta"
	"strata/internal/metrics"
)

// Metrics the console reads from the nodes (ReadMetrics lists them as a scrape shows them).
const (
	mStatements = "strata_sql_statements_total"           // compute: counter, by kind
	mDuration   = "strata_sql_statement_duration_seconds" // compute: histogram, by kind
	mVisibleLSN = "strata_engine_visible_lsn"             // compute: gauge, a byte position in the log
	mRecords    = "strata_pagestore_records_total"        // Page Store: counter
)

// ReadMetrics returns, by role, the series names the console reads from a node's /metrics,
// as the text exposition shows them (a histogram by its _bucket series).
func ReadMetrics() map[string][]string {
	return map[string][]string{
		meta.RoleRW:        {mStatements, mDuration + "_bucket", mVisibleLSN},
		meta.RolePageStore: {mRecords},
	}
}

// scraped says whether the console scrapes nodes of a role: those that export what it reads.
func scraped(role string) bool {
	return role == meta.RoleRW || role == meta.RoleRO || role == meta.RolePageStore
}

// maxScrape bounds the bytes read from one node's /metrics.
const maxScrape = 16 << 20

// sample is what the console keeps of one scrape of one node.
type sample struct {
	at time.Time
	// sums holds, for each metric the console reads that the node exports, the sum of its
	// series (over kinds).
	sums map[string]float64
	// buckets is the statement duration histogram summed over kinds: cumulative counts by
	// upper bound, +Inf last; nil when the node exports none.
	buckets []bucket
}

type bucket struct{ le, count float64 }

// scrape reads one node's metrics at addr (host:port), with the cluster secret as a bearer
// token when addr is beyond loopback.
func scrape(ctx context.Context, client *http.Client, addr, secret string) (sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return sample{}, fmt.Errorf("scrape %s: %w", addr, err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	if a := scrapeAuth(addr, secret); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := client.Do(req)
	if err != nil {
		return sample{}, fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return sample{}, fmt.Errorf("scrape %s: %s", addr, resp.Status)
	}
	s, err := parseSample(io.LimitReader(resp.Body, maxScrape))
	if err != nil {
		return sample{}, fmt.Errorf("scrape %s: %w", addr, err)
	}
	s.at = time.Now()
	return s, nil
}

// scrapeAuth is the Authorization header of a scrape of addr: the cluster secret as a bearer
// token beyond loopback (where a node's metrics server requires it), none on loopback.
func scrapeAuth(addr, secret string) string {
	if metrics.Loopback(addr) || secret == "" {
		return ""
	}
	return "Bearer " + secret
}

// parseSample reads a text exposition and keeps what the console reads.
func parseSample(r io.Reader) (sample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return sample{}, err
	}
	s := sample{sums: map[string]float64{}}
	for _, name := range []string{mStatements, mVisibleLSN, mRecords} {
		f, ok := fams[name]
		if !ok {
			continue
		}
		var sum float64
		for _, m := range f.GetMetric() {
			sum += value(m)
		}
		s.sums[name] = sum
	}
	if f, ok := fams[mDuration]; ok && f.GetType() == dto.MetricType_HISTOGRAM {
		byLE := map[float64]float64{}
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			if h == nil {
				continue
			}
			for _, b := range h.GetBucket() {
				byLE[b.GetUpperBound()] += float64(b.GetCumulativeCount())
			}
			if !hasInf(h.GetBucket()) {
				byLE[math.Inf(1)] += float64(h.GetSampleCount())
			}
		}
		for le, c := range byLE {
			s.buckets = append(s.buckets, bucket{le, c})
		}
		slices.SortFunc(s.buckets, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	}
	return s, nil
}

func hasInf(bs []*dto.Bucket) bool {
	for _, b := range bs {
		if math.IsInf(b.GetUpperBound(), 1) {
			return true
		}
	}
	return false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}
