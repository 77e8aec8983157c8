package flow

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// CreateRequest is a new purchase as the API received it.
type CreateRequest struct {
	ClientID       uuid.UUID
	ReferenceID    string
	ProductCode    string
	CustomerNumber string
	Phone          string
	UserID         string
	ZoneID         string
	Period         string
	MaxPrice       *int64
	SellingPrice   *int64
	Confirmation   string // "automatic" (default) or "manual"
	AllowRepeat    bool
}

// FieldError is one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field of a request.
type ValidationError struct{ Fields []FieldError }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + " " + f.Message
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

// ErrUnknownProduct is returned for a product_code not in the catalog.
var ErrUnknownProduct = errors.New("unknown product")

// ProductUnavailableError is returned when no offer of the product can be
// used now (docs/routing.md): Why names what kept each out (paused,
// inactive, disabled, tripped). Nothing is created.
type ProductUnavailableError struct {
	Product string
	Why     string
}

func (e *ProductUnavailableError) Error() string {
	return fmt.Sprintf("no offer of %s can be used now: %s", e.Product, e.Why)
}

// ErrInvalidState is returned (wrapped) for an action the purchase's status
// does not allow.
var ErrInvalidState = errors.New("invalid state")

// ReferenceReusedError is returned when a reference_id comes again with
// different parameters. Purchase is the existing one: the client must never
// conclude "not bought".
type ReferenceReusedError struct{ Purchase store.Purchase }

func (e *ReferenceReusedError) Error() string {
	return fmt.Sprintf("reference_id %s was already used with different parameters", e.Purchase.ReferenceID)
}

// DuplicateError is returned by the duplicate guard: the same client bought
// the same product for the same customer within DUPLICATE_WINDOW.
type DuplicateError struct{ Purchase store.Purchase }

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("purchase %s bought %s for the same customer moments ago; send allow_repeat to buy again", e.Purchase.ID, e.Purchase.ProductCode)
}

var (
	referenceRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,100}$`)
	numberRe    = regexp.MustCompile(`^[0-9A-Za-z]{4,32}$`)
	phoneRe     = regexp.MustCompile(`^\+?[0-9]{8,16}$`)
	gameIDRe    = regexp.MustCompile(`^[A-Za-z0-9_#@]{1,32}$`)
	zoneRe      = regexp.MustCompile(`^[A-Za-z0-9_]{1,16}$`)
	periodRe    = regexp.MustCompile(`^20[0-9]{2}-(0[1-9]|1[0-2])$`)
)

// normalizeID removes the spaces, dashes and dots people type into
// identifiers (docs/api.md's normalization).
func normalizeID(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '\t':
			return -1
		}
		return r
	}, s)
}

// fingerprint is the canonical form of a request (docs/api.md): fields in a
// fixed order, defaults applied, identifiers normalized.
type fingerprint struct {
	Confirmation   string `json:"confirmation"`
	CustomerNumber string `json:"customer_number"`
	MaxPrice       *int64 `json:"max_price"`
	Period         string `json:"period"`
	Phone          string `json:"phone"`
	ProductCode    string `json:"product_code"`
	SellingPrice   *int64 `json:"selling_price"`
	UserID         string `json:"user_id"`
	ZoneID         string `json:"zone_id"`
}

// Normalize applies defaults and normalizes identifiers in place.
func (r *CreateRequest) Normalize() {
	if r.Confirmation == "" {
		r.Confirmation = "automatic"
	}
	r.CustomerNumber = normalizeID(r.CustomerNumber)
	r.Phone = normalizeID(r.Phone)
	r.UserID = normalizeID(r.UserID)
	r.ZoneID = normalizeID(r.ZoneID)
	r.Period = strings.TrimSpace(r.Period)
	r.ProductCode = strings.TrimSpace(r.ProductCode)
}

// canonical returns the canonical JSON of a normalized request.
func (r *CreateRequest) canonical() string {
	b, _ := json.Marshal(fingerprint{
		Confirmation: r.Confirmation, CustomerNumber: r.CustomerNumber, MaxPrice: r.MaxPrice,
		Period: r.Period, Phone: r.Phone, ProductCode: r.ProductCode, SellingPrice: r.SellingPrice,
		UserID: r.UserID, ZoneID: r.ZoneID,
	})
	return string(b)
}

// Fingerprint returns what is stored with the purchase to recognize a
// repeat of a normalized request: the SHA-256 of its canonical JSON, in
// unpadded base64 (43 characters). Every field of the canonical form is
// also a column of the purchase, so the JSON itself stored a copy; the
// digest is a fifth of its size, in every version of the row.
func (r *CreateRequest) Fingerprint() string {
	return FingerprintOf(r.canonical())
}

// FingerprintOf is the fingerprint of a request's canonical JSON.
func FingerprintOf(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawStdEncoding.EncodeToString(sum[:])
}

// sameRequest reports whether a purchase's stored fingerprint is r's: its
// digest, or its canonical JSON itself, which purchases created before the
// digest (migrations/00013_storage.sql) keep.
func (r *CreateRequest) sameRequest(stored string) bool {
	return stored == r.Fingerprint() || stored == r.canonical()
}

// ValidateFields checks a normalized request's fields that need no product.
func (r *CreateRequest) ValidateFields() error { return r.Validate(nil) }

// Validate checks a normalized request against its product (nil: unknown)
// and the policies of the providers that may sell it, every one of them:
// a request one of them cannot take is refused before anything is stored.
func (r *CreateRequest) Validate(product *store.Product, pols ...providers.Policy) error {
	errs := r.fieldErrors()
	if product != nil {
		errs = append(errs, r.identityErrors(product, pols)...)
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

func (r *CreateRequest) fieldErrors() []FieldError {
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{field, msg}) }
	if r.ReferenceID == "" {
		bad("reference_id", "is required")
	} else if !referenceRe.MatchString(r.ReferenceID) {
		bad("reference_id", "must be 1-100 of A-Z a-z 0-9 . _ : -")
	}
	if r.ProductCode == "" {
		bad("product_code", "is required")
	}
	if r.Confirmation != "automatic" && r.Confirmation != "manual" {
		bad("confirmation", "must be automatic or manual")
	}
	if r.MaxPrice != nil && *r.MaxPrice <= 0 {
		bad("max_price", "must be a positive whole number of rupiah")
	}
	if r.SellingPrice != nil && *r.SellingPrice < 0 {
		bad("selling_price", "must not be negative")
	}
	if r.Phone != "" && !phoneRe.MatchString(r.Phone) {
		bad("phone", "must be 8-16 digits")
	}
	return errs
}

// identityErrors checks the fields that identify the customer, as the
// product's family and the providers' policies need them.
func (r *CreateRequest) identityErrors(product *store.Product, pols []providers.Policy) []FieldError {
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{field, msg}) }
	family := providers.Family(product.Family)
	if family.UsesUserID() {
		if r.UserID == "" {
			bad("user_id", "is required for "+product.Code)
		} else if !gameIDRe.MatchString(r.UserID) {
			bad("user_id", "must be 1-32 letters or digits")
		}
		if r.ZoneID == "" {
			bad("zone_id", "is required for "+product.Code)
		} else if !zoneRe.MatchString(r.ZoneID) {
			bad("zone_id", "must be 1-16 letters or digits")
		}
		if r.CustomerNumber != "" {
			bad("customer_number", "must be empty for a game voucher (use user_id and zone_id)")
		}
	} else {
		switch {
		case r.CustomerNumber == "":
			bad("customer_number", "is required for "+product.Code)
		case !numberRe.MatchString(r.CustomerNumber):
			bad("customer_number", "must be 4-32 letters or digits (spaces, dashes and dots are ignored)")
		default:
			for _, pol := range pols {
				if why := pol.CheckNumber(family, r.CustomerNumber); why != "" {
					bad("customer_number", why)
					break
				}
			}
		}
		if r.UserID != "" || r.ZoneID != "" {
			bad("user_id", "must be empty unless the product is a game voucher")
		}
	}
	if family == providers.FamilyBPJS {
		if r.Phone == "" {
			bad("phone", "is required for BPJS")
		}
		if !periodRe.MatchString(r.Period) {
			bad("period", "is required for BPJS, as YYYY-MM")
		}
	} else if r.Period != "" {
		bad("period", "is only for BPJS")
	}
	return errs
}

func (r *CreateRequest) customerKey() string {
	if r.UserID != "" {
		return r.UserID + "@" + r.ZoneID
	}
	return r.CustomerNumber
}

// Create accepts a purchase: 201 on first sight of the reference_id
// (created=true), the existing purchase for an identical repeat at any time
// (created=false, never retried even if it failed), *ReferenceReusedError for
// the same reference_id with other parameters, *DuplicateError from the
// duplicate guard, *ValidationError or ErrUnknownProduct for bad input.
// Nothing is stored for a rejected request. The purchase, its first event
// and its first job commit in one transaction.
func (s *Service) Create(ctx context.Context, req CreateRequest) (store.Purchase, bool, error) {
	req.Normalize()
	if err := req.ValidateFields(); err != nil {
		return store.Purchase{}, false, err
	}
	fp := req.Fingerprint()
	var (
		out     store.Purchase
		created bool
	)
	// One transaction of five round trips: BEGIN; the creation lock and
	// every read in one pipeline; the purchase with its first event in one
	// statement; the first job; COMMIT. A rejected request rolls back.
	err := pgx.BeginFunc(ctx, s.apiPool, func(tx pgx.Tx) error {
		seen, err := s.readForCreate(ctx, tx, req)
		if err != nil {
			return err
		}
		if seen.refErr == nil {
			// The reference was used: the same purchase, or a reuse. An
			// identical repeat answers 200 even if the product was disabled
			// since.
			out = seen.existing
			return nil
		}
		if seen.productErr != nil {
			return fmt.Errorf("%w: %s", ErrUnknownProduct, req.ProductCode)
		}
		if err := req.Validate(&seen.product, s.policies(seen.offers)...); err != nil {
			return err
		}
		if !req.AllowRepeat && seen.dupErr == nil {
			return &DuplicateError{Purchase: seen.dup}
		}
		route, why := s.route(seen)
		if len(route) == 0 {
			return &ProductUnavailableError{Product: req.ProductCode, Why: why}
		}
		out, created, err = s.insertPurchase(ctx, tx, req, &seen.product, offerOf(seen.offers, route[0]), route, fp)
		return err
	})
	if err != nil {
		return store.Purchase{}, false, err
	}
	if created {
		return out, true, nil
	}
	return sameOrReused(out, &req)
}

// seenAtCreate is what Create reads under its lock: the product and its
// offers, the providers' pause states and last deposits (for the route), a
// purchase already holding the reference_id, and one the duplicate guard
// names. An error that is not "not found" fails the read itself.
type seenAtCreate struct {
	product                    store.Product
	offers                     []store.Offer
	providers                  []store.Provider
	deposits                   []store.ProviderBalanceLatest
	existing, dup              store.Purchase
	productErr, refErr, dupErr error
}

// readForCreate takes the creation lock and reads in one pipeline. The lock
// serializes creations for one client, product and customer, so the
// duplicate guard and the reference check cannot race; the reads after it
// in the pipeline run after it is held.
func (s *Service) readForCreate(ctx context.Context, tx pgx.Tx, req CreateRequest) (seenAtCreate, error) {
	var seen seenAtCreate
	key := req.customerKey()
	err := store.Pipeline(ctx, tx, func(q *store.Queries) error {
		if err := q.LockKey(ctx, lockKey(req.ClientID, req.ProductCode, key)); err != nil {
			return err
		}
		seen.product, seen.productErr = q.ProductGet(ctx, req.ProductCode)
		// Every statement is called before any error is looked at: the
		// pipeline queues them on a first call whose answers are all errors.
		var offersErr, providersErr, depositsErr error
		seen.offers, offersErr = q.OfferListByProduct(ctx, req.ProductCode)
		seen.providers, providersErr = q.ProviderList(ctx)
		seen.deposits, depositsErr = q.ProviderBalanceLatestAll(ctx)
		seen.existing, seen.refErr = q.PurchaseGetByClientReference(ctx, store.PurchaseGetByClientReferenceParams{ClientID: req.ClientID, ReferenceID: req.ReferenceID})
		if !req.AllowRepeat {
			seen.dup, seen.dupErr = q.PurchaseRecentDuplicate(ctx, store.PurchaseRecentDuplicateParams{
				ClientID: req.ClientID, ProductCode: req.ProductCode, CustomerKey: key, Since: s.now().Add(-s.cfg.DuplicateWindow),
			})
		}
		for _, err := range []error{seen.productErr, seen.refErr, seen.dupErr} {
			if err != nil && !isNotFound(err) {
				return err
			}
		}
		return errors.Join(offersErr, providersErr, depositsErr)
	})
	return seen, err
}

// insertPurchase inserts a new purchase with its received event and its
// first job. created is false when another request with the same
// reference_id won the race: the purchase returned is that one.
func (s *Service) insertPurchase(ctx context.Context, tx pgx.Tx, req CreateRequest, product *store.Product, first *store.Offer, route []string, fp string) (store.Purchase, bool, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return store.Purchase{}, false, err
	}
	q := store.New(tx)
	row, err := q.PurchaseInsert(ctx, store.PurchaseInsertParams{
		ID: id, ClientID: req.ClientID, ReferenceID: req.ReferenceID, Fingerprint: fp,
		ProductCode: product.Code, Provider: first.Provider, Family: product.Family,
		Route: route, ProviderProductCode: first.ProviderProductCode,
		CustomerNumber: nonEmpty(req.CustomerNumber), Phone: nonEmpty(req.Phone),
		UserID: nonEmpty(req.UserID), ZoneID: nonEmpty(req.ZoneID), Period: nonEmpty(req.Period),
		CustomerKey: req.customerKey(), MaxPrice: req.MaxPrice, SellingPrice: req.SellingPrice,
		Confirmation: req.Confirmation, AllowRepeat: req.AllowRepeat, CreatedAt: s.now(),
	})
	if isNotFound(err) {
		existing, err := q.PurchaseGetByClientReference(ctx, store.PurchaseGetByClientReferenceParams{ClientID: req.ClientID, ReferenceID: req.ReferenceID})
		return existing, false, err
	}
	if err != nil {
		return store.Purchase{}, false, err
	}
	p := store.Purchase(row)
	var job river.JobArgs = inquiryFor(&p, first)
	if first.Inquiry == "none" {
		job = paymentArgs{PurchaseID: p.ID, Attempt: p.Attempt}
	}
	if _, err := s.river.InsertTx(ctx, tx, job, nil); err != nil {
		return store.Purchase{}, false, err
	}
	return p, true, nil
}

// route fixes a new purchase's route from what Create read (Route in
// decide_route.go): offers of providers this process does not know are
// left out, and the health rule's tripped providers too.
func (s *Service) route(seen seenAtCreate) ([]string, string) {
	paused := map[string]bool{}
	for _, p := range seen.providers {
		paused[p.Name] = p.Paused
	}
	deposits := map[string]int64{}
	for _, d := range seen.deposits {
		deposits[d.Provider] = d.Balance
	}
	var known []store.Offer
	for _, o := range seen.offers {
		if _, ok := s.cfg.Providers[o.Provider]; ok {
			known = append(known, o)
		}
	}
	return Route(known, paused, s.health.tripped(s.now()), deposits)
}

// policies are the policies of the providers of offers (those configured).
func (s *Service) policies(offers []store.Offer) []providers.Policy {
	var out []providers.Policy
	for _, o := range offers {
		if setup, ok := s.cfg.Providers[o.Provider]; ok {
			out = append(out, setup.Policy)
		}
	}
	return out
}

// offerOf returns the offer of provider among offers.
func offerOf(offers []store.Offer, provider string) *store.Offer {
	for i := range offers {
		if offers[i].Provider == provider {
			return &offers[i]
		}
	}
	return nil
}

func sameOrReused(existing store.Purchase, req *CreateRequest) (store.Purchase, bool, error) {
	if !req.sameRequest(existing.Fingerprint) {
		return existing, false, &ReferenceReusedError{Purchase: existing}
	}
	return existing, false, nil
}

func lockKey(client uuid.UUID, product, customer string) int64 {
	h := fnv.New64a()
	h.Write(client[:])
	h.Write([]byte(product + "\x00" + customer))
	return int64(h.Sum64())
}
