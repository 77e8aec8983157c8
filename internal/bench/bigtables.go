package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/bench/benchdb"
)

// The big-tables part of `orchestrator bench --preload N`: does a year of
// history slow down what the service and its operators run every day?
//
// The "empty" database is the last 24 hours only: N/365 purchases (at
// least 200), as many as a day of the year holds. The probes run on it;
// then the other purchases of the N fill the 364 days before, and the
// probes run again on the same targets, at the same moment. What changed
// between the two runs is the history alone, so a probe that slows down
// reads history it should not.

// OverRatio is how much slower than on the empty database a probe may be.
const OverRatio = 2

// overFloorMS is the difference below which a probe is never over: under
// a millisecond, a shared machine's noise is larger than any scan of a
// big table.
const overFloorMS = 1.0

// ProbeComparison is one probe on the empty and on the preloaded database.
type ProbeComparison struct {
	Name             string  `json:"name"`
	EmptyMS          float64 `json:"empty_ms"`
	PreloadedMS      float64 `json:"preloaded_ms"`
	Ratio            float64 `json:"ratio"`
	EmptyBuffers     int64   `json:"empty_buffers"`
	PreloadedBuffers int64   `json:"preloaded_buffers"`
	Over             bool    `json:"over"` // more than OverRatio times slower (and by more than a millisecond)
}

// PreloadReport is what --preload did and found.
type PreloadReport struct {
	N                     int               `json:"n"`
	LastDay               PreloadStats      `json:"last_day"`
	History               *PreloadStats     `json:"history,omitempty"`
	Empty                 []ProbeResult     `json:"probes_empty"`
	Preloaded             []ProbeResult     `json:"probes_preloaded"`
	Comparison            []ProbeComparison `json:"comparison"`
	EmptyReconcileSeconds float64           `json:"empty_reconcile_s"`
	ReconcileSeconds      float64           `json:"reconcile_s"` // on the preloaded database
	TableBytes            map[string]int64  `json:"table_bytes"` // after the preload
}

// Over returns the probes over OverRatio.
func (r *PreloadReport) Over() []ProbeComparison {
	var out []ProbeComparison
	for _, c := range r.Comparison {
		if c.Over {
			out = append(out, c)
		}
	}
	return out
}

// targets are the target of each probe: within OverRatio of the
// empty database. None without a preload.
func (p *PreloadResult) targets() []TargetCheck {
	if p == nil || p.Report == nil {
		return nil
	}
	var out []TargetCheck
	for _, c := range p.Report.Comparison {
		out = append(out, TargetCheck{Name: "preload " + c.Name, Value: c.Ratio, Limit: fmt.Sprintf("<= %d× the empty database's", OverRatio), Met: !c.Over})
	}
	return out
}

// PreloadPlan is what BigTables does.
type PreloadPlan struct {
	N          int       // purchases in all
	ExplainOut string    // write every probe's plans here ("": don't)
	Log        io.Writer // progress and the comparison table
}

// BigTables preloads plan.N purchases in two parts around two rounds of
// probes (see the top of this file) and compares the rounds. The catalog
// must be in the database (flow.SeedCatalog).
func BigTables(ctx context.Context, pool *pgxpool.Pool, plan PreloadPlan) (*PreloadReport, error) {
	rep := &PreloadReport{N: plan.N}
	log := plan.Log
	if log == nil {
		log = io.Discard
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	day := min(max((plan.N+364)/365, 200), plan.N)
	fmt.Fprintf(log, "preload: the last 24 hours: %d purchases...\n", day)
	last, err := Preload(ctx, pool, PreloadOptions{N: day, Tag: "day", Span: 24 * time.Hour, Now: now, Progress: log})
	if err != nil {
		return rep, err
	}
	rep.LastDay = last
	targets, err := FindProbeTargets(ctx, pool, last.Clients[0])
	if err != nil {
		return rep, err
	}
	fmt.Fprintln(log, "preload: probing the database of one day...")
	if rep.Empty, err = Probe(ctx, pool, targets, now); err != nil {
		return rep, err
	}
	if rest := plan.N - day; rest > 0 {
		fmt.Fprintf(log, "preload: the 364 days before: %d purchases...\n", rest)
		hist, err := Preload(ctx, pool, PreloadOptions{N: rest, Tag: "pre", ClientIDs: last.Clients, Span: 364 * 24 * time.Hour,
			Now: now.Add(-24 * time.Hour), Progress: log})
		if err != nil {
			return rep, err
		}
		rep.History = &hist
	}
	fmt.Fprintln(log, "preload: probing the database of a year...")
	if rep.Preloaded, err = Probe(ctx, pool, targets, now); err != nil {
		return rep, err
	}
	rep.Comparison = compareProbes(rep.Empty, rep.Preloaded)
	for _, p := range rep.Empty {
		if p.Name == reconcileProbe {
			rep.EmptyReconcileSeconds = p.MedianMS / 1000
		}
	}
	for _, p := range rep.Preloaded {
		if p.Name == reconcileProbe {
			rep.ReconcileSeconds = p.MedianMS / 1000
		}
	}
	sizes, err := benchdb.New(pool).PreloadTableBytes(ctx)
	if err != nil {
		return rep, fmt.Errorf("preload: table sizes: %w", err)
	}
	rep.TableBytes = map[string]int64{}
	for _, s := range sizes {
		rep.TableBytes[s.Name] = s.Bytes
	}
	rep.print(log)
	// The runs that follow measure this process's peak RSS: give back what
	// the preload's batches held.
	debug.FreeOSMemory()
	if plan.ExplainOut != "" {
		if err := os.WriteFile(plan.ExplainOut, []byte(rep.Plans()), 0o644); err != nil {
			return rep, fmt.Errorf("--explain-out: %w", err)
		}
	}
	return rep, nil
}

// reconcileProbe is the reconciliation probe's name.
const reconcileProbe = "reconcile --since 24h"

func compareProbes(empty, preloaded []ProbeResult) []ProbeComparison {
	var out []ProbeComparison
	for i, e := range empty {
		if i >= len(preloaded) || preloaded[i].Name != e.Name {
			break
		}
		p := preloaded[i]
		c := ProbeComparison{Name: e.Name, EmptyMS: e.MedianMS, PreloadedMS: p.MedianMS,
			EmptyBuffers: e.Buffers(), PreloadedBuffers: p.Buffers()}
		if e.MedianMS > 0 {
			c.Ratio = round(p.MedianMS/e.MedianMS, 2)
		}
		c.Over = p.MedianMS > OverRatio*e.MedianMS && p.MedianMS-e.MedianMS > overFloorMS
		out = append(out, c)
	}
	return out
}

func (r *PreloadReport) print(w io.Writer) {
	fmt.Fprintf(w, "%-30s %10s %12s %7s %22s\n", "probe", "empty ms", "preloaded ms", "ratio", "buffers empty→preloaded")
	for _, c := range r.Comparison {
		mark := ""
		if c.Over {
			mark = fmt.Sprintf("  OVER %dx", OverRatio)
		}
		fmt.Fprintf(w, "%-30s %10.2f %12.2f %7.2f %10d → %-10d%s\n", c.Name, c.EmptyMS, c.PreloadedMS, c.Ratio, c.EmptyBuffers, c.PreloadedBuffers, mark)
	}
	var total int64
	var parts []string
	for _, t := range []string{"purchases", "purchase_events", "provider_calls", "callbacks", "callback_digests", "provider_balances", "purchase_attempts", "alerts"} {
		total += r.TableBytes[t]
		parts = append(parts, fmt.Sprintf("%s %.0f", t, float64(r.TableBytes[t])/float64(r.N)))
	}
	fmt.Fprintf(w, "preload: %.0f bytes per preloaded purchase (%s)\n", float64(total)/float64(r.N), strings.Join(parts, ", "))
}

// Plans is every probe's statements and plans, on both databases, as text.
func (r *PreloadReport) Plans() string {
	var b strings.Builder
	for _, round := range []struct {
		name   string
		probes []ProbeResult
	}{{"empty database (the last 24 hours)", r.Empty}, {fmt.Sprintf("preloaded database (%d purchases over a year)", r.N), r.Preloaded}} {
		for _, p := range round.probes {
			fmt.Fprintf(&b, "==== %s — %s: median %.2f ms\n", p.Name, round.name, p.MedianMS)
			for _, s := range p.Statements {
				fmt.Fprintf(&b, "---- %s (%.3f ms, %d buffers)\n%s\n", s.Query, s.MS, s.Buffers, s.Plan)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
