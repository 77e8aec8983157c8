package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

type inquiryWorker struct {
	river.WorkerDefaults[inquiryArgs]
	s *Service
}

// Work runs one inquiry: take the purchase (received → inquiring), call the
// provider outside any transaction, then record the answer and move on — to
// paying with the next job, to awaiting_confirmation, or to failed.
//
// A first run with its call's parameters (inquiryFor) calls first and takes
// the purchase in the answer's transaction: an inquiry moves no money, so
// nothing needs committing before it, and that is one commit less per
// purchase. A cancel during that call finds the purchase received and wins;
// the answer is then only recorded. Other runs commit inquiring first.
func (w *inquiryWorker) Work(ctx context.Context, job *river.Job[inquiryArgs]) error {
	s := w.s
	var (
		p       store.Purchase
		product store.Product
	)
	first := job.Attempt == 1 && job.Args.Call != nil && !snoozed(job.JobRow)
	if first {
		p, product = job.Args.Call.purchase(job.Args.PurchaseID), job.Args.Call.product()
	} else {
		done := false
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			cur, err := store.New(tx).PurchaseLock(ctx, job.Args.PurchaseID)
			if err != nil {
				return fmt.Errorf("lock purchase %s: %w", job.Args.PurchaseID, store.NotFound(err))
			}
			// Read in this transaction, not in one of its own: one commit less.
			if product, err = store.New(tx).ProductGet(ctx, cur.ProductCode); err != nil {
				return fmt.Errorf("product %s: %w", cur.ProductCode, store.NotFound(err))
			}
			switch Status(cur.Status) {
			case StatusReceived, StatusInquiring:
				p, err = s.startInquiry(ctx, tx, cur)
			default:
				done = true
				_, err = river.JobCompleteTx[*riverDriver](ctx, tx, job)
			}
			return err
		})
		if err != nil || done {
			return err
		}
	}

	prov, _, err := s.provider(p.Provider)
	if err != nil {
		return err
	}
	catalogPrice := s.catalogPrice(ctx, &product)
	res := prov.Inquiry(ctx, providers.InquiryRequest{
		ProductCode:    product.ProviderProductCode,
		Family:         providers.Family(product.Family),
		CustomerNumber: deref(p.CustomerNumber), Phone: deref(p.Phone),
		UserID: deref(p.UserID), ZoneID: deref(p.ZoneID), Period: deref(p.Period),
		Amount: catalogPrice, SellingPrice: sellingPrice(&p, catalogPrice),
		Reference: inquiryReference(p.Provider, p.ID),
	})

	var snooze time.Duration
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := store.New(tx).PurchaseLock(ctx, p.ID)
		if err != nil {
			return err
		}
		if first && (Status(cur.Status) == StatusReceived || Status(cur.Status) == StatusInquiring) {
			if cur, err = s.startInquiry(ctx, tx, cur); err != nil {
				return err
			}
		}
		if err := s.recordCalls(ctx, tx, &cur, p.Provider, res.Result); err != nil {
			return err
		}
		if res.Balance != nil {
			if err := s.observeBalance(ctx, tx, p.Provider, *res.Balance, "inquiry"); err != nil {
				return err
			}
		}
		if Status(cur.Status) != StatusInquiring {
			// Canceled while the call was in flight: nothing to do.
			_, err = river.JobCompleteTx[*riverDriver](ctx, tx, job)
			return err
		}
		switch res.Outcome {
		case providers.Succeeded:
			err = s.afterInquiry(ctx, tx, cur, &product, res, catalogPrice)
		case providers.Failed:
			_, err = s.apply(ctx, tx, cur, failWith(string(res.Reason), res.Detail))
			if err == nil && res.Reason == providers.ReasonInsufficientBal {
				err = s.alert(ctx, tx, "insufficient_balance", p.Provider, &cur, "provider reports insufficient deposit", nil)
			}
		case providers.Rejected:
			if err = s.alert(ctx, tx, "provider_refused", p.Provider, &cur,
				fmt.Sprintf("%s refused an inquiry: %s", p.Provider, res.Reason), map[string]any{"reason": res.Reason}); err != nil {
				return err
			}
			// Nothing happened at the provider: back off and retry, and
			// fail only when still refused at the inquiry's deadline.
			if s.now().After(cur.CreatedAt.Add(s.cfg.InquiryTTL)) {
				_, err = s.apply(ctx, tx, cur, failWith("provider_rejected", "the provider kept refusing the inquiry: "+string(res.Reason)))
			} else {
				snooze = backoff(s.cfg.StepBackoff, s.cfg.StepBackoffMax, int(cur.InquiryAttempts))
				return nil
			}
		default:
			// Unknown (timeout, 5xx): an inquiry moves no money, so retry a
			// few times, then fail.
			if int(cur.InquiryAttempts) >= s.cfg.InquiryAttempts {
				_, err = s.apply(ctx, tx, cur, failWith("provider_unavailable", "the provider did not answer the inquiry: "+res.Detail))
			} else {
				snooze = backoff(s.cfg.StepBackoff, s.cfg.StepBackoffMax, int(cur.InquiryAttempts))
				return nil
			}
		}
		if err != nil {
			return err
		}
		_, err = river.JobCompleteTx[*riverDriver](ctx, tx, job)
		return err
	})
	if err != nil {
		return err
	}
	if snooze > 0 {
		return river.JobSnooze(snooze)
	}
	return nil
}

// snoozed reports whether job ran before and snoozed (River keeps its
// attempt count, and counts snoozes in its metadata).
func snoozed(job *rivertype.JobRow) bool {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &m)
	return m.Snoozes > 0
}

// startInquiry counts an inquiry attempt of cur, moving it received →
// inquiring if it is not there yet.
func (s *Service) startInquiry(ctx context.Context, tx pgx.Tx, cur store.Purchase) (store.Purchase, error) {
	ch := change{mutate: func(p *store.Purchase) { p.InquiryAttempts++ }}
	if Status(cur.Status) == StatusReceived {
		ch.event = EventStartInquiry
	}
	return s.apply(ctx, tx, cur, ch)
}

// afterInquiry applies a successful inquiry: the price guard, then either
// awaiting_confirmation (manual) or the payment intent (automatic).
func (s *Service) afterInquiry(ctx context.Context, tx pgx.Tx, cur store.Purchase, product *store.Product, res providers.Inquiry, catalogPrice int64) error {
	amount := res.Amount
	if amount <= 0 {
		// Game-voucher validations carry no price: the catalog decides.
		amount = catalogPrice
	}
	data := inquiryData{CustomerName: res.CustomerName, Amount: amount, Total: res.Total, Details: res.Details, RequestID: res.RequestID}
	setInquiry := func(p *store.Purchase) {
		p.Inquiry = mustJSON(data)
		p.InquiryAmount = ptr(amount)
		p.InquiryTotal = ptr(res.Total)
		if res.RequestID != "" {
			p.ProviderRequestID = ptr(res.RequestID)
		}
	}
	if reason := priceGuard(cur.MaxPrice, amount, res.Total, catalogPrice); reason != "" {
		_, err := s.apply(ctx, tx, cur, change{event: EventFail, data: map[string]any{"reason": reason},
			mutate: func(p *store.Purchase) {
				setInquiry(p)
				p.FailureCode, p.FailureMessage = ptr("price_exceeds_max"), ptr(reason)
			}})
		return err
	}
	if cur.Confirmation == "manual" {
		expires := s.now().Add(s.cfg.InquiryTTL)
		p, err := s.apply(ctx, tx, cur, change{event: EventAwaitConfirmation,
			mutate: func(p *store.Purchase) { setInquiry(p); p.ExpiresAt = &expires }})
		if err != nil {
			return err
		}
		return s.insertAfter(ctx, tx, expireArgs{PurchaseID: p.ID}, s.cfg.InquiryTTL)
	}
	p, err := s.apply(ctx, tx, cur, change{event: EventPay, mutate: func(p *store.Purchase) {
		setInquiry(p)
		s.fixPayment(p, amount)
	}})
	if err != nil {
		return err
	}
	return s.insertAfter(ctx, tx, paymentArgs{PurchaseID: p.ID}, 0)
}

// fixPayment commits what the payment will send: the amount and OUR
// provider reference (invariant 1), and starts the status deadline.
func (s *Service) fixPayment(p *store.Purchase, amount int64) {
	p.Amount = ptr(amount)
	if p.ProviderReference == nil {
		p.ProviderReference = ptr(providerRules[p.Provider].reference(p.ID))
	}
	p.DeadlineAt = ptr(s.now().Add(s.cfg.StatusDeadline))
}

// priceGuard is invariant 8: with a max_price, the largest of the amount to
// pay, the inquiry total and the catalog price must not exceed it; an unknown
// or zero price counts as exceeding. It returns why the guard failed, or "".
func priceGuard(maxPrice *int64, amount, inquiryTotal, catalogPrice int64) string {
	if maxPrice == nil {
		return ""
	}
	if amount <= 0 || catalogPrice <= 0 {
		return fmt.Sprintf("price unknown (amount %d, catalog %d), max_price %d", amount, catalogPrice, *maxPrice)
	}
	highest := max(amount, inquiryTotal, catalogPrice)
	if highest > *maxPrice {
		return fmt.Sprintf("price %d exceeds max_price %d", highest, *maxPrice)
	}
	return ""
}

// failWith is the change to failed with a failure code and message.
func failWith(code, message string) change {
	return change{event: EventFail, data: map[string]any{"failure_code": code},
		mutate: func(p *store.Purchase) {
			p.FailureCode, p.FailureMessage = ptr(code), ptr(message)
		}}
}

// inquiryReference is the reference sent with an inquiry: for Klikoo a fresh
// UUID v4 per inquiry, never the payment's (invariant 1); for Snapcart, which
// echoes it back, our purchase id. Never the client's reference_id.
func inquiryReference(provider string, id uuid.UUID) string {
	if provider == Klikoo {
		return uuid.NewString()
	}
	return id.String()
}

func sellingPrice(p *store.Purchase, amount int64) int64 {
	if p.SellingPrice != nil && *p.SellingPrice > 0 {
		return *p.SellingPrice
	}
	return amount
}
