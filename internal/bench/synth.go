package bench

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
)

// The synthetic history of --preload: each purchase is written as the flow
// would have left it, ended, with every row a real purchase leaves — its
// status and note events (seq 1, 2, …), its provider calls (each with its
// provider_call event), its callbacks, the attempt it failed over from, its
// contradiction alert, and the deposit observations its answers carried.
// The shapes (names, codes, bodies) are those the flow and the simulators
// produce (docs/simulators.md), so the tables hold what production holds.

// synthOffer is one provider's way to sell a product, in route order.
type synthOffer struct {
	Provider, ProviderProductCode, ItemCode, Inquiry string
	Price                                            int64
}

// synthProduct is a product of the catalog the preload buys.
type synthProduct struct {
	Code, Name, Family string
	Offers             []synthOffer
}

// familyShare is how the preloaded purchases spread over product families:
// top-ups first, as a PPOB reseller sells them.
var familyShare = map[string]float64{
	"pulsa": 0.30, "pln_prepaid": 0.25, "ewallet": 0.17, "paket_data": 0.10,
	"game_voucher": 0.08, "postpaid": 0.07, "bpjs": 0.03,
}

// clientShare is how the purchases spread over the preload's clients: one
// big partner, a few smaller ones.
var clientShare = []float64{0.45, 0.25, 0.15, 0.10, 0.05}

// The rates of the preload's ends and detours, per purchase.
const (
	rateSucceeded     = 0.905
	rateFailed        = 0.070 // the rest (0.025) is canceled
	rateManual        = 0.05  // of the purchases with an inquiry that succeed
	rateFailover      = 0.04  // of the purchases of a product with two offers
	rateContradiction = 1.0 / 20_000
	reviewEvery       = 50_000 // one needs_review purchase per this many
)

// reviewAge is how old every preloaded needs_review purchase at least is:
// its status deadline (24 h after its payment) and the 7 days of hourly
// lookups after it (flow.Config.ReviewLookupFor) have passed, so the
// sweeper lists it and re-drives nothing (docs/invariants.md#10-nothing-waits-forever).
const reviewAge = 9 * 24 * time.Hour

// synth generates the purchases of one preload. Purchase i is a pure
// function of seed and i: batches can be generated in any order, in
// parallel, and give the same rows.
type synth struct {
	seed      uint64
	tag       string // reference_id prefix, unique per preload
	n         int
	first     time.Time // created_at of purchase 0
	span      time.Duration
	products  []synthProduct
	productW  []float64 // cumulative weights of products
	clients   []uuid.UUID
	clientW   []float64 // cumulative weights of clients
	customers int       // distinct customers: each buys about 4 times a year
	reviews   int
	// contradictions is the rate of successes a provider contradicts later.
	contradictions float64
}

func newSynth(seed uint64, tag string, n int, now time.Time, span time.Duration, products []synthProduct, clients []uuid.UUID) (*synth, error) {
	if len(products) == 0 {
		return nil, fmt.Errorf("no product of the catalog can be preloaded (klikoo or snapcart offers with a price)")
	}
	s := &synth{seed: seed, tag: tag, n: n, products: products, clients: clients,
		first: now.Add(-span), span: span - 10*time.Minute, customers: max(n/4, 1), contradictions: rateContradiction}
	perFamily := map[string]int{}
	for _, p := range products {
		perFamily[p.Family]++
	}
	total := 0.0
	for _, p := range products {
		w := familyShare[p.Family]
		if w == 0 {
			w = 0.01
		}
		total += w / float64(perFamily[p.Family])
		s.productW = append(s.productW, total)
	}
	for i := range s.productW {
		s.productW[i] /= total
	}
	total = 0
	for i := range clients {
		w := 0.05
		if i < len(clientShare) {
			w = clientShare[i]
		}
		total += w
		s.clientW = append(s.clientW, total)
	}
	for i := range s.clientW {
		s.clientW[i] /= total
	}
	s.reviews = (n + reviewEvery - 1) / reviewEvery
	return s, nil
}

// pick returns the index the cumulative weights cum give u in [0, 1).
func pick(cum []float64, u float64) int {
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}

// createdAt is when purchase i was created: in order of i, spread evenly
// over the span, the newest ten minutes before now.
func (s *synth) createdAt(i int, r *rand.Rand) time.Time {
	step := float64(s.span) / float64(s.n)
	return s.first.Add(time.Duration((float64(i) + r.Float64()) * step)).UTC().Truncate(time.Microsecond)
}

// review reports whether purchase i is one of the preload's needs_review
// purchases: s.reviews of them, spread over the oldest 95% of the span.
func (s *synth) review(i int) bool {
	if s.reviews == 0 {
		return false
	}
	per := float64(s.n) * 0.95 / float64(s.reviews)
	k := int(float64(i) / per)
	return k < s.reviews && i == int((float64(k)+0.5)*per)
}

// outcome is how a preloaded purchase ends.
type outcome int

const (
	endSucceeded outcome = iota
	endCustomerNotFound
	endProductUnavailable
	endTransactionFailed
	endInquiryExpired
	endCanceled
	endNeedsReview
)

// fill appends purchases lo ≤ i < hi to b.
func (s *synth) fill(b *batch, lo, hi int) {
	for i := lo; i < hi; i++ {
		s.purchase(b, i)
	}
}

func (s *synth) purchase(b *batch, i int) {
	r := rand.New(rand.NewPCG(s.seed, uint64(i)))
	created := s.createdAt(i, r)
	prod := &s.products[pick(s.productW, r.Float64())]
	end := endSucceeded
	switch u := r.Float64(); {
	case s.review(i) && created.Before(s.first.Add(s.span).Add(-reviewAge)):
		end = endNeedsReview
	case u < rateSucceeded:
	case u < rateSucceeded+rateFailed:
		switch v := r.Float64(); {
		case v < 0.45:
			end = endCustomerNotFound
		case v < 0.80:
			end = endTransactionFailed
		case v < 0.92:
			end = endProductUnavailable
		default:
			end = endInquiryExpired
		}
	default:
		end = endCanceled
	}
	inquires := prod.Offers[0].Inquiry != "none"
	if !inquires && end == endInquiryExpired {
		end = endTransactionFailed
	}
	manual := inquires && (end == endCanceled || end == endInquiryExpired || (end == endSucceeded && r.Float64() < rateManual))

	p := s.newPurchase(b, i, r, created, prod, manual)
	t := &timeline{b: b, r: r, p: p, now: created, status: "received", offer: prod.Offers[0], product: prod}
	t.event("note", "received", "client", -1, -1, `{"reference_id": "`+p.ReferenceID+`"}`)

	if end == endCanceled && !inquires {
		t.after(2*time.Second, 60*time.Second)
		t.move("cancel", "canceled", "client", `{}`)
		return
	}
	if inquires {
		if !t.inquiry(end) {
			return
		}
		if manual {
			t.after(50*time.Millisecond, 200*time.Millisecond)
			t.move("await_confirmation", "awaiting_confirmation", "", `{}`)
			exp := t.now.Add(10 * time.Minute)
			p.ExpiresAt = &exp
			switch end {
			case endCanceled:
				t.after(10*time.Second, 5*time.Minute)
				t.move("cancel", "canceled", "client", `{}`)
				return
			case endInquiryExpired:
				t.now = exp
				t.after(10*time.Millisecond, 2*time.Second)
				t.fail("expire", "inquiry_expired", "the client did not confirm within INQUIRY_TTL", `{"failure_code": "inquiry_expired"}`)
				return
			}
			t.after(5*time.Second, 3*time.Minute)
			now := t.now
			p.ConfirmedAt = &now
			t.move("confirm", "paying", "client", `{}`)
		} else {
			t.after(5*time.Millisecond, 50*time.Millisecond)
			t.move("pay", "paying", "", `{}`)
		}
	} else {
		t.after(20*time.Millisecond, 400*time.Millisecond)
		t.move("pay", "paying", "", `{}`)
	}
	if len(prod.Offers) > 1 && r.Float64() < rateFailover {
		t.failOver(prod.Offers[1])
	}
	if !t.payment(end) {
		return
	}
	t.resolve(end, r.Float64() < s.contradictions)
}

// newPurchase appends purchase i as the client created it.
func (s *synth) newPurchase(b *batch, i int, r *rand.Rand, created time.Time, prod *synthProduct, manual bool) *synthPurchase {
	client := s.clients[pick(s.clientW, r.Float64())]
	cust := r.IntN(s.customers)
	b.purchases = append(b.purchases, synthPurchase{})
	p := &b.purchases[len(b.purchases)-1]
	p.ID = uuidV7(created, r)
	p.ClientID = client
	p.ReferenceID = fmt.Sprintf("%s-%09d", s.tag, i)
	p.Status = "received"
	p.ProductCode, p.Family = prod.Code, prod.Family
	p.Provider, p.ProviderProductCode = prod.Offers[0].Provider, prod.Offers[0].ProviderProductCode
	for _, o := range prod.Offers {
		p.Route = append(p.Route, o.Provider)
	}
	p.Attempt = 1
	p.CreatedAt, p.UpdatedAt, p.AttemptStartedAt = created, created, created
	p.Confirmation = "automatic"
	if manual {
		p.Confirmation = "manual"
	}
	var customer, userID, zoneID string
	switch prod.Family {
	case "pln_prepaid":
		customer = fmt.Sprintf("5%010d", 1_000_000_000+cust)
	case "postpaid", "bpjs":
		customer = fmt.Sprintf("0%011d", 20_000_000_000+cust)
	case "game_voucher":
		userID, zoneID = fmt.Sprintf("%09d", 100_000_000+cust), fmt.Sprintf("%04d", 1000+cust%9000)
	default:
		customer = fmt.Sprintf("08%010d", 1_100_000_000+cust)
	}
	if customer != "" {
		p.CustomerNumber, p.CustomerKey = &customer, customer
	} else {
		p.UserID, p.ZoneID, p.CustomerKey = &userID, &zoneID, userID+"@"+zoneID
	}
	maxPrice := "null"
	if r.Float64() < 0.3 {
		m := (prod.Offers[0].Price/1000 + 5) * 1000
		if prod.Family == "postpaid" || prod.Family == "bpjs" {
			m = 1_000_000
		}
		p.MaxPrice = &m
		maxPrice = fmt.Sprint(m)
	}
	sell := "null"
	if r.Float64() < 0.6 {
		v := prod.Offers[0].Price + 500 + 500*int64(r.IntN(5))
		p.SellingPrice = &v
		sell = fmt.Sprint(v)
	}
	p.Fingerprint = flow.FingerprintOf(fmt.Sprintf(`{"confirmation":%q,"customer_number":%q,"max_price":%s,"period":"","phone":"","product_code":%q,"selling_price":%s,"user_id":%q,"zone_id":%q}`,
		p.Confirmation, customer, maxPrice, prod.Code, sell, userID, zoneID))
	return p
}

// uuidV7 is a version 7 UUID of moment t (our ids are UUID v7), its random
// bits from r.
func uuidV7(t time.Time, r *rand.Rand) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[8:], r.Uint64())
	binary.BigEndian.PutUint64(u[0:], uint64(t.UnixMilli())<<16|uint64(r.Uint32()&0x0fff))
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	return u
}

// uuidV4 is a random (version 4) UUID from r: Klikoo's references.
func uuidV4(r *rand.Rand) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:], r.Uint64())
	binary.BigEndian.PutUint64(u[8:], r.Uint64())
	u[6] = 0x40 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	return u
}

// ulid is a Snapcart request id: 26 Crockford base-32 characters.
func ulid(r *rand.Rand) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	b := make([]byte, 26)
	for i := range b {
		b[i] = alphabet[r.IntN(32)]
	}
	b[0] = '0'
	return string(b)
}

// digits returns n random decimal digits.
func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func bodyHash(body string) []byte {
	h := sha256.Sum256([]byte(body))
	return h[:]
}

// lookupSchedule is when the lookups of a processing purchase run, after
// the payment's answer: flow.DefaultLookupBackoff, its last step repeated.
func lookupSchedule(k int) time.Duration {
	var d time.Duration
	steps := flow.DefaultLookupBackoff
	for j := range k + 1 {
		d += steps[min(j, len(steps)-1)]
	}
	return d
}
