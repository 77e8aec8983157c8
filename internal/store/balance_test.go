package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Each provider's last known deposit is its newest observation, the last
// inserted among those of the same moment, read from the view that skips
// through the index (migrations/00011_big_tables.sql); a provider never
// observed has none.
func TestProviderBalanceLatest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := store.New(dbtest.NewPool(t))
	if got, err := q.ProviderBalanceLatestAll(ctx); err != nil || len(got) != 0 {
		t.Fatalf("no observation: %v, %v", got, err)
	}
	at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	for _, b := range []store.ProviderBalanceInsertParams{
		{Provider: "snapcart", Balance: 700, Source: "inquiry", ObservedAt: at.Add(-time.Hour)},
		{Provider: "klikoo", Balance: 100, Source: "lookup", ObservedAt: at},
		{Provider: "klikoo", Balance: 90, Source: "lookup", ObservedAt: at.Add(time.Minute)},
		{Provider: "klikoo", Balance: 80, Source: "balance", ObservedAt: at.Add(time.Minute)}, // same moment, inserted last
		{Provider: "klikoo", Balance: 999, Source: "lookup", ObservedAt: at.Add(-time.Hour)},  // late, older
		{Provider: "snapcart", Balance: 650, Source: "inquiry", ObservedAt: at},
		{Provider: "third", Balance: 5, Source: "balance", ObservedAt: at.Add(-48 * time.Hour)},
	} {
		if err := q.ProviderBalanceInsert(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	all, err := q.ProviderBalanceLatestAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ProviderBalanceLatest{
		{Provider: "klikoo", Balance: 80, ObservedAt: at.Add(time.Minute)},
		{Provider: "snapcart", Balance: 650, ObservedAt: at},
		{Provider: "third", Balance: 5, ObservedAt: at.Add(-48 * time.Hour)},
	}
	for i := range all {
		all[i].ObservedAt = all[i].ObservedAt.UTC()
	}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("latest %+v\nwant %+v", all, want)
	}
	list, err := q.ProviderBalanceLatestList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Provider != "klikoo" || list[0].Balance != 80 || list[2].Balance != 5 {
		t.Fatalf("metrics' list %+v", list)
	}
}
