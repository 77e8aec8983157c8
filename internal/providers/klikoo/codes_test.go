package klikoo

import (
	"strconv"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// TestClassificationCoversEveryCode checks every code of docs/providers.md's
// Klikoo table against each operation, for two service digits each (the
// table's "xx"), with the HTTP status the code carries.
func TestClassificationCoversEveryCode(t *testing.T) {
	t.Parallel()
	type want struct {
		outcome providers.Outcome
		reason  providers.Reason
		refresh bool
	}
	var (
		ok         = func(o providers.Outcome) want { return want{outcome: o} }
		rejected   = func(r providers.Reason) want { return want{outcome: providers.Rejected, reason: r} }
		failed     = func(r providers.Reason) want { return want{outcome: providers.Failed, reason: r} }
		unknown    = func(r providers.Reason) want { return want{outcome: providers.Unknown, reason: r} }
		refresh    = want{outcome: providers.Rejected, reason: providers.ReasonTokenInvalid, refresh: true}
		unreadable = unknown(providers.ReasonUnreadableAnswer)
		server     = unknown(providers.ReasonServerError)
	)
	rows := []struct {
		code    string // "xx" is replaced by each service
		message string
		inquiry want
		payment want
		lookup  want
		read    want
	}{
		{"200xx2000", "Sukses", ok(providers.Succeeded), ok(providers.Pending), ok(providers.Succeeded), ok(providers.Succeeded)},
		{"201xx2001", "Sukses", ok(providers.Succeeded), ok(providers.Pending), ok(providers.Succeeded), ok(providers.Succeeded)},
		{"200xx00", "Sukses", ok(providers.Succeeded), ok(providers.Pending), ok(providers.Succeeded), ok(providers.Succeeded)},
		{"400xx6505", "Invalid timestamp", rejected(providers.ReasonClockSkew), rejected(providers.ReasonClockSkew), rejected(providers.ReasonClockSkew), rejected(providers.ReasonClockSkew)},
		{"400xx6508", "Invalid signature", rejected(providers.ReasonBadSignature), rejected(providers.ReasonBadSignature), rejected(providers.ReasonBadSignature), rejected(providers.ReasonBadSignature)},
		{"401xx6500", "Invalid token", refresh, refresh, refresh, refresh},
		{"401xx6535", "Token expired", refresh, refresh, refresh, refresh},
		{"401xx6570", "Invalid client", rejected(providers.ReasonBadCredentials), rejected(providers.ReasonBadCredentials), rejected(providers.ReasonBadCredentials), rejected(providers.ReasonBadCredentials)},
		{"403xx6571", "IP not allowed", rejected(providers.ReasonIPNotAllowed), rejected(providers.ReasonIPNotAllowed), rejected(providers.ReasonIPNotAllowed), rejected(providers.ReasonIPNotAllowed)},
		{"400xx6510", "Validation error", failed(providers.ReasonProviderRejected), failed(providers.ReasonProviderRejected), rejected(providers.ReasonInvalidRequest), rejected(providers.ReasonInvalidRequest)},
		{"400xx6512", "Field is required", failed(providers.ReasonProviderRejected), failed(providers.ReasonProviderRejected), rejected(providers.ReasonInvalidRequest), rejected(providers.ReasonInvalidRequest)},
		{"400xx6525", "Product error", failed(providers.ReasonProductUnavailable), failed(providers.ReasonProductUnavailable), rejected(providers.ReasonInvalidRequest), rejected(providers.ReasonInvalidRequest)},
		{"400xx6568", "Invalid UUID", failed(providers.ReasonProviderRejected), failed(providers.ReasonProviderRejected), rejected(providers.ReasonInvalidRequest), rejected(providers.ReasonInvalidRequest)},
		{"404xx7003", "Product not found", failed(providers.ReasonProductUnavailable), failed(providers.ReasonProductUnavailable), unreadable, unreadable},
		{"404xx7002", "Customer number not found", failed(providers.ReasonCustomerNotFound), failed(providers.ReasonCustomerNotFound), unreadable, unreadable},
		{"404xx7002", "Product code not found", failed(providers.ReasonProductUnavailable), failed(providers.ReasonProductUnavailable), unreadable, unreadable},
		{"404xx7011", "Customer number not found", failed(providers.ReasonCustomerNotFound), failed(providers.ReasonCustomerNotFound), unreadable, unreadable},
		{"404xx7005", "Transaction not found", failed(providers.ReasonProviderRejected), unreadable, ok(providers.NotFound), unreadable},
		{"409xx6563", "Reference already used", failed(providers.ReasonProviderRejected), ok(providers.Pending), unreadable, unreadable},
		{"403026514", "Insufficient deposit", failed(providers.ReasonInsufficientBal), failed(providers.ReasonInsufficientBal), unreadable, unreadable},
		{"503xx9998", seedBadText, failed(providers.ReasonCustomerNotFound), server, server, server},
		{"503xx9998", "Amount below minimum plus admin fee", failed(providers.ReasonAmountBelowMinimum), server, server, server},
		{"503xx9991", "Supplier disrupted", server, server, server, server},
		{"500xx9999", "Internal server error", server, server, server, server},
		{"400xx6999", "Something new", failed(providers.ReasonProviderRejected), unreadable, unreadable, unreadable},
		{"302xx0000", "Moved", unreadable, unreadable, unreadable, unreadable},
	}
	tables := []struct {
		table codeTable
		pick  func(i int) want
	}{
		{inquiryCodes, func(i int) want { return rows[i].inquiry }},
		{paymentCodes, func(i int) want { return rows[i].payment }},
		{lookupCodes, func(i int) want { return rows[i].lookup }},
		{readCodes, func(i int) want { return rows[i].read }},
	}
	for _, tb := range tables {
		for i, row := range rows {
			for _, svc := range []string{"02", "00", "04"} {
				code := row.code
				if len(code) > 5 && code[3:5] == "xx" {
					code = code[:3] + svc + code[5:]
				}
				status, _ := strconv.Atoi(code[:3])
				got := tb.table.classify(status, code, row.message)
				w := tb.pick(i)
				if got.Outcome != w.outcome || got.Reason != w.reason || got.Refresh != w.refresh {
					t.Fatalf("%s %s (%q): got %+v, want %+v", tb.table.name, code, row.message, got, w)
				}
				wantOK := w.outcome == providers.Succeeded || (w.outcome == providers.Pending && code[0] == '2')
				if got.OK != wantOK {
					t.Fatalf("%s %s: OK = %v, want %v", tb.table.name, code, got.OK, wantOK)
				}
			}
		}
	}
}

// TestClassificationGuards covers what the code alone does not decide:
// malformed codes, success codes on error statuses, 5xx HTTP statuses.
func TestClassificationGuards(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		table  codeTable
		status int
		code   string
		want   providers.Outcome
		reason providers.Reason
	}{
		{"empty code", paymentCodes, 200, "", providers.Unknown, providers.ReasonUnreadableAnswer},
		{"letters", inquiryCodes, 200, "20002200a", providers.Unknown, providers.ReasonUnreadableAnswer},
		{"eight digits", lookupCodes, 200, "20002200", providers.Unknown, providers.ReasonUnreadableAnswer},
		{"malformed on 502", inquiryCodes, 502, "oops", providers.Unknown, providers.ReasonServerError},
		{"success code on HTTP 500, buy", paymentCodes, 500, "201022001", providers.Unknown, providers.ReasonServerError},
		{"success code on HTTP 400, inquiry", inquiryCodes, 400, "200022000", providers.Unknown, providers.ReasonUnreadableAnswer},
		{"success code on HTTP 500, inquiry", inquiryCodes, 500, "200022000", providers.Unknown, providers.ReasonUnreadableAnswer},
		{"refusal code on HTTP 502, buy", paymentCodes, 502, "404027003", providers.Unknown, providers.ReasonServerError},
		{"9998 on an inquiry with HTTP 503", inquiryCodes, 503, "503029998", providers.Failed, providers.ReasonCustomerNotFound},
		{"not found code on HTTP 200, lookup", lookupCodes, 200, "404027005", providers.NotFound, providers.ReasonNone},
	}
	for _, c := range cases {
		msg := seedBadText
		got := c.table.classify(c.status, c.code, msg)
		if got.Outcome != c.want || got.Reason != c.reason || (got.OK && c.want != providers.Succeeded && c.want != providers.Pending) {
			t.Fatalf("%s: got %+v, want %s/%s", c.name, got, c.want, c.reason)
		}
	}
}

func TestClassifyStatusWords(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw        string
		want       providers.Outcome
		reason     providers.Reason
		recognised bool
	}{
		{"SUCCESS", providers.Succeeded, "", true},
		{" success ", providers.Succeeded, "", true},
		{"FAILED", providers.Failed, providers.ReasonTransactionFailed, true},
		{"FAILURE", providers.Failed, providers.ReasonTransactionFailed, true},
		{"Gagal", providers.Failed, providers.ReasonTransactionFailed, true},
		{"REFUND", providers.Refunded, "", true},
		{"REFUNDED", providers.Refunded, "", true},
		{"PENDING", providers.Pending, "", true},
		{"PROCESSING", providers.Pending, "", true},
		{"PROCESS", providers.Pending, "", true},
		{"SUKSES", providers.Pending, "", false},
		{"SUCCESSFUL", providers.Pending, "", false},
		{"", providers.Pending, "", false},
	}
	for _, c := range cases {
		o, r, ok := classifyStatus(c.raw)
		if o != c.want || r != c.reason || ok != c.recognised {
			t.Fatalf("classifyStatus(%q) = %s %s %v, want %s %s %v", c.raw, o, r, ok, c.want, c.reason, c.recognised)
		}
	}
}
