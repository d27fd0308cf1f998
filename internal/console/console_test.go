package console

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"strata/internal/meta"
	"strata/internal/placement"
)

// fakeSource serves a cluster a test sets.
type fakeSource struct {
	mu  sync.Mutex
	c   Cluster
	err error
}

func (f *fakeSource) Snapshot(context.Context) (Cluster, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.c, f.err
}

func (f *fakeSource) set(c Cluster, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.c, f.err = c, err
}

// testCluster is a cluster of 8 nodes, as `strata up` runs, whose pagestore-3 stopped
// publishing 10 s before now (its live key not yet expired) and whose compute node serves
// metrics at rwMetrics.
func testCluster(now time.Time, rwMetrics string) Cluster {
	fresh := now.Add(-300 * time.Millisecond)
	return Cluster{
		Epoch: 4,
		Nodes: []meta.Node{
			{Role: meta.RoleMeta, ID: "meta", Addr: "127.0.0.1:2379", PID: 10, State: meta.StateUp, Updated: fresh},
			{Role: meta.RoleLogStore, ID: "logstore-1", Addr: "127.0.0.1:7101", PID: 11, State: meta.StateUp, Epoch: 4, Durable: 1000, Applied: 1000, Updated: fresh},
			{Role: meta.RoleLogStore, ID: "logstore-2", Addr: "127.0.0.1:7102", PID: 12, State: meta.StateUp, Epoch: 4, Durable: 900, Applied: 900, Updated: fresh},
			{Role: meta.RoleLogStore, ID: "logstore-3", Addr: "127.0.0.1:7103", State: meta.StateDown}, // a member without a live key
			{Role: meta.RolePageStore, ID: "pagestore-1", Addr: "127.0.0.1:7201", PID: 21, State: meta.StateUp, Durable: 1000, Applied: 700, Persisted: 500, Updated: fresh},
			{Role: meta.RolePageStore, ID: "pagestore-2", Addr: "127.0.0.1:7202", PID: 22, State: meta.StateFailing, Durable: 1000, Applied: 1000, Persisted: 64, Updated: fresh},
			{Role: meta.RolePageStore, ID: "pagestore-3", Addr: "127.0.0.1:7203", PID: 23, State: meta.StateUp, Durable: 800, Applied: 800, Persisted: 800, Updated: now.Add(-10 * time.Second)},
			{Role: meta.RoleRW, ID: "rw", Addr: "127.0.0.1:3306", Metrics: rwMetrics, PID: 30, State: meta.StateUp, Epoch: 4, Durable: 1000, Applied: 990, Updated: fresh},
		},
		Placement: placement.Placement{SegmentPages: 4096, Default: []string{"pagestore-1", "pagestore-2", "pagestore-3"},
			Segments: map[uint64][]string{0: {"pagestore-1", "pagestore-2", "pagestore-4"}, 1: {"pagestore-1", "pagestore-2", "pagestore-4"},
				2: {"pagestore-1", "pagestore-2", "pagestore-4"}, 7: {"pagestore-1", "pagestore-2", "pagestore-3"}},
			Moving: map[uint64]placement.Move{7: {From: "pagestore-3", To: "pagestore-4"}}},
	}
}

func TestBuildView(t *testing.T) {
	now := time.Now()
	v := buildView(testCluster(now, ""), now)
	if v.Durable != 1000 || v.Epoch != 4 || v.Up != 6 || v.Down != 2 {
		t.Fatalf("durable %d epoch %d up %d down %d", v.Durable, v.Epoch, v.Up, v.Down)
	}
	by := map[string]NodeView{}
	for _, n := range v.Nodes {
		by[n.ID] = n
	}
	lagOf := func(p *uint64) int64 {
		if p == nil {
			return -1
		}
		return int64(*p)
	}
	for _, c := range []struct {
		id           string
		state        string
		down         bool
		lag, persist int64 // -1: none
	}{
		{"meta", "up", false, -1, -1},
		{"logstore-1", "up", false, 0, -1},
		{"logstore-2", "up", false, 100, -1},
		{"logstore-3", "down", true, -1, -1},
		{"pagestore-1", "up", false, 300, 500},
		{"pagestore-2", "failing", false, 0, 936},
		{"pagestore-3", "down", true, -1, -1}, // its heartbeat is 10 s old
		{"rw", "up", false, -1, -1},
	} {
		n := by[c.id]
		if n.State != c.state || n.Down != c.down || lagOf(n.Lag) != c.lag || lagOf(n.PersistLag) != c.persist {
			t.Errorf("%s: state %s down %v lag %d persist lag %d; want %s %v %d %d", c.id, n.State, n.Down,
				lagOf(n.Lag), lagOf(n.PersistLag), c.state, c.down, c.lag, c.persist)
		}
	}
	if a := by["pagestore-3"].HeartbeatAge; a == nil || *a < 9.9 {
		t.Errorf("pagestore-3 heartbeat age %v", a)
	}
	if by["logstore-3"].HeartbeatAge != nil {
		t.Error("a member without a live key has a heartbeat age")
	}
	want := map[string]StoreSegments{
		"pagestore-1": {ID: "pagestore-1", Default: true, Listed: "0-2,7", NListed: 4},
		"pagestore-3": {ID: "pagestore-3", Default: true, Listed: "7", NListed: 1, MovingOut: "7"},
		"pagestore-4": {ID: "pagestore-4", Listed: "0-2", NListed: 3, MovingIn: "7"},
	}
	if len(v.Segments.Stores) != 4 || v.Segments.SegmentPages != 4096 {
		t.Fatalf("segments %+v", v.Segments)
	}
	for _, s := range v.Segments.Stores {
		if w, ok := want[s.ID]; ok && s != w {
			t.Errorf("segments of %s: %+v, want %+v", s.ID, s, w)
		}
	}
	if s := by["pagestore-3"].Segments; s != "every unlisted + 1 listed, moving out 7" {
		t.Errorf("pagestore-3 segments %q", s)
	}

	// With the compute node down, the durable LSN is the highest a live node publishes.
	c := testCluster(now, "")
	c.Nodes[7].State = meta.StateDown
	c.Nodes[1].Durable = 1200
	if v := buildView(c, now); v.Durable != 1200 {
		t.Errorf("durable without a compute node %d, want 1200", v.Durable)
	}
}

func TestRanges(t *testing.T) {
	for _, c := range []struct {
		in   []uint64
		want string
	}{{nil, ""}, {[]uint64{3}, "3"}, {[]uint64{5, 1, 2, 3, 9, 10, 2}, "1-3,5,9-10"}} {
		if got := ranges(c.in); got != c.want {
			t.Errorf("ranges(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// metricsNode is a compute node's metrics as an httptest server: the console's own metric
// definitions, served by the Prometheus client.
type metricsNode struct {
	srv     *httptest.Server
	stmts   *prometheus.CounterVec
	dur     *prometheus.HistogramVec
	visible prometheus.Gauge
}

func newMetricsNode(t *testing.T) *metricsNode {
	reg := prometheus.NewRegistry()
	m := &metricsNode{
		stmts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: mStatements}, []string{"kind"}),
		dur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: mDuration,
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 20)}, []string{"kind"}),
		visible: prometheus.NewGauge(prometheus.GaugeOpts{Name: mVisibleLSN}),
	}
	reg.MustRegister(m.stmts, m.dur, m.visible)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

func (m *metricsNode) run(kind string, n int, d time.Duration) {
	for range n {
		m.stmts.WithLabelValues(kind).Inc()
		m.dur.WithLabelValues(kind).Observe(d.Seconds())
	}
}

func scrapeT(t *testing.T, addr string, at time.Time) sample {
	t.Helper()
	s, err := scrape(context.Background(), http.DefaultClient, addr, "")
	if err != nil {
		t.Fatal(err)
	}
	s.at = at
	return s
}

func TestDeriveFromTwoScrapes(t *testing.T) {
	m := newMetricsNode(t)
	addr := strings.TrimPrefix(m.srv.URL, "http://")
	// Before the first scrape: slow statements that the interval must not count.
	m.run("select", 50, time.Second)
	m.visible.Set(5000)
	t0 := time.Unix(1000, 0)
	first := scrapeT(t, addr, t0)
	// In the interval: 80 selects of 3 ms and 20 inserts of 3 ms, all in the (1.6, 3.2] ms
	// bucket; 8000 log bytes made visible; over 2 s.
	m.run("select", 80, 3*time.Millisecond)
	m.run("insert", 20, 3*time.Millisecond)
	m.visible.Set(13000)
	second := scrapeT(t, addr, t0.Add(2*time.Second))
	p := derive(map[string]sample{"rw/rw": first}, map[string]sample{"rw/rw": second}, t0.Add(2*time.Second))
	near := func(name string, got *float64, want float64) {
		t.Helper()
		if got == nil || *got < want-1e-9 || *got > want+1e-9 {
			t.Errorf("%s = %v, want %v", name, deref(got), want)
		}
	}
	near("statements/s", p.Statements, 50)
	near("redo bytes/s", p.RedoBytes, 4000)
	near("p50 ms", p.P50, 1.6+1.6*0.5)
	near("p95 ms", p.P95, 1.6+1.6*0.95)
	if p.Records != nil {
		t.Errorf("records/s %v from a node that exports none", *p.Records)
	}
	if p.T != t0.Add(2*time.Second).UnixMilli() {
		t.Errorf("point time %d", p.T)
	}

	// No statement in the interval: a rate of 0 and no latency.
	third := scrapeT(t, addr, t0.Add(4*time.Second))
	p = derive(map[string]sample{"rw/rw": second}, map[string]sample{"rw/rw": third}, t0.Add(4*time.Second))
	near("idle statements/s", p.Statements, 0)
	if p.P50 != nil || p.P95 != nil {
		t.Errorf("latency of no statement: %v %v", deref(p.P50), deref(p.P95))
	}
	// A node seen once adds nothing.
	p = derive(map[string]sample{}, map[string]sample{"rw/rw": third}, t0)
	if p.Statements != nil || p.RedoBytes != nil {
		t.Errorf("a node seen once gave %v %v", deref(p.Statements), deref(p.RedoBytes))
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestDeriveCounterReset(t *testing.T) {
	t0 := time.Unix(1000, 0)
	prev := map[string]sample{
		"pagestore/a": {at: t0, sums: map[string]float64{mRecords: 500}},
		"pagestore/b": {at: t0, sums: map[string]float64{mRecords: 100}},
		"rw/rw": {at: t0, sums: map[string]float64{mStatements: 900},
			buckets: []bucket{{0.001, 800}, {0.01, 900}, {inf(), 900}}},
	}
	cur := map[string]sample{
		"pagestore/a": {at: t0.Add(time.Second), sums: map[string]float64{mRecords: 40}}, // restarted
		"pagestore/b": {at: t0.Add(2 * time.Second), sums: map[string]float64{mRecords: 300}},
		"rw/rw": {at: t0.Add(time.Second), sums: map[string]float64{mStatements: 10}, // restarted
			buckets: []bucket{{0.001, 0}, {0.01, 10}, {inf(), 10}}},
	}
	p := derive(prev, cur, t0.Add(2*time.Second))
	if p.Records == nil || *p.Records != 40+100 {
		t.Errorf("records/s %v, want 140", deref(p.Records))
	}
	if p.Statements == nil || *p.Statements != 10 {
		t.Errorf("statements/s %v, want 10", deref(p.Statements))
	}
	if p.P50 == nil || math.Abs(*p.P50-5.5) > 1e-9 { // 10 in (1, 10] ms: the middle
		t.Errorf("p50 %v, want 5.5", deref(p.P50))
	}
}

func TestQuantileBeyondLastBucket(t *testing.T) {
	got := quantileMS(0.95, map[float64]float64{0.001: 1, 0.002: 2, inf(): 100})
	if got == nil || *got != 2 {
		t.Errorf("p95 beyond the last bound: %v, want 2 (ms)", deref(got))
	}
	if quantileMS(0.5, map[float64]float64{0.001: 0, inf(): 0}) != nil {
		t.Error("a quantile of an empty histogram")
	}
}

func TestScrapeAuth(t *testing.T) {
	if a := scrapeAuth("127.0.0.1:9100", "s"); a != "" {
		t.Errorf("a loopback scrape carries %q", a)
	}
	if a := scrapeAuth("10.1.2.3:9100", "s"); a != "Bearer s" {
		t.Errorf("a scrape beyond loopback carries %q", a)
	}
	if _, err := scrape(context.Background(), http.DefaultClient, "127.0.0.1:1", ""); err == nil {
		t.Error("a scrape of a closed port succeeded")
	}
}

func listen(t *testing.T, src Source, interval time.Duration) *Server {
	t.Helper()
	s, err := Listen(context.Background(), Options{Addr: "127.0.0.1:0", Source: src, Interval: interval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestServePageAndJSON(t *testing.T) {
	m := newMetricsNode(t)
	now := time.Now()
	src := &fakeSource{c: testCluster(now, strings.TrimPrefix(m.srv.URL, "http://"))}
	s := listen(t, src, 50*time.Millisecond)

	code, page := get(t, s.URL())
	if code != http.StatusOK {
		t.Fatalf("GET /: %d\n%s", code, page)
	}
	for _, want := range []string{
		`<tr data-node="logstore-2" data-role="logstore" data-state="up">`,
		`<tr data-node="pagestore-3" data-role="pagestore" data-state="down" class="down">`,
		`<tr data-node="rw" data-role="rw" data-state="up">`,
		`<td class="n">100 B</td>`, // logstore-2's lag
		`<tr data-store="pagestore-4">`,
		`src="/static/console.js"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if code, js := get(t, "http://"+s.Addr()+"/static/console.js"); code != http.StatusOK || !strings.Contains(js, "/api/cluster") {
		t.Errorf("console.js: %d", code)
	}
	if code, _ := get(t, "http://"+s.Addr()+"/nosuch"); code != http.StatusNotFound {
		t.Errorf("GET /nosuch: %d", code)
	}
	if resp, err := http.Post(s.URL(), "text/plain", strings.NewReader("x")); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Statements run while the console scrapes show in the JSON's series.
	deadline := time.Now().Add(10 * time.Second)
	var v View
	for {
		m.run("select", 10, 2*time.Millisecond)
		code, body := get(t, "http://"+s.Addr()+"/api/cluster")
		if code != http.StatusOK {
			t.Fatalf("GET /api/cluster: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		n := len(v.Series.Points)
		if n > 0 && v.Series.Points[n-1].Statements != nil && *v.Series.Points[n-1].Statements > 0 && v.Series.Points[n-1].P50 != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statements in the series: %+v", v.Series)
		}
		time.Sleep(30 * time.Millisecond)
	}
	if p50 := *v.Series.Points[len(v.Series.Points)-1].P50; p50 <= 1.6 || p50 > 3.2 {
		t.Errorf("p50 %v ms of 2 ms statements", p50)
	}
	if v.Down != 2 || len(v.Nodes) != 8 || v.Error != "" {
		t.Errorf("view: down %d, %d nodes, error %q", v.Down, len(v.Nodes), v.Error)
	}

	// The control plane stops answering: the last state is served, with the error.
	src.set(Cluster{}, errors.New("etcd is away"))
	time.Sleep(snapshotMaxAge + 50*time.Millisecond)
	_, body := get(t, "http://"+s.Addr()+"/api/cluster")
	v = View{}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v.Error, "etcd is away") || len(v.Nodes) != 8 {
		t.Errorf("with the control plane away: error %q, %d nodes", v.Error, len(v.Nodes))
	}
}

func TestListenPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, err = Listen(context.Background(), Options{Addr: addr, Source: &fakeSource{}})
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("a console port in use: %v", err)
	}
	if _, err := Listen(context.Background(), Options{Addr: "no-port", Source: &fakeSource{}}); err == nil {
		t.Fatal("an address without a port was accepted")
	}
}

func TestBeyondLoopback(t *testing.T) {
	// Refused without a secret or a password, before anything is bound.
	for _, addr := range []string{"0.0.0.0:0", "10.1.2.3:0", "[::]:0"} {
		_, err := Listen(context.Background(), Options{Addr: addr, Source: &fakeSource{}})
		if !errors.Is(err, ErrNoSecret) {
			t.Errorf("%s without a secret: %v", addr, err)
		}
	}
	// With them, every request must carry one (the handler of a console beyond loopback,
	// tested without binding beyond it).
	now := time.Now()
	s := &Server{opts: Options{Source: &fakeSource{c: testCluster(now, "")}, Secret: "s3cret", Password: "pw"}}
	page, err := parsePage()
	if err != nil {
		t.Fatal(err)
	}
	s.page = page
	h := s.handler()
	for _, c := range []struct {
		name string
		set  func(*http.Request)
		want int
	}{
		{"nothing", func(*http.Request) {}, http.StatusUnauthorized},
		{"a wrong password", func(r *http.Request) { r.SetBasicAuth("strata", "nope") }, http.StatusUnauthorized},
		{"an empty bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, http.StatusUnauthorized},
		{"the secret as password", func(r *http.Request) { r.SetBasicAuth("strata", "s3cret") }, http.StatusOK},
		{"the password", func(r *http.Request) { r.SetBasicAuth("anyone", "pw") }, http.StatusOK},
		{"the secret as bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }, http.StatusOK},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://console.example:8080/api/cluster", nil)
		c.set(r)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s: %d, want %d", c.name, w.Code, c.want)
		}
		if w.Code == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: no basic authentication asked for", c.name)
		}
	}
}

func TestLoopbackOnlyAnswersLoopbackHosts(t *testing.T) {
	s := listen(t, &fakeSource{c: testCluster(time.Now(), "")}, time.Second)
	for host, want := range map[string]int{"": http.StatusOK, "localhost": http.StatusOK, "[::1]:80": http.StatusOK,
		"rebound.example.com": http.StatusForbidden, "rebound.example.com:" + strings.Split(s.Addr(), ":")[1]: http.StatusForbidden} {
		req, err := http.NewRequest(http.MethodGet, s.URL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

func TestReadMetricsNamesTheConstants(t *testing.T) {
	all := map[string]bool{}
	for _, names := range ReadMetrics() {
		for _, n := range names {
			all[n] = true
		}
	}
	for _, n := range []string{mStatements, mDuration + "_bucket", mVisibleLSN, mRecords} {
		if !all[n] {
			t.Errorf("ReadMetrics lacks %s", n)
		}
	}
}

func inf() float64 { return math.Inf(1) }
