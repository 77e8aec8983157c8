package flow_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/flowtest"
	"github.com/ppob-orchestrator/orchestrator/internal/sandbox"
)

// How each of a purchase's jobs is inserted decides how soon it runs: a job
// due now is available, so its commit notifies River's producers and any
// fetch takes it (with a scheduled_at, even "now", it would be scheduled and
// wait for River's scheduler, up to 5 s); a job due within River's scheduler
// interval (the lookup after flowtest's 100 ms backoff) is available with
// its scheduled_at ahead, so the first fetch after it is due takes it; a job
// for later (a manual purchase's expiry, an hour on) is scheduled. A trigger
// records each insert, since a worker may take the job at once.
func TestJobsAreInsertedToRunOnTime(t *testing.T) {
	t.Parallel()
	b := flowtest.Setup(t, flowtest.Options{})
	ctx := context.Background()
	if _, err := b.Pool.Exec(ctx, `
		CREATE TABLE inserted_jobs (kind text, args jsonb, state text, ahead boolean);
		CREATE FUNCTION record_inserted_job() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO inserted_jobs VALUES (NEW.kind, NEW.args, NEW.state::text, NEW.scheduled_at > NEW.created_at);
			RETURN NEW;
		END $$;
		CREATE TRIGGER record_inserted_job AFTER INSERT ON river_job FOR EACH ROW EXECUTE FUNCTION record_inserted_job();`); err != nil {
		t.Fatal(err)
	}
	k := sandbox.KindNamed("klikoo-pln")
	// An inquiry, its payment, a pending answer (the lookup after the
	// backoff), then SUCCESS.
	auto := buy(t, b, "on-time-auto", k, "")
	// An inquiry, then confirmation awaited until the expiry.
	manual := buyWith(t, b, "on-time-manual", k, "", func(r *flow.CreateRequest) { r.Confirmation = "manual" })
	waitFor(t, b, auto.ID, flow.StatusSucceeded)
	waitFor(t, b, manual.ID, flow.StatusAwaitingConfirmation)

	inserted := func(id fmt.Stringer) map[string][]string {
		t.Helper()
		rows, err := b.Pool.Query(ctx, `SELECT kind || CASE WHEN args ? 'once' THEN ' once' ELSE '' END,
			state || CASE WHEN ahead THEN ' ahead' ELSE ' now' END
			FROM inserted_jobs WHERE args->>'purchase_id' = $1`, id.String())
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string][]string{}
		for rows.Next() {
			var job, how string
			if err := rows.Scan(&job, &how); err != nil {
				t.Fatal(err)
			}
			out[job] = append(out[job], how)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(name string, got map[string][]string, want map[string]string) {
		t.Helper()
		for job, how := range want {
			if len(got[job]) == 0 {
				t.Errorf("%s: no %s job inserted; every insert: %v", name, job, got)
			}
			for _, h := range got[job] {
				if h != how {
					t.Errorf("%s: %s inserted %s, want %s; every insert: %v", name, job, h, how, got)
				}
			}
		}
	}
	check("automatic", inserted(auto.ID), map[string]string{
		"purchase_inquiry": "available now", "purchase_payment": "available now", "purchase_lookup": "available ahead",
	})
	for _, h := range inserted(auto.ID)["purchase_lookup once"] { // a callback's lookup, if one came first
		if h != "available now" {
			t.Errorf("a callback's lookup inserted %s, want available now", h)
		}
	}
	check("manual", inserted(manual.ID), map[string]string{"purchase_inquiry": "available now", "purchase_expire": "scheduled ahead"})
}
