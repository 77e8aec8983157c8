package store_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/dbtest"
)

// Queries that read the open purchases list their statuses (IN) rather than
// excluding the terminal ones, for the planner's sake (PurchaseListStale's
// comment). Each such list must hold every open status exactly: the
// statuses the database's state machine (purchase_transitions) lets a
// purchase leave. A status added later without its list would leave its
// purchases unswept and uncounted.
func TestOpenStatusListsInQueries(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	rows, err := pool.Query(context.Background(),
		"SELECT DISTINCT from_status::text FROM purchase_transitions ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	var open []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		open = append(open, s)
	}
	if err := rows.Err(); err != nil || len(open) < 5 {
		t.Fatalf("open statuses %v: %v", open, err)
	}

	list := regexp.MustCompile(`status IN \(([^)]*)\)`)
	files, err := filepath.Glob("queries/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no query files: %v", err)
	}
	found := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list.FindAllStringSubmatch(string(b), -1) {
			var got []string
			for _, v := range strings.Split(m[1], ",") {
				got = append(got, strings.Trim(strings.TrimSpace(v), "'"))
			}
			if !slices.Contains(got, "received") { // a list of some statuses, not of the open ones
				continue
			}
			found++
			slices.Sort(got)
			if !slices.Equal(got, open) {
				t.Errorf("%s: %q lists %v, want the open statuses %v", f, m[0], got, open)
			}
		}
	}
	if found < 2 {
		t.Fatalf("found %d lists of the open statuses in the queries, want PurchaseListStale's and ReconOpenByStatusList's", found)
	}
}
