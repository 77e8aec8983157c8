package klikoo

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// TestHistoryMatchesReferenceExactly: the simulator's q is a substring
// search, so rows whose reference merely contains ours come back; the
// client must take only the exact one.
func TestHistoryMatchesReferenceExactly(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ref := uuid.NewString()
	for _, other := range []string{ref + "-retry", "x" + ref} {
		if p := e.pay(t, other, s10, "081234567800", s10.price); p.Outcome != providers.Pending {
			t.Fatalf("pay %s: %v", other, p.Result)
		}
	}
	st := e.lookup(ref, "")
	if st.Outcome != providers.NotFound {
		t.Fatalf("lookup of an unused reference: %v", st.Result)
	}
	if resp := lastCall(t, st.Result).Response; !strings.Contains(resp, ref+"-retry") || !strings.Contains(resp, "x"+ref) {
		t.Fatalf("the search did not return the near matches, so this test proves nothing: %s", resp)
	}

	pay := e.pay(t, ref, s10, "081234567800", s10.price)
	if pay.Outcome != providers.Pending {
		t.Fatalf("pay: %v", pay.Result)
	}
	// Ours is now the oldest of three rows, returned last (newest first).
	st = e.lookup(ref, "")
	if st.Outcome != providers.Pending || st.Reference != ref || st.TransactionID != pay.TransactionID {
		t.Fatalf("lookup: %v ref %s tx %s, want %s", st.Result, st.Reference, st.TransactionID, pay.TransactionID)
	}
}

func TestHistoryPagesUntilFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.client.pageSize = 2
	ref := uuid.NewString()
	pay := e.pay(t, ref, s10, "081234567800", s10.price)
	for i := range 5 {
		other := ref + "-" + string(rune('a'+i))
		if p := e.pay(t, other, s10, "081234567800", s10.price); p.Outcome != providers.Pending {
			t.Fatalf("pay %s: %v", other, p.Result)
		}
	}
	st := e.lookup(ref, "")
	if st.Outcome != providers.Pending || st.TransactionID != pay.TransactionID {
		t.Fatalf("lookup: %v", st.Result)
	}
	if n := len(st.Calls); n != 3 {
		t.Fatalf("%d history pages, want 3 (6 rows by 2, ours last)", n)
	}
}

func TestHistoryWindowInWIB(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ref := uuid.NewString()
	created := e.clock.Now()
	if p := e.pay(t, ref, s10, "081234567800", s10.price); p.Outcome != providers.Pending {
		t.Fatalf("pay: %v", p.Result)
	}
	e.clock.Advance(3 * time.Hour)
	st := e.client.Lookup(context.Background(), providers.LookupRequest{Reference: ref, CreatedAt: created})
	if st.Outcome != providers.Pending {
		t.Fatalf("lookup: %v", st.Result)
	}
	u, err := url.Parse(lastCall(t, st.Result).Path)
	if err != nil {
		t.Fatalf("call path: %v", err)
	}
	q := u.Query()
	wantFrom := created.Add(-24 * time.Hour).In(wib).Format("2006-01-02T15:04:05+07:00")
	wantTo := e.clock.Now().In(wib).Format("2006-01-02T15:04:05+07:00")
	if u.Path != transactionsPath || q.Get("q") != ref || q.Get("from") != wantFrom || q.Get("to") != wantTo || q.Get("page") != "1" {
		t.Fatalf("history query %s, want from %s to %s", u, wantFrom, wantTo)
	}
	// A window that starts after the purchase does not find it.
	e.clock.Advance(48 * time.Hour)
	late := e.clock.Now()
	if st := e.client.Lookup(context.Background(), providers.LookupRequest{Reference: ref, CreatedAt: late}); st.Outcome != providers.NotFound {
		t.Fatalf("lookup with a window after the purchase: %v", st.Result)
	}
}

func TestDetailOfUnknownTransactionIsNotFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	st := e.lookup("some-ref", "99999999")
	if st.Outcome != providers.NotFound || lastCall(t, st.Result).Code != "404027005" {
		t.Fatalf("lookup: %v", st.Result)
	}
}

func TestReadHistoryPage(t *testing.T) {
	t.Parallel()
	row := func(ref, status, amount string) string {
		return `{"transaction_id":1,"partner_reference_id":"` + ref + `","status":"` + status + `","amount":` + amount + `}`
	}
	cases := []struct {
		name string
		body string
		want providers.Outcome
		more bool
	}{
		{"array", `{"response_code":"200022000","data":[` + row("r", "SUCCESS", `"100"`) + `]}`, providers.Succeeded, false},
		{"transactions key", `{"response_code":"200022000","data":{"transactions":[` + row("r", "FAILED", `100`) + `]}}`, providers.Failed, false},
		{"only near matches, full page", `{"response_code":"200022000","data":{"items":[` + row("r1", "SUCCESS", `"1"`) + `,` + row("xr", "SUCCESS", `"1"`) + `]}}`, providers.NotFound, true},
		{"near matches, total reached", `{"response_code":"200022000","data":{"total":2,"items":[` + row("r1", "SUCCESS", `"1"`) + `,` + row("xr", "SUCCESS", `"1"`) + `]}}`, providers.NotFound, false},
		{"empty", `{"response_code":"200022000","data":{"items":[]}}`, providers.NotFound, false},
		{"null items", `{"response_code":"200022000","data":{"items":null}}`, providers.NotFound, false},
		{"malformed amount on ours", `{"response_code":"200022000","data":[` + row("r", "SUCCESS", `"1.000"`) + `]}`, providers.Unknown, false},
		{"negative amount on ours", `{"response_code":"200022000","data":[` + row("r", "SUCCESS", `-5`) + `]}`, providers.Unknown, false},
		{"garbage row skipped", `{"response_code":"200022000","data":[7,` + row("r", "PENDING", `"1"`) + `]}`, providers.Pending, false},
		{"not found code", `{"response_code":"404027005","response_message":"not found"}`, providers.NotFound, false},
		{"data not rows", `{"response_code":"200022000","data":"x"}`, providers.Unknown, false},
	}
	for _, c := range cases {
		st, more := readHistoryPage(answerFrom(200, []byte(c.body)), "r", 1, 2)
		if st.Outcome != c.want || more != c.more {
			t.Fatalf("%s: %v more=%v, want %s more=%v", c.name, st.Result, more, c.want, c.more)
		}
	}
}
