package klikoo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// transactionsPath is the transaction history; /{transaction_id} the detail.
const transactionsPath = "/v1/open-api/transactions"

// historyWindow is how far before the purchase the history search starts.
const historyWindow = 24 * time.Hour

// maxHistoryPages bounds one history search.
const maxHistoryPages = 20

// Lookup asks for the status of a buy. With req.TransactionID it reads the
// transaction detail; without, it searches the history for req.Reference
// from one day before req.CreatedAt to now (WIB) and accepts only a row whose
// partner_reference_id equals req.Reference exactly. No such row, or
// 404xx7005, is NotFound — never Failed.
//
// The transaction status decides the outcome: SUCCESS is Succeeded;
// FAILED, FAILURE and GAGAL are Failed (transaction_failed); REFUND… is
// Refunded; PENDING, PROCESS… and anything unrecognised are Pending with the
// raw word in RawStatus. An answer naming another reference, or with a
// malformed amount, is Unknown. For PLN, SerialNumber is the raw sn: read
// the token with providers.ParsePLNSerial.
func (c *Client) Lookup(ctx context.Context, req providers.LookupRequest) providers.Status {
	var out providers.Status
	switch {
	case req.TransactionID != "":
		if !safeID(req.TransactionID) {
			out.Outcome, out.Reason = providers.Rejected, providers.ReasonInvalidRequest
			out.Detail = fmt.Sprintf("klikoo lookup %s: transaction id %q has characters a path cannot carry", req.Reference, req.TransactionID)
			return out
		}
		rq := request{op: opLookup, method: "GET", path: transactionsPath + "/" + req.TransactionID, reference: req.Reference, table: lookupCodes}
		a, ok := c.do(ctx, rq, &out.Result)
		if !ok {
			return out
		}
		st := readDetail(a, req.Reference)
		c.warnUnrecognised(ctx, st)
		st.Calls = out.Calls
		return st
	case req.Reference == "":
		out.Outcome, out.Reason = providers.Rejected, providers.ReasonInvalidRequest
		out.Detail = "klikoo lookup: a reference or a transaction id is required"
		return out
	}
	return c.searchHistory(ctx, req)
}

// searchHistory pages through the history search for req.Reference.
func (c *Client) searchHistory(ctx context.Context, req providers.LookupRequest) providers.Status {
	var calls providers.Result
	now := c.now()
	from := req.CreatedAt
	if from.IsZero() || from.After(now) {
		from = now
	}
	from = from.Add(-historyWindow)
	for page := 1; page <= maxHistoryPages; page++ {
		q := url.Values{}
		q.Set("page", strconv.Itoa(page))
		q.Set("limit", strconv.Itoa(c.pageSize))
		q.Set("q", req.Reference)
		q.Set("from", from.In(wib).Format(historyLayout))
		q.Set("to", now.In(wib).Format(historyLayout))
		rq := request{op: opLookup, method: "GET", path: transactionsPath, query: q, reference: req.Reference, table: lookupCodes}
		a, ok := c.do(ctx, rq, &calls)
		if !ok {
			return providers.Status{Result: calls}
		}
		st, more := readHistoryPage(a, req.Reference, page, c.pageSize)
		if st.Outcome != providers.NotFound || !more {
			c.warnUnrecognised(ctx, st)
			st.Calls = calls.Calls
			return st
		}
	}
	st := providers.Status{Result: calls}
	st.Outcome = providers.NotFound
	st.Detail = fmt.Sprintf("no row for %s in %d pages of history", req.Reference, maxHistoryPages)
	return st
}

// readDetail reads a transaction detail answer for our reference ref.
func readDetail(a answer, ref string) providers.Status {
	var st providers.Status
	v := a.verdict(lookupCodes)
	finish(&st.Result, v, a)
	if !v.OK {
		return st
	}
	f, err := decodeFields(a.env.Data)
	if err == nil {
		st, err = readTransaction(f)
	}
	if err == nil && st.Reference != "" && ref != "" && st.Reference != ref {
		err = fmt.Errorf("answer names partner_reference_id %q, not ours", st.Reference)
	}
	if err != nil {
		return unreadableStatus(err)
	}
	return st
}

// readHistoryPage reads page number page of a history search for ref. st is the
// matching row's status; when no row matches, st is NotFound and more says
// whether a further page may hold it. A refused or unreadable page is
// returned as its outcome with more false.
func readHistoryPage(a answer, ref string, page, limit int) (st providers.Status, more bool) {
	v := a.verdict(lookupCodes)
	finish(&st.Result, v, a)
	if !v.OK {
		return st, false
	}
	rows, total, err := historyRows(a.env.Data)
	if err != nil {
		return unreadableStatus(err), false
	}
	for _, raw := range rows {
		var row fields
		if json.Unmarshal(raw, &row) != nil {
			continue // not ours to read; ours is matched exactly below
		}
		if got, err := row.text("partner_reference_id"); err != nil || got != ref {
			continue
		}
		st, err := readTransaction(row)
		if err != nil {
			return unreadableStatus(err), false
		}
		return st, false
	}
	st = providers.Status{}
	st.Outcome = providers.NotFound
	st.Detail = fmt.Sprintf("no transaction with partner_reference_id %s in the history window", ref)
	more = limit > 0 && len(rows) >= limit && (total < 0 || int64(page)*int64(limit) < total)
	return st, more
}

// historyRows finds the rows of a history answer: data as an array, or an
// object with "items" (the simulator's) or "transactions". total is -1 when
// not given.
func historyRows(data json.RawMessage) (rows []json.RawMessage, total int64, err error) {
	total = -1
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "[") {
		if err := json.Unmarshal(data, &rows); err != nil {
			return nil, 0, fmt.Errorf("history rows: %w", err)
		}
		return rows, total, nil
	}
	f, err := decodeFields(data)
	if err != nil {
		return nil, 0, err
	}
	list, ok := f["items"]
	if !ok {
		list, ok = f["transactions"]
	}
	if !ok || string(list) == "null" {
		return nil, total, nil
	}
	if err := json.Unmarshal(list, &rows); err != nil {
		return nil, 0, fmt.Errorf("history rows: %w", err)
	}
	if n, ok, err := f.money("total"); err == nil && ok {
		total = n
	}
	return rows, total, nil
}

// readTransaction reads a transaction as the detail, a history row or a
// callback carries it: the status under "status" or "transaction_status".
func readTransaction(f fields) (providers.Status, error) {
	var st providers.Status
	var err error
	text := func(key string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = f.text(key)
		return s
	}
	raw := text("status")
	if raw == "" {
		raw = text("transaction_status")
	}
	st.Reference = text("partner_reference_id")
	st.TransactionID = text("transaction_id")
	st.ProductCode = text("product_code")
	st.SerialNumber = text("sn")
	st.CustomerName = text("customer_name")
	reason := text("reason")
	if err != nil {
		return providers.Status{}, err
	}
	if strings.TrimSpace(raw) == "" {
		return providers.Status{}, errors.New("transaction status is missing")
	}
	if st.Amount, _, err = f.money("amount"); err != nil {
		return providers.Status{}, err
	}
	if bal, ok, err := f.money("current_balance"); err != nil {
		return providers.Status{}, err
	} else if ok {
		st.Balance = &bal
	}
	if _, _, err := f.money("beginning_balance"); err != nil {
		return providers.Status{}, err
	}
	st.RawStatus = raw
	st.Outcome, st.Reason, _ = classifyStatus(raw)
	st.Detail = raw
	if reason != "" {
		st.Detail = raw + ": " + reason
	}
	return st, nil
}

// classifyStatus maps a transaction status word. Only SUCCESS is documented;
// recognised is false for a word that is none of the known ones (it is
// Pending, and worth a log line).
func classifyStatus(raw string) (providers.Outcome, providers.Reason, bool) {
	s := strings.ToUpper(strings.TrimSpace(raw))
	switch {
	case s == "SUCCESS":
		return providers.Succeeded, providers.ReasonNone, true
	case s == "FAILED" || s == "FAILURE" || s == "GAGAL":
		return providers.Failed, providers.ReasonTransactionFailed, true
	case strings.HasPrefix(s, "REFUND"):
		return providers.Refunded, providers.ReasonNone, true
	case s == "PENDING" || strings.HasPrefix(s, "PROCESS"):
		return providers.Pending, providers.ReasonNone, true
	}
	return providers.Pending, providers.ReasonNone, false
}

// unreadableStatus is the Unknown status of an answer that cannot be read.
func unreadableStatus(err error) providers.Status {
	var st providers.Status
	st.Outcome, st.Reason = providers.Unknown, providers.ReasonUnreadableAnswer
	st.Detail = "unreadable transaction answer: " + err.Error()
	return st
}

// warnUnrecognised logs a status word the classification does not know.
func (c *Client) warnUnrecognised(ctx context.Context, st providers.Status) {
	if st.RawStatus == "" {
		return
	}
	if _, _, ok := classifyStatus(st.RawStatus); !ok {
		c.log.LogAttrs(ctx, slog.LevelWarn, "unrecognised transaction status, treated as pending",
			slog.String("raw_status", st.RawStatus), slog.String("reference", st.Reference))
	}
}

// safeID reports whether a transaction id can go into a path unescaped.
func safeID(id string) bool {
	for _, c := range id {
		ok := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return id != "." && id != ".."
}
