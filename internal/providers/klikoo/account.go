package klikoo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// Endpoints of the account calls (signed paths).
const (
	balancePath  = "/v1/open-api/balance"
	productsPath = "/v1/open-api/products"
)

// maxProductPages bounds one product list walk.
const maxProductPages = 200

// Balance returns our deposit at Klikoo. The amount is meaningful only when
// the Result's Outcome is Succeeded.
func (c *Client) Balance(ctx context.Context) (int64, providers.Result) {
	var res providers.Result
	a, ok := c.do(ctx, request{op: opBalance, method: "GET", path: balancePath, table: readCodes}, &res)
	if !ok {
		return 0, res
	}
	bal, r := readBalance(a)
	r.Calls = res.Calls
	return bal, r
}

// readBalance reads a balance answer: data{balance}.
func readBalance(a answer) (int64, providers.Result) {
	var res providers.Result
	v := a.verdict(readCodes)
	finish(&res, v, a)
	if !v.OK {
		return 0, res
	}
	f, err := decodeFields(a.env.Data)
	var bal int64
	var present bool
	if err == nil {
		bal, present, err = f.money("balance")
	}
	if err == nil && !present {
		err = errors.New("balance is missing")
	}
	if err != nil {
		res.Outcome, res.Reason = providers.Unknown, providers.ReasonUnreadableAnswer
		res.Detail = "unreadable balance answer: " + err.Error()
		return 0, res
	}
	return bal, res
}

// productQuery is the product list request body.
type productQuery struct {
	Limit  int          `json:"limit"`
	Page   int          `json:"page"`
	Search []searchTerm `json:"search"`
	Sort   searchTerm   `json:"sort"`
}

// searchTerm is one {field, value} pair of the product query.
type searchTerm struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// Products lists every product, paging until a page comes back short. The
// list is all or nothing: when any page fails or holds an unreadable item,
// no products are returned and the Result says why (a catalog with a wrong
// price is worse than a stale one). Price is the product's agent_price, our
// buy price; Category is Klikoo's category.
func (c *Client) Products(ctx context.Context) ([]providers.Product, providers.Result) {
	var res providers.Result
	var all []providers.Product
	for page := 1; page <= maxProductPages; page++ {
		body, err := json.Marshal(productQuery{Limit: c.pageSize, Page: page, Search: []searchTerm{}, Sort: searchTerm{Field: "code", Value: "asc"}})
		if err != nil {
			res.Outcome, res.Reason, res.Detail = providers.Failed, providers.ReasonInvalidRequest, fmt.Sprintf("klikoo products: encode: %v", err)
			return nil, res
		}
		a, ok := c.do(ctx, request{op: opProducts, method: "POST", path: productsPath, body: body, table: readCodes}, &res)
		if !ok {
			return nil, res
		}
		items, total, r := readProducts(a)
		if r.Outcome != providers.Succeeded {
			r.Calls = res.Calls
			return nil, r
		}
		all = append(all, items...)
		if len(items) < c.pageSize || (total >= 0 && int64(page)*int64(c.pageSize) >= total) {
			res.Outcome, res.Reason, res.Detail = r.Outcome, r.Reason, r.Detail
			return all, res
		}
	}
	res.Outcome, res.Reason = providers.Unknown, providers.ReasonUnreadableAnswer
	res.Detail = fmt.Sprintf("klikoo products: more than %d pages", maxProductPages)
	return nil, res
}

// readProducts reads one page of the product list: data as an array or an
// object with "items" or "products". total is -1 when not given.
func readProducts(a answer) ([]providers.Product, int64, providers.Result) {
	var res providers.Result
	v := a.verdict(readCodes)
	finish(&res, v, a)
	if !v.OK {
		return nil, -1, res
	}
	unreadable := func(err error) ([]providers.Product, int64, providers.Result) {
		res.Outcome, res.Reason = providers.Unknown, providers.ReasonUnreadableAnswer
		res.Detail = "unreadable product list: " + err.Error()
		return nil, -1, res
	}
	rows, total, err := productRows(a.env.Data)
	if err != nil {
		return unreadable(err)
	}
	out := make([]providers.Product, 0, len(rows))
	for i, raw := range rows {
		var f fields
		if err := json.Unmarshal(raw, &f); err != nil {
			return unreadable(fmt.Errorf("item %d: %w", i, err))
		}
		p, err := readProduct(f)
		if err != nil {
			return unreadable(fmt.Errorf("item %d: %w", i, err))
		}
		out = append(out, p)
	}
	return out, total, res
}

func productRows(data json.RawMessage) ([]json.RawMessage, int64, error) {
	var rows []json.RawMessage
	if err := json.Unmarshal(data, &rows); err == nil {
		return rows, -1, nil
	}
	f, err := decodeFields(data)
	if err != nil {
		return nil, -1, err
	}
	list, ok := f["items"]
	if !ok {
		list = f["products"]
	}
	if len(list) == 0 || string(list) == "null" {
		return nil, -1, nil
	}
	if err := json.Unmarshal(list, &rows); err != nil {
		return nil, -1, fmt.Errorf("items: %w", err)
	}
	total := int64(-1)
	if n, ok, err := f.money("total"); err == nil && ok {
		total = n
	}
	return rows, total, nil
}

// readProduct reads one item: code, name, category, enable, agent_price.
func readProduct(f fields) (providers.Product, error) {
	var p providers.Product
	var err error
	if p.Code, err = f.text("code"); err != nil {
		return p, err
	}
	if p.Code == "" {
		return p, errors.New("code is missing")
	}
	if p.Name, err = f.text("name"); err != nil {
		return p, err
	}
	if p.Category, err = f.text("category"); err != nil {
		return p, err
	}
	if p.Enabled, err = f.boolish("enable"); err != nil {
		return p, err
	}
	price, present, err := f.money("agent_price")
	if err != nil {
		return p, err
	}
	if !present {
		return p, fmt.Errorf("%s: agent_price is missing", p.Code)
	}
	p.Price = price
	return p, nil
}
