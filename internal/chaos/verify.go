package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/providers/simkit"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// Ledger reads a simulator's ledger (GET /_sim/ledger).
func Ledger(ctx context.Context, simURL string) (simkit.LedgerView, error) {
	var v simkit.LedgerView
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, simURL+"/_sim/ledger", nil)
	if err != nil {
		return v, err
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return v, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return v, fmt.Errorf("%s/_sim/ledger: HTTP %d", simURL, res.StatusCode)
	}
	return v, json.NewDecoder(res.Body).Decode(&v)
}

// Expectation is how a purchase must end: its status, how many times the
// provider charged its reference, and (when Failure is set) the failure code
// of a failed purchase. Or lists the other ends that are also right, each
// only with the evidence it requires.
type Expectation struct {
	Status  flow.Status
	Charges int    // 0 or 1
	Failure string // "" accepts any failure code
	// Provider is where a product with several offers must end
	// (docs/routing.md); "" accepts any.
	Provider string
	Or       []Alternative
}

// Alternative is a second end that the specification allows for a purchase
// when something specific happened to it — an answer lost to a fault or a
// kill — which When must find in the purchase or its event log. Verify
// counts every purchase that ended this way under Name and its charges.
type Alternative struct {
	Name    string
	Status  flow.Status
	Charges []int  // the charge counts allowed
	Failure string // "" accepts any failure code
	When    func(p store.Purchase, events []store.PurchaseEvent) bool
}

// Findings are what Verify found. Every count but Purchases, ByStatus and
// Alternatives must be 0.
type Findings struct {
	Purchases     int
	ByStatus      map[flow.Status]int
	DoubleCharges int // references charged more than once
	// MultiProviderCharges counts purchases charged by more than one of
	// their attempts (at two providers): a failover that charged twice.
	MultiProviderCharges int
	// Failovers counts attempts purchases moved on from.
	Failovers    int
	Lost         int            // purchases not terminal and not needs_review
	InvalidPaths int            // event logs that are not a path of the state machine
	WrongEnds    int            // purchases that ended otherwise than their expectation
	Duplicates   int            // (client, reference_id) pairs held by more than one purchase
	Alternatives map[string]int // purchases that ended in an allowed alternative, by "name(charges=N)"
	Problems     []string       // one line per problem (bounded)
}

func (f *Findings) problem(format string, args ...any) {
	if len(f.Problems) < 50 {
		f.Problems = append(f.Problems, fmt.Sprintf(format, args...))
	}
}

// OK reports whether nothing was found.
func (f *Findings) OK() bool {
	return f.DoubleCharges == 0 && f.MultiProviderCharges == 0 && f.Lost == 0 && f.InvalidPaths == 0 && f.WrongEnds == 0 && f.Duplicates == 0
}

// Verify checks every purchase in the database against the simulators'
// ledgers: no reference charged twice, every succeeded purchase charged
// exactly once at its recorded price, every failed or canceled one never,
// every event log a path of the state machine, nothing left open, no
// (client, reference_id) held twice; and, when expect knows the purchase,
// the end it must reach. A failed purchase that was charged is a wrong end
// unless its expectation names that very end as an alternative and the
// alternative's evidence is there (scenario 24 whose SUCCESS answer was lost:
// the provider itself then reports the charged transaction as failed).
func Verify(ctx context.Context, pool *pgxpool.Pool, ledgers map[string]simkit.LedgerView, expect func(store.Purchase) (Expectation, bool)) (*Findings, error) {
	f := &Findings{ByStatus: map[flow.Status]int{}, Alternatives: map[string]int{}}
	charges := map[string]map[string]simkit.Charge{}
	for provider, l := range ledgers {
		charges[provider] = map[string]simkit.Charge{}
		for _, c := range l.Charges {
			charges[provider][c.Reference] = c
			if c.Count > 1 {
				f.DoubleCharges++
				f.problem("%s reference %s charged %d times", provider, c.Reference, c.Count)
			}
		}
	}
	q := store.New(pool)
	purchases, err := q.PurchaseListAll(ctx)
	if err != nil {
		return nil, err
	}
	attempts, err := q.PurchaseAttemptListAll(ctx)
	if err != nil {
		return nil, err
	}
	ended := map[uuid.UUID][]store.PurchaseAttempt{}
	for _, a := range attempts {
		ended[a.PurchaseID] = append(ended[a.PurchaseID], a)
		f.Failovers++
	}
	type key struct {
		client uuid.UUID
		ref    string
	}
	seen := map[key]int{}
	for _, p := range purchases {
		f.Purchases++
		if seen[key{p.ClientID, p.ReferenceID}]++; seen[key{p.ClientID, p.ReferenceID}] == 2 {
			f.Duplicates++
			f.problem("client %s holds reference_id %s more than once", p.ClientID, p.ReferenceID)
		}
		st := flow.Status(p.Status)
		f.ByStatus[st]++
		if !st.Terminal() && st != flow.StatusNeedsReview {
			f.Lost++
			f.problem("purchase %s (%s) still %s", p.ID, p.ReferenceID, st)
		}
		events, err := q.EventListByPurchase(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		var c simkit.Charge
		if p.ProviderReference != nil {
			c = charges[p.Provider][*p.ProviderReference]
		}
		// A purchase's charges are those of every attempt: an attempt it
		// moved on from must never have charged.
		charged := 0
		if c.Count > 0 {
			charged++
		}
		for _, a := range ended[p.ID] {
			if a.ProviderReference == nil {
				continue
			}
			if ac := charges[a.Provider][*a.ProviderReference]; ac.Count > 0 {
				charged++
				c.Count += ac.Count
				f.problem("purchase %s (%s): attempt %d at %s, which it moved on from, was charged %d times", p.ID, p.ReferenceID, a.Number, a.Provider, ac.Count)
			}
		}
		if charged > 1 {
			f.MultiProviderCharges++
		}
		failure := ""
		if p.FailureCode != nil {
			failure = *p.FailureCode
		}
		var alt *Alternative
		wrong := ""
		if expect != nil {
			if want, ok := expect(p); ok && !(want.Status == st && want.Charges == c.Count && (want.Failure == "" || want.Failure == failure) && (want.Provider == "" || want.Provider == p.Provider)) {
				alt = matchAlternative(want.Or, p, events, st, c.Count, failure)
				if alt == nil {
					wrong = fmt.Sprintf("ended %s (failure %q) at %s with %d charges, want %s (failure %q) at %s with %d", st, failure, p.Provider, c.Count, want.Status, want.Failure, orElse(want.Provider, "any provider"), want.Charges)
				} else {
					f.Alternatives[fmt.Sprintf("%s(charges=%d)", alt.Name, c.Count)]++
				}
			}
		}
		switch st {
		case flow.StatusSucceeded:
			if c.Count != 1 {
				wrong = fmt.Sprintf("succeeded, charged %d times", c.Count)
			} else if p.Price == nil || *p.Price != c.Amount {
				wrong = fmt.Sprintf("succeeded at recorded price %v, charged %d", p.Price, c.Amount)
			}
		case flow.StatusFailed, flow.StatusCanceled:
			if c.Count != 0 && (alt == nil || alt.Status != st) {
				wrong = fmt.Sprintf("%s, charged %d times", st, c.Count)
			}
		}
		if wrong != "" {
			f.WrongEnds++
			f.problem("purchase %s (%s, %s %s): %s", p.ID, p.ReferenceID, p.ProductCode, customerOf(p), wrong)
		}
		if err := flow.PathError(events, st); err != nil {
			f.InvalidPaths++
			f.problem("purchase %s: %v", p.ID, err)
		}
	}
	return f, nil
}

// matchAlternative returns the first alternative that allows this end and
// whose evidence is there, or nil.
func matchAlternative(alts []Alternative, p store.Purchase, events []store.PurchaseEvent, st flow.Status, charges int, failure string) *Alternative {
	for i := range alts {
		a := &alts[i]
		if a.Status != st || !slices.Contains(a.Charges, charges) || (a.Failure != "" && a.Failure != failure) {
			continue
		}
		if a.When == nil || a.When(p, events) {
			return a
		}
	}
	return nil
}

func customerOf(p store.Purchase) string {
	if p.CustomerNumber != nil {
		return *p.CustomerNumber
	}
	if p.UserID != nil {
		return *p.UserID
	}
	return ""
}

func orElse(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}
