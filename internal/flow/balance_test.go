package flow

import (
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// A deposit is recorded when none was for BalanceKeepEvery, on crossing the
// alert level either way, and first thing each Asia/Jakarta day; not for
// every answer that carries one.
func TestKeepBalance(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) // 17:00 in Jakarta
	last := &store.ProviderBalance{Provider: "klikoo", Balance: 5_000_000, ObservedAt: at}
	for _, tc := range []struct {
		name    string
		last    *store.ProviderBalance
		balance int64
		below   int64
		now     time.Time
		want    bool
	}{
		{"none recorded", nil, 5_000_000, 1_000_000, at, true},
		{"same, soon after", last, 5_000_000, 1_000_000, at.Add(10 * time.Second), false},
		{"changed, soon after", last, 4_990_000, 1_000_000, at.Add(10 * time.Second), false},
		{"changed, no level", last, 4_990_000, 0, at.Add(10 * time.Second), false},
		{"a minute after", last, 5_000_000, 1_000_000, at.Add(BalanceKeepEvery), true},
		{"crossed below the level", last, 900_000, 1_000_000, at.Add(time.Second), true},
		{"still below the level", &store.ProviderBalance{Balance: 900_000, ObservedAt: at}, 800_000, 1_000_000, at.Add(time.Second), false},
		{"back above the level", &store.ProviderBalance{Balance: 900_000, ObservedAt: at}, 1_100_000, 1_000_000, at.Add(time.Second), true},
		{"a new Jakarta day", &store.ProviderBalance{Balance: 5_000_000, ObservedAt: at.Add(6*time.Hour + 59*time.Minute + 30*time.Second)},
			5_000_000, 1_000_000, at.Add(7*time.Hour + 10*time.Second), true},
		{"the last one is ahead of this clock", last, 5_000_000, 1_000_000, at.Add(-time.Second), true},
	} {
		if got := keepBalance(tc.last, tc.balance, tc.below, tc.now); got != tc.want {
			t.Errorf("%s: keepBalance = %v, want %v", tc.name, got, tc.want)
		}
	}
}
