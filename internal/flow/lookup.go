package flow

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

type lookupWorker struct {
	river.WorkerDefaults[lookupArgs]
	s *Service
}

// Work looks up a processing (or needs_review) purchase's status once and
// applies the answer; then it snoozes on invariant 10's schedule until the
// purchase is resolved. After two consecutive not_found answers, the later at
// least PAYMENT_REPEAT_MIN_AGE after the last send, it repeats the payment
// with the SAME reference — only where the provider dedupes it (invariant 3).
func (w *lookupWorker) Work(ctx context.Context, job *river.Job[lookupArgs]) error {
	s := w.s
	id := job.Args.PurchaseID
	once := job.Args.Once

	// A first run calls with the parameters its inserting transaction
	// committed: the purchase was open then, and whatever ended it since
	// cancelled this job (cancelLookups). A retried or rescued run reads the
	// purchase first.
	fresh := job.Attempt == 1 && job.Args.Call != nil
	var cur store.Purchase
	if fresh {
		cur = job.Args.Call.purchase(id)
	} else {
		var err error
		if cur, err = s.q.PurchaseGetByID(ctx, id); err != nil {
			return fmt.Errorf("purchase %s: %w", id, store.NotFound(err))
		}
		if st := Status(cur.Status); st != StatusProcessing && st != StatusNeedsReview {
			return nil
		}
		if cur.PaymentInFlight && !once {
			// The previous run of this job crashed during a repeat: its
			// outcome is unknown. Never call again for it; keep looking up.
			if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				c, err := store.New(tx).PurchaseLock(ctx, id)
				if err != nil || !c.PaymentInFlight {
					return err
				}
				_, err = s.repeatOutcomeUnknown(ctx, tx, c)
				return err
			}); err != nil {
				return err
			}
		}
	}

	prov, rl, err := s.provider(cur.Provider)
	if err != nil {
		return err
	}
	var st providers.Status
	looked := rl.canLookup(&cur)
	if looked {
		st = prov.Lookup(ctx, providers.LookupRequest{
			Reference:     deref(cur.ProviderReference),
			TransactionID: deref(cur.ProviderTransactionID),
			RequestID:     deref(cur.ProviderRequestID),
			CreatedAt:     cur.CreatedAt,
		})
	}

	var (
		snooze  time.Duration
		repeat  bool
		product store.Product
	)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := store.New(tx).PurchaseLock(ctx, id)
		if err != nil {
			return err
		}
		if c.PaymentInFlight && !once && Status(c.Status) == StatusProcessing {
			// Only a crashed repeat leaves this (the repeat is this job's
			// own, and a crash makes the next run a retry that reads
			// first); settle it as the retry would, never calling for it.
			if c, err = s.repeatOutcomeUnknown(ctx, tx, c); err != nil {
				return err
			}
		}
		// Read in this transaction, not in one of its own: one commit less.
		if product, err = store.New(tx).ProductGet(ctx, c.ProductCode); err != nil {
			return fmt.Errorf("product %s: %w", c.ProductCode, store.NotFound(err))
		}
		if err := s.recordCalls(ctx, tx, &c, c.Provider, st.Result); err != nil {
			return err
		}
		open := Status(c.Status) == StatusProcessing || Status(c.Status) == StatusNeedsReview
		if !open {
			if Status(c.Status).Terminal() && looked {
				if _, err := s.contradiction(ctx, tx, c, st, "lookup"); err != nil {
					return err
				}
			}
			return complete(ctx, tx, job)
		}
		if looked {
			if mismatch := answerMismatch(&c, &product, st, once); mismatch != "" {
				// Not provably ours: never applied on its own word.
				if err := s.note(ctx, tx, &c, "lookup_answer_ignored", "system", map[string]any{"why": mismatch, "outcome": st.Outcome}); err != nil {
					return err
				}
				st.Outcome = providers.Unknown
			}
		}
		if c, err = s.applyLookup(ctx, tx, c, st, looked, once); err != nil {
			return err
		}
		if once || Status(c.Status).Terminal() {
			return complete(ctx, tx, job)
		}
		now := s.now()
		// The sanctioned repeat (invariant 3).
		if Status(c.Status) == StatusProcessing && st.Outcome == providers.NotFound && c.NotFoundStreak >= 2 &&
			rl.repeatable(&c) && c.PaymentLastSentAt != nil && now.Sub(*c.PaymentLastSentAt) >= s.cfg.PaymentRepeatMinAge {
			c, err = s.apply(ctx, tx, c, change{mutate: func(p *store.Purchase) {
				p.PaymentAttempts++
				p.PaymentInFlight = true
				p.PaymentLastSentAt = &now
				p.NotFoundStreak = 0
			}})
			if err != nil {
				return err
			}
			repeat = true
			return s.note(ctx, tx, &c, "payment_repeat", "system",
				map[string]any{"attempt": c.PaymentAttempts, "reference_reused": true})
		}
		if Status(c.Status) == StatusProcessing && c.DeadlineAt != nil && !now.Before(*c.DeadlineAt) {
			if c, err = s.apply(ctx, tx, c, change{event: EventDeadline,
				data: map[string]any{"lookups": c.Lookups}}); err != nil {
				return err
			}
		}
		snooze = s.nextLookup(&c)
		if !looked && Status(c.Status) == StatusProcessing {
			// Nothing to look up with (a one-step payment whose answer was
			// lost): only a callback or the deadline can change it, so wait
			// on the longest interval, not past the deadline, rather than
			// spin on the first.
			snooze = min(maxDuration(s.cfg.LookupBackoff), untilDeadline(&c, s.now()))
		}
		if snooze < 0 {
			// needs_review past its lookup window: an operator decides.
			return complete(ctx, tx, job)
		}
		if next := lookupFor(&c); !next.Call.same(job.Args.Call) || job.Attempt > 1 {
			// The parameters changed (a transaction id learned, say), or
			// this run was a retry: the next lookup is a new job carrying
			// the current parameters, so its first run needs no read.
			if err := complete(ctx, tx, job); err != nil {
				return err
			}
			err := s.insertAfter(ctx, tx, next, snooze)
			snooze = 0
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if repeat {
		return s.repeatPayment(ctx, job, &product)
	}
	if snooze > 0 {
		return river.JobSnooze(snooze)
	}
	return nil
}

// repeatOutcomeUnknown settles a repeat that was in flight when its job
// crashed: its outcome is unknown; lookups go on.
func (s *Service) repeatOutcomeUnknown(ctx context.Context, tx pgx.Tx, c store.Purchase) (store.Purchase, error) {
	c, err := s.apply(ctx, tx, c, change{mutate: func(p *store.Purchase) {
		p.PaymentInFlight = false
		p.PaymentUncertain = true
		p.NotFoundStreak = 0
	}})
	if err != nil {
		return c, err
	}
	return c, s.note(ctx, tx, &c, "payment_repeat_outcome_unknown", "system", nil)
}

// applyLookup applies one status answer to an open purchase.
func (s *Service) applyLookup(ctx context.Context, tx pgx.Tx, c store.Purchase, st providers.Status, looked, once bool) (store.Purchase, error) {
	count := func(p *store.Purchase) {
		if looked {
			p.Lookups++
		}
		if st.TransactionID != "" && p.ProviderTransactionID == nil {
			p.ProviderTransactionID = ptr(st.TransactionID)
		}
	}
	var err error
	switch st.Outcome {
	case providers.Succeeded:
		if c, err = s.apply(ctx, tx, c, change{mutate: count}); err != nil {
			return c, err
		}
		c, _, err = s.succeed(ctx, tx, c, st, "lookup")
		return c, err
	case providers.Failed:
		return s.apply(ctx, tx, c, change{event: EventFail, data: map[string]any{"raw_status": st.RawStatus},
			mutate: func(p *store.Purchase) {
				count(p)
				p.FailureCode = ptr(string(providers.ReasonTransactionFailed))
				p.FailureMessage = ptr(fmt.Sprintf("the provider reports the transaction failed (%s)", st.RawStatus))
			}})
	case providers.Refunded:
		if c, err = s.apply(ctx, tx, c, change{mutate: count}); err != nil {
			return c, err
		}
		return c, s.alert(ctx, tx, "refund_before_success", c.Provider, &c,
			"the provider reports a refund for a purchase never confirmed as succeeded", map[string]any{"raw_status": st.RawStatus})
	case providers.NotFound:
		if once {
			return s.apply(ctx, tx, c, change{mutate: count})
		}
		return s.apply(ctx, tx, c, change{mutate: func(p *store.Purchase) { count(p); p.NotFoundStreak++ }})
	case providers.Pending:
		return s.apply(ctx, tx, c, change{mutate: func(p *store.Purchase) { count(p); p.NotFoundStreak = 0 }})
	case providers.Rejected:
		if c, err = s.apply(ctx, tx, c, change{mutate: count}); err != nil {
			return c, err
		}
		return c, s.alert(ctx, tx, "provider_refused", c.Provider, &c,
			fmt.Sprintf("%s refused a status lookup: %s", c.Provider, st.Reason), map[string]any{"reason": st.Reason})
	default:
		return s.apply(ctx, tx, c, change{mutate: count})
	}
}

// answerMismatch says why a lookup answer cannot be applied to c, or "".
// Every answer naming a reference must name ours; an answer to a lookup
// triggered by an unauthenticated callback must also carry our product and
// amount (flow.md "Callbacks").
func answerMismatch(c *store.Purchase, product *store.Product, st providers.Status, once bool) string {
	decisive := st.Outcome == providers.Succeeded || st.Outcome == providers.Failed || st.Outcome == providers.Refunded
	if !decisive {
		return ""
	}
	ours := deref(c.ProviderReference)
	if st.Reference != "" && st.Reference != ours {
		return fmt.Sprintf("answer names reference %q, ours is %q", st.Reference, ours)
	}
	if !once {
		return ""
	}
	if st.Reference != ours {
		return "answer carries no reference"
	}
	if st.ProductCode != product.ProviderProductCode {
		return fmt.Sprintf("answer names product %q, ours is %q", st.ProductCode, product.ProviderProductCode)
	}
	if st.Amount != deref(c.Amount) {
		return fmt.Sprintf("answer names amount %d, ours is %d", st.Amount, deref(c.Amount))
	}
	return ""
}

// nextLookup returns how long to snooze before the next lookup, or -1 when
// lookups are over (needs_review past ReviewLookupFor).
func (s *Service) nextLookup(c *store.Purchase) time.Duration {
	if Status(c.Status) == StatusNeedsReview {
		if c.DeadlineAt != nil && s.now().After(c.DeadlineAt.Add(s.cfg.ReviewLookupFor)) {
			return -1
		}
		return s.cfg.ReviewLookupEvery
	}
	b := s.cfg.LookupBackoff
	i := int(c.Lookups) - 1
	if i < 0 {
		i = 0
	}
	d := b[min(i, len(b)-1)]
	if c.DeadlineAt != nil {
		// Do not sleep past the deadline.
		if left := c.DeadlineAt.Sub(s.now()); left > 0 && left < d {
			d = left
		}
	}
	return d
}

// untilDeadline is the time left before c's status deadline (at least 1 ms),
// so the deadline is noticed on time.
func untilDeadline(c *store.Purchase, now time.Time) time.Duration {
	if c.DeadlineAt == nil {
		return time.Hour
	}
	return max(c.DeadlineAt.Sub(now), time.Millisecond)
}

// repeatPayment makes the sanctioned repeat whose intent the lookup job just
// committed, then records its answer. Whatever it answers, the purchase
// stays open unless the answer is a success: a rejected repeat proves only
// that the repeat moved no money (invariant 4).
func (s *Service) repeatPayment(ctx context.Context, job *river.Job[lookupArgs], product *store.Product) error {
	id := job.Args.PurchaseID
	p, err := s.q.PurchaseGetByID(ctx, id)
	if err != nil {
		return err
	}
	prov, _, err := s.provider(p.Provider)
	if err != nil {
		return err
	}
	res := prov.Pay(ctx, s.paymentRequest(&p, product))
	ended := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := store.New(tx).PurchaseLock(ctx, id)
		if err != nil {
			return err
		}
		if err := s.recordCalls(ctx, tx, &c, c.Provider, res.Result); err != nil {
			return err
		}
		if Status(c.Status).Terminal() {
			ended = true
			return complete(ctx, tx, job)
		}
		if !c.PaymentInFlight {
			return nil
		}
		c, err = s.apply(ctx, tx, c, change{mutate: func(p *store.Purchase) {
			p.PaymentInFlight = false
			if res.Outcome != providers.Failed && res.Outcome != providers.Rejected {
				p.PaymentUncertain = true
			}
			if res.TransactionID != "" {
				p.ProviderTransactionID = ptr(res.TransactionID)
			}
		}})
		if err != nil {
			return err
		}
		switch res.Outcome {
		case providers.Succeeded:
			if _, ended, err = s.succeed(ctx, tx, c, res.Status, "payment repeat"); err == nil && ended {
				// Ended by this job: no lookup wakes for it again.
				err = complete(ctx, tx, job)
			}
		case providers.Failed:
			err = s.note(ctx, tx, &c, "payment_repeat_rejected", "system", map[string]any{"reason": res.Reason})
		case providers.Rejected:
			err = s.alert(ctx, tx, "provider_refused", c.Provider, &c, "the provider refused a payment repeat: "+string(res.Reason), nil)
		}
		return err
	})
	if err != nil || ended {
		return err
	}
	return river.JobSnooze(s.cfg.LookupBackoff[0])
}

// succeed completes a purchase on a provider's SUCCESS for our reference —
// unless it is a token product whose serial number holds no 20-digit token
// (invariant 11): then it stays open and an alert is raised. It reports
// whether the purchase completed.
func (s *Service) succeed(ctx context.Context, tx pgx.Tx, c store.Purchase, st providers.Status, via string) (store.Purchase, bool, error) {
	r := resultData{SerialNumber: st.SerialNumber, ProviderTransactionID: st.TransactionID, CustomerName: st.CustomerName}
	if r.ProviderTransactionID == "" {
		r.ProviderTransactionID = deref(c.ProviderTransactionID)
	}
	if providers.Family(c.Family) == providers.FamilyPLNPrepaid {
		tok, err := providers.ParsePLNSerial(st.SerialNumber)
		if err != nil {
			return c, false, s.alert(ctx, tx, "missing_token", c.Provider, &c,
				"the provider reports success without a 20-digit token; waiting for it", map[string]any{"via": via})
		}
		r.Token, r.Tariff, r.Power, r.KWh = tok.Token, tok.Tariff, tok.Power, tok.KWh
		if tok.CustomerName != "" {
			r.CustomerName = tok.CustomerName
		}
	}
	price := st.Amount
	if price <= 0 {
		price = deref(c.Amount)
	}
	if st.Balance != nil {
		if err := s.observeBalance(ctx, tx, c.Provider, *st.Balance, via); err != nil {
			return c, false, err
		}
	}
	c, err := s.apply(ctx, tx, c, change{event: EventSucceed, data: map[string]any{"via": via, "price": price},
		mutate: func(p *store.Purchase) {
			p.Price = ptr(price)
			p.Result = mustJSON(r)
			p.PaymentInFlight = false
			if r.ProviderTransactionID != "" {
				p.ProviderTransactionID = ptr(r.ProviderTransactionID)
			}
		}})
	if err != nil {
		return c, false, err
	}
	if c.MaxPrice != nil && price > *c.MaxPrice {
		if err := s.alert(ctx, tx, "price_above_max", c.Provider, &c,
			fmt.Sprintf("succeeded at %d, above max_price %d", price, *c.MaxPrice), nil); err != nil {
			return c, true, err
		}
	}
	return c, true, nil
}

// contradiction records a report that contradicts a terminal purchase (FAILED
// or REFUND after SUCCESS, SUCCESS after FAILED): an event and an alert,
// never applied (invariant 6).
// It reports whether st contradicted c.
func (s *Service) contradiction(ctx context.Context, tx pgx.Tx, c store.Purchase, st providers.Status, source string) (bool, error) {
	contradicts := (Status(c.Status) == StatusSucceeded && (st.Outcome == providers.Failed || st.Outcome == providers.Refunded)) ||
		(Status(c.Status) != StatusSucceeded && st.Outcome == providers.Succeeded)
	if !contradicts {
		return false, nil
	}
	if _, err := store.New(tx).EventInsert(ctx, store.EventInsertParams{
		PurchaseID: c.ID, Kind: "note", Name: "contradiction", Actor: "system",
		Data:      mustJSON(map[string]any{"status": c.Status, "reported": st.Outcome, "raw_status": st.RawStatus, "source": source}),
		CreatedAt: s.now(),
	}); err != nil {
		return true, err
	}
	s.metrics.Contradictions.WithLabelValues(c.Provider).Inc()
	return true, s.alert(ctx, tx, "contradiction", c.Provider, &c,
		fmt.Sprintf("%s reports %s for a %s purchase (not applied)", c.Provider, st.Outcome, c.Status),
		map[string]any{"reported": st.Outcome, "raw_status": st.RawStatus, "source": source})
}

func complete[T river.JobArgs](ctx context.Context, tx pgx.Tx, job *river.Job[T]) error {
	_, err := river.JobCompleteTx[*riverDriver](ctx, tx, job)
	return err
}
