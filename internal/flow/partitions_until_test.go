package flow

import (
	"testing"
	"time"
)

// The last month made ahead is counted in months from the month of now,
// whatever its day: on the 30th or 31st a day-based AddDate runs into the
// month after (30 November + 3 months = 2 March), past the migration's
// months, and every start made a partition.
func TestPartitionsUntil(t *testing.T) {
	for _, tc := range []struct{ now, want string }{
		{"2026-11-30T14:38:19Z", "2027-02-01T00:00:00+07:00"},
		{"2026-11-30T17:00:00Z", "2027-03-01T00:00:00+07:00"}, // already 1 December in Jakarta
		{"2026-08-31T10:00:00Z", "2026-11-01T00:00:00+07:00"},
		{"2027-01-31T10:00:00Z", "2027-04-01T00:00:00+07:00"},
		{"2026-12-15T00:00:00Z", "2027-03-01T00:00:00+07:00"},
	} {
		now, _ := time.Parse(time.RFC3339, tc.now)
		want, _ := time.Parse(time.RFC3339, tc.want)
		if got := partitionsUntil(now); !got.Equal(want) {
			t.Errorf("partitionsUntil(%s) = %s, want %s", tc.now, got, want)
		}
	}
}
