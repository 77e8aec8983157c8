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

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

func rfc3339(t time.Time) string { return flow.RFC3339(t) }

// eventView is one entry of a purchase's audit timeline. Data is what the
// flow recorded, which by construction holds no secret (provider bodies
// with secrets live in provider_calls, not here). Seq numbers the entries
// of this purchase from 1: the table's own id is global and would tell a
// client how busy the other clients are. It is stored with the event
// (assigned under the purchase's row lock), so webhook messages carry the
// same numbers.
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

func viewEvent(e store.PurchaseEvent) eventView {
	v := eventView{Seq: int(e.Seq), Kind: e.Kind, Name: e.Name, Actor: e.Actor, Data: e.Data, CreatedAt: rfc3339(e.CreatedAt)}
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

// productView is a product of the catalog as a purchase would be routed
// now (docs/routing.md): Provider is the first provider of that route
// (null when no offer is usable), Providers the usable offers' providers in
// route order, and Inquiry, Price and PriceFetchedAt those of the first.
type productView struct {
	Code           string   `json:"code"`
	Name           string   `json:"name"`
	Family         string   `json:"family"`
	Provider       *string  `json:"provider"`
	Providers      []string `json:"providers"`
	Inquiry        *string  `json:"inquiry"` // required, optional or none
	Price          *int64   `json:"price"`
	PriceFetchedAt *string  `json:"price_fetched_at"`
}

func viewProduct(c flow.CatalogProduct) productView {
	v := productView{Code: c.Product.Code, Name: c.Product.Name, Family: c.Product.Family, Providers: c.Route}
	if v.Providers == nil {
		v.Providers = []string{}
	}
	if o := c.First; o != nil {
		v.Provider, v.Inquiry, v.Price = &o.Provider, &o.Inquiry, o.Price
		if o.PriceFetchedAt != nil {
			s := rfc3339(*o.PriceFetchedAt)
			v.PriceFetchedAt = &s
		}
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
