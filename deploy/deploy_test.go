// Package deploy holds what operators deploy beside the binary: the
// Prometheus alert rules (prometheus/, checked by promtool in `make
// check-alerts`) and the Grafana dashboard (grafana/). Its test keeps them
// and docs/observability.md in agreement.
package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// metricRe finds metric names in PromQL: a name with an underscore
// followed by a selector, a range or the end of an aggregation.
var metricRe = regexp.MustCompile(`\b([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\s*[{\[)]`)

// metrics returns the metric names exprs use, histogram series folded
// into their histogram.
func metrics(exprs ...string) map[string]bool {
	out := map[string]bool{}
	for _, e := range exprs {
		for _, m := range metricRe.FindAllStringSubmatch(e, -1) {
			name := m[1]
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if strings.HasSuffix(name, "_seconds"+suffix) {
					name = strings.TrimSuffix(name, suffix)
				}
			}
			out[name] = true
		}
	}
	return out
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The alert rules, the dashboard and docs/observability.md speak of the
// same metrics; every alert has its runbook entry and every entry its alert.
func TestAlertsDashboardAndDocsAgree(t *testing.T) {
	t.Parallel()
	rules := read(t, "prometheus/alerts.yml")
	doc := read(t, "../docs/observability.md")

	var dash struct {
		Panels []struct {
			Type, Title string
			Targets     []struct{ Expr string }
		}
	}
	if err := json.Unmarshal([]byte(read(t, "grafana/orchestrator.json")), &dash); err != nil {
		t.Fatalf("grafana/orchestrator.json: %v", err)
	}
	var dashExprs []string
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			dashExprs = append(dashExprs, q.Expr)
		}
	}

	// The metrics table of docs/observability.md.
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(doc, -1) {
		documented[m[1]] = true
	}
	inRules, inDash := metrics(rules), metrics(dashExprs...)
	if len(inRules) < 15 || len(documented) < 15 {
		t.Fatalf("read %d metrics from the rules and %d from the docs: %v %v", len(inRules), len(documented), keys(inRules), keys(documented))
	}
	for m := range inRules {
		if !inDash[m] {
			t.Errorf("the alert rules use %s, the dashboard does not show it", m)
		}
	}
	for m := range inDash {
		if !documented[m] {
			t.Errorf("the dashboard shows %s, docs/observability.md does not list it", m)
		}
	}

	// Each alert's runbook entry, and no entry without its alert.
	alerts := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+- alert: (\w+)\n(?:\s+.*\n)*?\s+runbook: (\S+)`).FindAllStringSubmatch(rules, -1) {
		alerts[m[1]] = true
		if want := "docs/observability.md#" + strings.ToLower(m[1]); m[2] != want {
			t.Errorf("alert %s's runbook is %s, want %s", m[1], m[2], want)
		}
	}
	if n := strings.Count(rules, "- alert: "); n != len(alerts) {
		t.Fatalf("%d alerts, %d with a runbook annotation", n, len(alerts))
	}
	_, runbook, _ := strings.Cut(doc, "\n## Alerts\n")
	runbook, _, _ = strings.Cut(runbook, "\n## ")
	entries := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^### (\w+)$`).FindAllStringSubmatch(runbook, -1) {
		entries[m[1]] = true
	}
	for a := range alerts {
		if !entries[a] {
			t.Errorf("alert %s has no runbook entry (### %s) in docs/observability.md", a, a)
		}
	}
	for e := range entries {
		if !alerts[e] {
			t.Errorf("docs/observability.md has a runbook entry for %s, which is no alert", e)
		}
	}
}
