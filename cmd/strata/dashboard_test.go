package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboardFile is the Grafana dashboard shipped with Strata.
var dashboardFile = filepath.Join("..", "..", "deploy", "grafana", "strata.json")

type grafanaPanel struct {
	ID          int    `json:"id"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's
}

type grafanaDashboard struct {
	Title         string         `json:"title"`
	UID           string         `json:"uid"`
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct{ Name, Type, Query string } `json:"list"`
	} `json:"templating"`
}

// readDashboard parses the dashboard and checks the shape Grafana's import needs: a title and
// uid, a Prometheus datasource variable every query uses, unique panel IDs, panels inside the
// 24-column grid, and a query in every graph.
func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion == 0 {
		t.Fatalf("%s: title %q, uid %q, schemaVersion %d", dashboardFile, d.Title, d.UID, d.SchemaVersion)
	}
	if !slices.ContainsFunc(d.Templating.List, func(v struct{ Name, Type, Query string }) bool {
		return v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus"
	}) {
		t.Fatalf("%s: no Prometheus datasource variable", dashboardFile)
	}
	ids := map[int]string{}
	for _, p := range dashboardPanels(d.Panels) {
		if other, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share ID %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: grid position %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: no query on the datasource variable", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" {
				t.Errorf("panel %q: a target without refId or expr", p.Title)
			}
		}
	}
	return d
}

func dashboardPanels(ps []grafanaPanel) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, dashboardPanels(p.Panels)...)
	}
	return out
}

var (
	promVariable = regexp.MustCompile(`\$\{?\w+\}?`)
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promLabels   = regexp.MustCompile(`\{[^}]*\}`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
)

// promMetricNames returns the metric names a PromQL expression reads: its identifiers that
// are not functions, aggregations, grouping labels, label matchers or variables.
func promMetricNames(expr string) []string {
	expr = promVariable.ReplaceAllString(expr, "")
	expr = promGrouping.ReplaceAllString(expr, "")
	expr = promLabels.ReplaceAllString(expr, "")
	expr = promRange.ReplaceAllString(expr, "")
	var out []string
	for _, m := range promIdent.FindAllString(expr, -1) {
		if strings.HasSuffix(m, "(") || m == "bool" || m == "offset" {
			continue // a function or an aggregation, or a keyword
		}
		out = append(out, m)
	}
	return out
}

func TestPromMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (kind) (rate(strata_sql_statements_total{kind="select"}[$__rate_interval]))`: {"strata_sql_statements_total"},
		`histogram_quantile(0.99, sum by (le, instance) (rate(x_bucket[5m])))`:               {"x_bucket"},
		`max(a) - b / 1048576`:                            {"a", "b"},
		`rate(a[1m]) / (rate(a[1m]) + rate(b_total[1m]))`: {"a", "a", "b_total"},
	} {
		if got := promMetricNames(expr); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
}

// TestDashboardShape checks the dashboard without a cluster; TestUpCluster checks its metric
// names against what a running cluster's nodes export (checkDashboardMetrics).
func TestDashboardShape(t *testing.T) {
	d := readDashboard(t)
	n := 0
	for _, p := range dashboardPanels(d.Panels) {
		for _, tg := range p.Targets {
			n += len(promMetricNames(tg.Expr))
		}
	}
	if n == 0 {
		t.Fatal("the dashboard reads no metric")
	}
}

// checkDashboardMetrics fails for every metric the dashboard reads that no node exports;
// exported holds the names (without labels) of every series the cluster's nodes expose.
func checkDashboardMetrics(t *testing.T, exported map[string]bool) {
	t.Helper()
	d := readDashboard(t)
	for _, p := range dashboardPanels(d.Panels) {
		for _, tg := range p.Targets {
			for _, name := range promMetricNames(tg.Expr) {
				if !exported[name] {
					t.Errorf("dashboard panel %q reads %s, which no node exports", p.Title, name)
				}
			}
		}
	}
}
