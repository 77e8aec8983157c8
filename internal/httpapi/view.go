package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// purchaseView is a purchase as api.md shows it. It is built field by field
// from the row, so nothing internal (provider references, request ids,
// fingerprints, attempt counters) can leak by being added to the table.
type purchaseView struct {
	ID             string       `json:"id"`
	ReferenceID    string       `json:"reference_id"`
	Status         string       `json:"status"`
	ProductCode    string       `json:"product_code"`
	Provider       string       `json:"provider"`
	CustomerNumber string       `json:"customer_number,omitempty"`
	Phone          string       `json:"phone,omitempty"`
	UserID         string       `json:"user_id,omitempty"`
	ZoneID         string       `json:"zone_id,omitempty"`
	Period         string       `json:"period,omitempty"`
	Price          *int64       `json:"price"`
	SellingPrice   *int64       `json:"selling_price"`
	MaxPrice       *int64       `json:"max_price"`
	Confirmation   string       `json:"confirmation"`
	Inquiry        *inquiryView `json:"inquiry"`
	Result         *resultView  `json:"result"`
	Failure        *failureView `json:"failure"`
	CreatedAt      string       `json:"created_at"`
	UpdatedAt      string       `json:"updated_at"`
	CompletedAt    *string      `json:"completed_at"`
}

// inquiryView is the client's part of purchases.inquiry (never its request_id).
type inquiryView struct {
	CustomerName string            `json:"customer_name,omitempty"`
	Amount       int64             `json:"amount"`
	Total        int64             `json:"total,omitempty"`
	Details      map[string]string `json:"details,omitempty"`
}

// resultView is the client's part of purchases.result (never the
// operator's note).
type resultView struct {
	SerialNumber          string `json:"serial_number,omitempty"`
	Token                 string `json:"token,omitempty"`
	CustomerName          string `json:"customer_name,omitempty"`
	Tariff                string `json:"tariff,omitempty"`
	Power                 string `json:"power,omitempty"`
	KWh                   string `json:"kwh,omitempty"`
	ProviderTransactionID string `json:"provider_transaction_id,omitempty"`
}

type failureView struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func viewPurchase(p store.Purchase) purchaseView {
	v := purchaseView{
		ID: p.ID.String(), ReferenceID: p.ReferenceID, Status: string(p.Status),
		ProductCode: p.ProductCode, Provider: p.Provider,
		CustomerNumber: deref(p.CustomerNumber), Phone: deref(p.Phone), UserID: deref(p.UserID),
		ZoneID: deref(p.ZoneID), Period: deref(p.Period),
		Price: p.Price, SellingPrice: p.SellingPrice, MaxPrice: p.MaxPrice, Confirmation: p.Confirmation,
		CreatedAt: rfc3339(p.CreatedAt), UpdatedAt: rfc3339(p.UpdatedAt),
	}
	if len(p.Inquiry) > 0 && string(p.Inquiry) != "null" {
		var iv inquiryView
		if json.Unmarshal(p.Inquiry, &iv) == nil {
			v.Inquiry = &iv
		}
	}
	if len(p.Result) > 0 && string(p.Result) != "null" {
		var rv resultView
		if json.Unmarshal(p.Result, &rv) == nil && rv != (resultView{}) {
			v.Result = &rv
		}
	}
	if p.FailureCode != nil {
		v.Failure = &failureView{Code: *p.FailureCode, Message: deref(p.FailureMessage)}
	}
	if p.CompletedAt != nil {
		s := rfc3339(*p.CompletedAt)
		v.CompletedAt = &s
	}
	return v
}

// eventView is one entry of a purchase's audit timeline. Data is what the
// flow recorded, which by construction holds no secret (provider bodies
// with secrets live in provider_calls, not here). Seq numbers the entries
// of this purchase from 1: the table's own id is global and would tell a
// client how busy the other clients are.
type eventView struct {
	Seq        int             `json:"seq"`
	Kind       string          `json:"kind"`
	Name       string          `json:"name"`
	FromStatus *string         `json:"from_status"`
	ToStatus   *string         `json:"to_status"`
	Actor      string          `json:"actor"`
	Data       json.RawMessage `json:"data"`
	CreatedAt  string          `json:"created_at"`
}

func viewEvent(seq int, e store.PurchaseEvent) eventView {
	v := eventView{Seq: seq, Kind: e.Kind, Name: e.Name, Actor: e.Actor, Data: e.Data, CreatedAt: rfc3339(e.CreatedAt)}
	if len(v.Data) == 0 {
		v.Data = json.RawMessage("{}")
	}
	if e.FromStatus != nil {
		s := string(*e.FromStatus)
		v.FromStatus = &s
	}
	if e.ToStatus != nil {
		s := string(*e.ToStatus)
		v.ToStatus = &s
	}
	return v
}

// productView is a catalog entry.
type productView struct {
	Code           string  `json:"code"`
	Name           string  `json:"name"`
	Provider       string  `json:"provider"`
	Family         string  `json:"family"`
	Inquiry        string  `json:"inquiry"` // required, optional or none
	Price          *int64  `json:"price"`
	PriceFetchedAt *string `json:"price_fetched_at"`
}

func viewProduct(p store.Product) productView {
	v := productView{Code: p.Code, Name: p.Name, Provider: p.Provider, Family: p.Family, Inquiry: p.Inquiry, Price: p.Price}
	if p.PriceFetchedAt != nil {
		s := rfc3339(*p.PriceFetchedAt)
		v.PriceFetchedAt = &s
	}
	return v
}

// cursor is a position in a keyset listing: the (created_at, id) of the
// last row shown. Clients see it as an opaque string.
type cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + c.ID.String()))
}

var errBadCursor = errors.New("bad cursor")

func parseCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, errBadCursor
	}
	us, id, ok := strings.Cut(string(b), ".")
	if !ok {
		return cursor{}, errBadCursor
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return cursor{}, errBadCursor
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return cursor{}, errBadCursor
	}
	return cursor{CreatedAt: time.UnixMicro(n).UTC(), ID: u}, nil
}

// jsonEncode writes v as JSON without HTML escaping.
func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
