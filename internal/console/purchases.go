package console

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
	"github.com/ppob-orchestrator/orchestrator/internal/webhook"
)

// pageSize is how many purchases a list page shows; maxMatches bounds the
// purchases one search term may name.
const (
	pageSize   = 50
	maxMatches = 500
)

// endOfTime and its uuid bound the newest-first scan when neither a page
// nor a date range does (keyset pagination always has a bound).
var (
	endOfTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	maxUUID   = uuid.UUID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	beginning = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
)

// purchaseFilter is the Purchases page's query, as typed.
type purchaseFilter struct {
	Q, Status, Provider, Product, Client, From, To, Cursor string
}

// purchaseQuery is a valid purchaseFilter, ready for the store.
type purchaseQuery struct {
	term        string
	id          *uuid.UUID
	messageID   *uuid.UUID // the term is a webhook-id
	status      *store.PurchaseStatus
	provider    *string
	product     *string
	client      *uuid.UUID
	after       time.Time
	beforeTime  time.Time
	beforeID    uuid.UUID
	customerKey string
}

// purchasesData is the Purchases page.
type purchasesData struct {
	Filter    purchaseFilter
	Rows      []purchaseRow
	Next      string // the next page's URL, "" on the last
	Statuses  []flow.Status
	Clients   []store.ClientListRow
	Products  []store.Product
	Providers []string
	Searched  bool
}

// purchaseRow is one purchase of a list, with the fields a search matched.
type purchaseRow struct {
	store.PurchaseListNewestRow
	Matched string
}

// parse validates f; every problem names its field.
func (f purchaseFilter) parse() (purchaseQuery, []string) {
	q := purchaseQuery{term: f.Q, after: beginning, beforeTime: endOfTime, beforeID: maxUUID}
	var problems []string
	if len(f.Q) > 200 {
		problems = append(problems, "q: must be at most 200 characters")
	}
	if id, err := uuid.Parse(f.Q); err == nil {
		q.id = &id
	}
	if id, ok := webhook.ParseWebhookID(f.Q); ok {
		q.messageID = &id
	}
	norm := flow.CreateRequest{CustomerNumber: f.Q}
	norm.Normalize()
	q.customerKey = norm.CustomerNumber
	if f.Status != "" {
		st := store.PurchaseStatus(f.Status)
		if !st.Valid() {
			problems = append(problems, "status: must be one of the purchase statuses")
		}
		q.status = &st
	}
	if f.Provider != "" {
		q.provider = &f.Provider
	}
	if f.Product != "" {
		q.product = &f.Product
	}
	if f.Client != "" {
		id, err := uuid.Parse(f.Client)
		if err != nil {
			problems = append(problems, "client: must be a client's id")
		}
		q.client = &id
	}
	if f.From != "" {
		d, err := time.ParseInLocation(time.DateOnly, f.From, wib)
		if err != nil {
			problems = append(problems, "from: must be a date like 2025-11-30")
		}
		q.after = d
	}
	if f.To != "" {
		d, err := time.ParseInLocation(time.DateOnly, f.To, wib)
		if err != nil {
			problems = append(problems, "to: must be a date like 2025-11-30")
		}
		// The whole day: (created_at, id) < (next midnight, the least id).
		q.beforeTime, q.beforeID = d.AddDate(0, 0, 1), uuid.Nil
	}
	if f.Cursor != "" {
		t, id, err := parseCursor(f.Cursor)
		if err != nil {
			problems = append(problems, "cursor: is not a page of this list")
		} else if t.Before(q.beforeTime) || (t.Equal(q.beforeTime) && bytes.Compare(id[:], q.beforeID[:]) < 0) {
			q.beforeTime, q.beforeID = t, id
		}
	}
	return q, problems
}

// purchases is GET /console/purchases: search by any identifier an
// operator may hold, filters, newest first, keyset pages.
func (c *Console) purchases(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	v := r.URL.Query()
	f := purchaseFilter{
		Q: strings.TrimSpace(v.Get("q")), Status: v.Get("status"), Provider: v.Get("provider"), Product: v.Get("product"),
		Client: v.Get("client"), From: v.Get("from"), To: v.Get("to"), Cursor: v.Get("cursor"),
	}
	data := purchasesData{Filter: f, Statuses: flow.Statuses, Searched: f.Q != ""}
	var err error
	if data.Clients, err = c.q.ClientList(ctx); err != nil {
		c.internal(w, r, s, fmt.Errorf("list clients: %w", err))
		return
	}
	if data.Products, err = c.q.ProductList(ctx); err != nil {
		c.internal(w, r, s, fmt.Errorf("list products: %w", err))
		return
	}
	offers, err := c.q.OfferList(ctx)
	if err != nil {
		c.internal(w, r, s, fmt.Errorf("list offers: %w", err))
		return
	}
	for _, o := range offers {
		if !slices.Contains(data.Providers, o.Provider) {
			data.Providers = append(data.Providers, o.Provider)
		}
	}
	q, problems := f.parse()
	if len(problems) > 0 {
		c.render(w, r, http.StatusUnprocessableEntity, "purchases", s, "Purchases", data, strings.Join(problems, "; "))
		return
	}
	rows, err := c.listPurchases(ctx, q)
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	if len(rows) > pageSize {
		rows = rows[:pageSize]
		last := rows[len(rows)-1]
		next := url.Values{}
		for k, vals := range v {
			next[k] = vals
		}
		next.Set("cursor", cursorOf(last.CreatedAt, last.ID))
		data.Next = "/console/purchases?" + next.Encode()
	}
	data.Rows = rows
	c.render(w, r, http.StatusOK, "purchases", s, "Purchases", data, "")
}

// listPurchases reads one page (plus one row, to know whether another
// follows): the search's matches when there is a term, else every purchase.
func (c *Console) listPurchases(ctx context.Context, q purchaseQuery) ([]purchaseRow, error) {
	params := store.PurchaseListNewestParams{
		BeforeCreatedAt: q.beforeTime, BeforeID: q.beforeID, After: q.after, Status: q.status,
		Provider: q.provider, ProductCode: q.product, ClientID: q.client, RowLimit: pageSize + 1,
	}
	if q.term == "" {
		rows, err := c.q.PurchaseListNewest(ctx, params)
		if err != nil {
			return nil, fmt.Errorf("list purchases: %w", err)
		}
		out := make([]purchaseRow, len(rows))
		for i, r := range rows {
			out[i] = purchaseRow{PurchaseListNewestRow: r}
		}
		return out, nil
	}
	matches, err := c.q.PurchaseSearchMatches(ctx, store.PurchaseSearchMatchesParams{
		Term: q.term, ID: q.id, MessageID: q.messageID, CustomerNumber: q.customerKey, RowLimit: maxMatches,
	})
	if err != nil {
		return nil, fmt.Errorf("search purchases for %q: %w", q.term, err)
	}
	fields := map[uuid.UUID][]string{}
	ids := make([]uuid.UUID, 0, len(matches))
	for _, m := range matches {
		if _, seen := fields[m.ID]; !seen {
			ids = append(ids, m.ID)
		}
		fields[m.ID] = append(fields[m.ID], m.Field)
	}
	rows, err := c.q.PurchaseListByIDs(ctx, store.PurchaseListByIDsParams{
		Ids: ids, BeforeCreatedAt: params.BeforeCreatedAt, BeforeID: params.BeforeID, After: params.After,
		Status: params.Status, Provider: params.Provider, ProductCode: params.ProductCode, ClientID: params.ClientID,
		RowLimit: params.RowLimit,
	})
	if err != nil {
		return nil, fmt.Errorf("list matched purchases: %w", err)
	}
	out := make([]purchaseRow, len(rows))
	for i, r := range rows {
		out[i] = purchaseRow{PurchaseListNewestRow: store.PurchaseListNewestRow(r), Matched: strings.Join(fields[r.ID], ", ")}
	}
	return out, nil
}

// cursorOf is a page's position: the (created_at, id) of its last row,
// opaque to the browser.
func cursorOf(t time.Time, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "." + id.String()))
}

func parseCursor(s string) (time.Time, uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, uuid.Nil, err
	}
	us, rest, ok := strings.Cut(string(b), ".")
	if !ok {
		return time.Time{}, uuid.Nil, fmt.Errorf("cursor without id")
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return time.Time{}, uuid.Nil, err
	}
	id, err := uuid.Parse(rest)
	if err != nil {
		return time.Time{}, uuid.Nil, err
	}
	return time.UnixMicro(n).UTC(), id, nil
}
