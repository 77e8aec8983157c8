// Package simkit holds what both provider simulators share: the ledger of
// charges, fault injection for chaos runs, and the /_sim/ control routes.
// It knows no provider's wire format.
package simkit

import (
	"sort"
	"sync"
	"time"
)

// Charge is the ledger's record of one provider reference. Count above 1 is a
// double charge.
type Charge struct {
	Reference string    `json:"reference"`
	Product   string    `json:"product"`
	Customer  string    `json:"customer"`
	Amount    int64     `json:"amount"`
	Count     int       `json:"count"`
	FirstAt   time.Time `json:"first_at"`
	LastAt    time.Time `json:"last_at"`
}

// Ledger records every charge a simulator makes. The zero value is not
// usable; use NewLedger. It is safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	now     func() time.Time
	charges map[string]*Charge
	balance int64
}

// NewLedger returns an empty ledger holding the given deposit.
func NewLedger(balance int64, now func() time.Time) *Ledger {
	return &Ledger{now: now, charges: map[string]*Charge{}, balance: balance}
}

// Charge deducts amount from the deposit for reference and returns the
// balance before and after. It reports false, changing nothing, when the
// deposit is too small.
func (l *Ledger) Charge(reference, product, customer string, amount int64) (before, after int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	before = l.balance
	if amount > l.balance {
		return before, before, false
	}
	l.balance -= amount
	now := l.now()
	c := l.charges[reference]
	if c == nil {
		c = &Charge{Reference: reference, Product: product, Customer: customer, FirstAt: now}
		l.charges[reference] = c
	}
	c.Amount += amount
	c.Count++
	c.LastAt = now
	return before, l.balance, true
}

// Get returns the charge of reference, if any.
func (l *Ledger) Get(reference string) (Charge, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.charges[reference]
	if !ok {
		return Charge{}, false
	}
	return *c, true
}

// Balance returns the current deposit.
func (l *Ledger) Balance() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.balance
}

// Snapshot returns every charge, ordered by reference.
func (l *Ledger) Snapshot() []Charge {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Charge, 0, len(l.charges))
	for _, c := range l.charges {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Reference < out[j].Reference })
	return out
}

// Reset forgets every charge and sets the deposit.
func (l *Ledger) Reset(balance int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.charges = map[string]*Charge{}
	l.balance = balance
}
