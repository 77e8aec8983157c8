package snapcart

import (
	"context"
	"fmt"
	"net/url"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// typeFamilies maps Snapcart catalog types to product families.
var typeFamilies = map[string]providers.Family{
	"pulsa":        providers.FamilyPulsa,
	"paket-data":   providers.FamilyPaketData,
	"game-voucher": providers.FamilyGameVoucher,
	"bpjs":         providers.FamilyBPJS,
	"postpaid":     providers.FamilyPostpaid,
}

// FamilyOfType returns the product family of a Snapcart catalog type
// ("pulsa", "paket-data", "game-voucher", "bpjs"; "postpaid" is the
// simulator's extension for Telkom and PDAM bills).
func FamilyOfType(catalogType string) (providers.Family, bool) {
	f, ok := typeFamilies[catalogType]
	return f, ok
}

// Products reads the catalog: GET {catalog}{type} for each configured type,
// then GET {catalog}{type}/{code}/items for each product. It returns one
// Product per item: Code is the product_code, ItemCode the item's item_code,
// Name the item's name, Category the catalog type (see FamilyOfType), Price
// the item's price (our buy price) and Enabled the product's "active" flag
// (true when absent). A product without items is left out.
//
// The catalog is all or nothing: when any call does not succeed, or any
// price is malformed, Products returns no products and the Result of that
// call (Unknown, or Rejected for a refused key), so a partial answer never
// disables products. Every call made is in Result.Calls.
func (c *Client) Products(ctx context.Context) ([]providers.Product, providers.Result) {
	var (
		out   []providers.Product
		calls []providers.Call
	)
	fail := func(res providers.Result) ([]providers.Product, providers.Result) {
		res.Calls = append(calls, res.Calls...)
		c.logResult(ctx, opProducts, res)
		return nil, res
	}
	for _, typ := range c.catalogTypes {
		var list []catalogProduct
		res := c.catalogGet(ctx, c.catalogPrefix+url.PathEscape(typ), &list)
		if res.Outcome != providers.Succeeded {
			return fail(res)
		}
		calls = append(calls, res.Calls...)
		for _, p := range list {
			if p.ProductCode == "" {
				continue
			}
			var items []catalogItem
			path := c.catalogPrefix + url.PathEscape(typ) + "/" + url.PathEscape(string(p.ProductCode)) + "/items"
			res := c.catalogGet(ctx, path, &items)
			if res.Outcome != providers.Succeeded {
				return fail(res)
			}
			calls = append(calls, res.Calls...)
			enabled := p.Active == nil || *p.Active
			for _, it := range items {
				if !it.Price.Set {
					return fail(providers.Result{Outcome: providers.Unknown, Reason: providers.ReasonUnreadableAnswer,
						Detail: fmt.Sprintf("catalog %s/%s: item %q has no price", typ, p.ProductCode, it.ItemCode)})
				}
				name := string(it.Name)
				if name == "" {
					name = string(p.Name)
				}
				out = append(out, providers.Product{
					Code: string(p.ProductCode), Name: name, Category: typ,
					Price: it.Price.Value, Enabled: enabled, ItemCode: string(it.ItemCode),
				})
			}
		}
	}
	res := providers.Result{Outcome: providers.Succeeded, Detail: fmt.Sprintf("%d products", len(out)), Calls: calls}
	c.logResult(ctx, opProducts, res)
	return out, res
}

// catalogGet makes one catalog call and decodes its data into v.
func (c *Client) catalogGet(ctx context.Context, path string, v any) providers.Result {
	call, raw, err := c.send(ctx, exchange{op: opProducts, method: "GET", path: path})
	if err != nil {
		return transportResult(call, err)
	}
	res, env, ok := answerResult(opProducts, call, raw)
	if !ok {
		return res
	}
	res.Outcome, res.Reason, _ = classify(opProducts, signal{Code: string(env.StatusCode), Message: string(env.StatusMessage)})
	if res.Outcome != providers.Succeeded {
		return res
	}
	if err := decodeList(env.Data, v); err != nil {
		unreadable(&res, fmt.Errorf("catalog %s: %w", path, err))
	}
	return res
}
