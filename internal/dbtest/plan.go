package dbtest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Statement is one statement a pool ran, with its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// Recorder is a pgx tracer (pgx.ConnConfig.Tracer) that keeps every
// statement a pool runs, so a test can EXPLAIN exactly what the code sent.
// It is safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	calls []Statement
}

// TraceQueryStart implements pgx.QueryTracer.
func (r *Recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	r.calls = append(r.calls, Statement{SQL: d.SQL, Args: d.Args})
	r.mu.Unlock()
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (r *Recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Take returns the statements recorded since the last Take.
func (r *Recorder) Take() []Statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// Reads is what a plan reads: the indexes it scans (Index), the condition
// it looks each up by (Cond; empty when it reads the whole index) and the
// tables it scans sequentially (Seq).
type Reads struct {
	Index map[string]bool
	Cond  map[string]string
	Seq   []string
}

// PlanReads returns what a plan of EXPLAIN (FORMAT JSON) reads.
func PlanReads(t testing.TB, plan string) Reads {
	t.Helper()
	var doc []struct{ Plan map[string]any }
	if err := json.Unmarshal([]byte(plan), &doc); err != nil {
		t.Fatal(err)
	}
	r := Reads{Index: map[string]bool{}, Cond: map[string]string{}}
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		if name, ok := n["Index Name"].(string); ok {
			r.Index[name] = true
			r.Cond[name], _ = n["Index Cond"].(string)
		}
		if n["Node Type"] == "Seq Scan" {
			r.Seq = append(r.Seq, n["Relation Name"].(string))
		}
		kids, _ := n["Plans"].([]any)
		for _, k := range kids {
			walk(k.(map[string]any))
		}
	}
	walk(doc[0].Plan)
	return r
}
