package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// client buys orders over the HTTP API the way a careful partner does: a
// request that got no answer (connection error, 5xx, 429) is sent again,
// identical, until it is answered — reference_id makes that safe (docs/api.md).
type client struct {
	base string
	keys []string // API key of each client index
	http *http.Client

	mu       sync.Mutex
	problems []string           // API contract violations (bounded)
	count    int                // all of them
	retries  int                // requests sent again after no answer
	refused  map[string]refusal // by client index/reference_id: orders answered 409 product_unavailable
}

func newClient(base string, keys []string) *client {
	return &client{base: base, keys: keys, http: &http.Client{Timeout: 15 * time.Second}, refused: map[string]refusal{}}
}

func (c *client) problem(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count++
	if len(c.problems) < 50 {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

// answer is an API answer: its HTTP status and the members chaos reads (a
// purchase's id and status; a problem's code and the purchase it names).
type answer struct {
	status     int
	ID         string
	Status     string
	Code       string
	PurchaseID string
	retried    bool
}

func (a *answer) UnmarshalJSON(b []byte) error {
	var v struct {
		ID         string          `json:"id"`
		Status     json.RawMessage `json:"status"`
		Code       string          `json:"code"`
		PurchaseID string          `json:"purchase_id"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	a.ID, a.Code, a.PurchaseID = v.ID, v.Code, v.PurchaseID
	if a.Code == "" { // a purchase, whose status is a string (a problem's is a number)
		_ = json.Unmarshal(v.Status, &a.Status)
	}
	return nil
}

// do sends one request until it is answered with something other than a
// transient failure, or ctx ends.
func (c *client) do(ctx context.Context, key, method, path string, body any) (answer, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return answer{}, err
		}
	}
	retried := false
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(raw))
		if err != nil {
			return answer{}, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := c.http.Do(req)
		if err == nil {
			b, rerr := io.ReadAll(io.LimitReader(res.Body, 1<<20))
			res.Body.Close()
			transient := res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests
			if rerr == nil && !transient {
				a := answer{status: res.StatusCode, retried: retried}
				if err := json.Unmarshal(b, &a); err != nil {
					return a, fmt.Errorf("%s %s: HTTP %d with an unreadable body: %w", method, path, res.StatusCode, err)
				}
				return a, nil
			}
		}
		if ctx.Err() != nil {
			return answer{}, ctx.Err()
		}
		retried = true
		c.mu.Lock()
		c.retries++
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return answer{}, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// orderKey names an order as the run's maps do.
func orderKey(o Order) string { return fmt.Sprintf("%d/%s", o.Client, o.ReferenceID) }

// unavailable reports whether a is routing's refusal to create (409
// product_unavailable), and records it: the run judges it against the
// pauses it made.
func (c *client) unavailable(o Order, a answer, sent time.Time) bool {
	if a.status != http.StatusConflict || a.Code != "product_unavailable" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refused[orderKey(o)] = refusal{order: o, sent: sent, answeredAt: time.Now()}
	return true
}

// buy sends o as its Submission says and checks every answer against
// docs/api.md. It returns the purchase id ("" when the API refused to create
// it).
func (c *client) buy(ctx context.Context, o Order) (string, error) {
	key := c.keys[o.Client]
	sent := time.Now()
	created := func(a answer, first bool) bool {
		ok := a.status == http.StatusCreated || (a.status == http.StatusOK && (a.retried || !first))
		if !ok {
			c.problem("%s: POST answered %d %s, want 201 (or 200 after a retry)", o.ReferenceID, a.status, a.Code)
		}
		return ok && a.ID != ""
	}
	switch o.Submit {
	case SubmitConcurrent:
		answers := make([]answer, 3)
		errs := make([]error, 3)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() { answers[i], errs[i] = c.do(ctx, key, http.MethodPost, "/v1/purchases", o.Body) })
		}
		wg.Wait()
		id, fresh, retried, refused := "", 0, false, 0
		for i, a := range answers {
			if errs[i] != nil {
				return "", errs[i]
			}
			retried = retried || a.retried
			switch {
			case a.status == http.StatusCreated:
				fresh++
			case a.status == http.StatusConflict && a.Code == "product_unavailable":
				refused++ // a pause began or ended between them
				continue
			case a.status != http.StatusOK:
				c.problem("%s: concurrent POST answered %d %s", o.ReferenceID, a.status, a.Code)
			}
			if id == "" {
				id = a.ID
			} else if a.ID != id {
				c.problem("%s: concurrent POSTs answered two purchases, %s and %s", o.ReferenceID, id, a.ID)
			}
		}
		if refused == len(answers) {
			c.unavailable(o, answers[0], sent)
			return "", nil
		}
		if fresh > 1 || (fresh == 0 && !retried) {
			c.problem("%s: %d of 3 concurrent POSTs answered 201, want exactly 1", o.ReferenceID, fresh)
		}
		return id, nil
	}
	a, err := c.do(ctx, key, http.MethodPost, "/v1/purchases", o.Body)
	if err != nil {
		return "", err
	}
	if c.unavailable(o, a, sent) {
		return "", nil
	}
	if !created(a, true) {
		return a.ID, nil
	}
	switch o.Submit {
	case SubmitTwice:
		b, err := c.do(ctx, key, http.MethodPost, "/v1/purchases", o.Body)
		if err != nil {
			return a.ID, err
		}
		if b.status != http.StatusOK || b.ID != a.ID {
			c.problem("%s: the repeated POST answered %d for %q, want 200 for %s", o.ReferenceID, b.status, b.ID, a.ID)
		}
	case SubmitReused:
		other := make(map[string]any, len(o.Body)+1)
		for k, v := range o.Body {
			other[k] = v
		}
		other["selling_price"] = 123456
		b, err := c.do(ctx, key, http.MethodPost, "/v1/purchases", other)
		if err != nil {
			return a.ID, err
		}
		if b.status != http.StatusConflict || b.Code != "reference_id_reused" || b.PurchaseID != a.ID {
			c.problem("%s: reusing the reference_id answered %d %s naming %q, want 409 reference_id_reused naming %s", o.ReferenceID, b.status, b.Code, b.PurchaseID, a.ID)
		}
	}
	return a.ID, nil
}

// settleManual waits for a manual purchase to await confirmation, then
// confirms or cancels it. A purchase that never gets there (its inquiry
// failed) is left alone.
func (c *client) settleManual(ctx context.Context, o Order, id string) error {
	key := c.keys[o.Client]
	for {
		a, err := c.do(ctx, key, http.MethodGet, "/v1/purchases/"+id, nil)
		if err != nil {
			return err
		}
		if a.status != http.StatusOK {
			c.problem("%s: GET answered %d %s", o.ReferenceID, a.status, a.Code)
			return nil
		}
		switch a.Status {
		case "received", "inquiring":
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(300 * time.Millisecond):
			}
			continue
		case "awaiting_confirmation":
		default:
			return nil
		}
		b, err := c.do(ctx, key, http.MethodPost, "/v1/purchases/"+id+"/"+o.Manual, nil)
		if err != nil {
			return err
		}
		if b.status != http.StatusOK {
			c.problem("%s: %s answered %d %s, want 200", o.ReferenceID, o.Manual, b.status, b.Code)
		} else if o.Manual == "cancel" && b.Status != "canceled" {
			c.problem("%s: cancel answered status %s", o.ReferenceID, b.Status)
		}
		return nil
	}
}
