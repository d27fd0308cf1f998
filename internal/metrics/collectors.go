package metrics

import "github.com/prometheus/client_golang/prometheus"

// CounterFunc is a counter strata_SUB_NAME read from f at each scrape.
func CounterFunc(sub, name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help}, f)
}

// GaugeFunc is a gauge strata_SUB_NAME read from f at each scrape.
func GaugeFunc(sub, name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help}, f)
}

// LatencyBuckets are the buckets of every latency histogram: 50 µs doubling to about 26 s.
func LatencyBuckets() []float64 { return prometheus.ExponentialBuckets(0.00005, 2, 20) }

// Latency is a latency histogram strata_SUB_NAME in seconds, with LatencyBuckets.
func Latency(sub, name, help string) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: sub,
		Name: name, Help: help, Buckets: LatencyBuckets()})
}
