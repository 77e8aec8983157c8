package snapcart

import (
	"fmt"
	"testing"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// TestClassify covers every row of every table (checked below), including
// Snapcart's "200 + being processed" and the fallbacks.
func TestClassify(t *testing.T) {
	t.Parallel()
	const (
		ok   = "Transaction successful"
		proc = "Transaction is being processed"
	)
	cases := []struct {
		op   operation
		sig  signal
		want string
	}{
		// Inquiry.
		{opInquiry, signal{"200", ok, "200", ok}, "succeeded"},
		{opInquiry, signal{"400", "Incorrect bill number", "", ""}, "failed/customer_not_found"},
		{opInquiry, signal{"400", "Bad request", "", ""}, "failed/provider_rejected"},
		{opInquiry, signal{"400", "Transaction failed", "", ""}, "failed/transaction_failed"},
		{opInquiry, signal{"402", "Insufficient balance", "", ""}, "failed/insufficient_balance"},
		{opInquiry, signal{"404", "Product not found", "", ""}, "failed/product_unavailable"},
		{opInquiry, signal{"410", "Inquiry expired", "", ""}, "failed/inquiry_expired"},
		{opInquiry, signal{"401", "Unauthorized", "", ""}, "rejected/bad_credentials"},
		{opInquiry, signal{"500", "Third party error", "", ""}, "unknown/server_error"},
		{opInquiry, signal{"503", "Service unavailable", "", ""}, "unknown/server_error"},
		{opInquiry, signal{"400", "Something new", "", ""}, "unknown"},
		{opInquiry, signal{"202", "Waiting for payment", "", ""}, "unknown"},
		// Payment: an acknowledgement is never a success.
		{opPayment, signal{"200", ok, "200", proc}, "pending"},
		{opPayment, signal{"200", ok, "200", ok}, "pending"},
		{opPayment, signal{"202", "Waiting for payment", "", ""}, "pending"},
		{opPayment, signal{"400", "Transaction failed", "", ""}, "failed/transaction_failed"},
		{opPayment, signal{"400", "incorrect BILL number", "", ""}, "failed/customer_not_found"},
		{opPayment, signal{"400", "Bad request", "", ""}, "failed/provider_rejected"},
		{opPayment, signal{"402", "Insufficient balance", "", ""}, "failed/insufficient_balance"},
		{opPayment, signal{"404", "Product not found", "", ""}, "failed/product_unavailable"},
		{opPayment, signal{"410", "Inquiry expired", "", ""}, "failed/inquiry_expired"},
		{opPayment, signal{"401", "Unauthorized", "", ""}, "rejected/bad_credentials"},
		{opPayment, signal{"500", "Third party error", "", ""}, "unknown/server_error"},
		{opPayment, signal{"502", "Bad gateway", "", ""}, "unknown/server_error"},
		{opPayment, signal{"404", "Transaction not found", "", ""}, "pending"},
		{opPayment, signal{"418", "", "", ""}, "pending"},
		// Payment status.
		{opLookup, signal{"200", ok, "200", ok}, "succeeded"},
		{opLookup, signal{"200", ok, "200", proc}, "pending"},
		{opLookup, signal{"200", "Transaction in PROCESS", "200", ok}, "pending"},
		{opLookup, signal{"200", ok, "", ""}, "pending"},
		{opLookup, signal{"200", ok, "400", "Transaction failed"}, "pending"},
		{opLookup, signal{"202", "Waiting for payment", "", ""}, "pending"},
		{opLookup, signal{"400", "Transaction failed", "400", "Transaction failed"}, "failed/transaction_failed"},
		{opLookup, signal{"400", "Incorrect bill number", "", ""}, "failed/customer_not_found"},
		{opLookup, signal{"400", "Bad request", "", ""}, "unknown/invalid_request"},
		{opLookup, signal{"402", "Insufficient balance", "", ""}, "failed/insufficient_balance"},
		{opLookup, signal{"404", "Transaction not found", "", ""}, "not_found"},
		{opLookup, signal{"404", "Product not found", "", ""}, "failed/product_unavailable"},
		{opLookup, signal{"410", "Inquiry expired", "", ""}, "failed/inquiry_expired"},
		{opLookup, signal{"401", "Unauthorized", "", ""}, "rejected/bad_credentials"},
		{opLookup, signal{"500", "Third party error", "", ""}, "unknown/server_error"},
		{opLookup, signal{"504", "", "", ""}, "unknown/server_error"},
		{opLookup, signal{"299", "Refunded", "", ""}, "pending"},
		// Callback.
		{opCallback, signal{"200", ok, "200", ok}, "succeeded"},
		{opCallback, signal{"200", ok, "200", proc}, "pending"},
		{opCallback, signal{"200", ok, "201", ok}, "pending"},
		{opCallback, signal{"202", "Waiting for payment", "", ""}, "pending"},
		{opCallback, signal{"400", "Transaction failed", "400", "Transaction failed"}, "failed/transaction_failed"},
		{opCallback, signal{"400", "Incorrect bill number", "", ""}, "failed/customer_not_found"},
		{opCallback, signal{"402", "Insufficient balance", "", ""}, "failed/insufficient_balance"},
		{opCallback, signal{"404", "Product not found", "", ""}, "failed/product_unavailable"},
		{opCallback, signal{"410", "Inquiry expired", "", ""}, "failed/inquiry_expired"},
		{opCallback, signal{"404", "Transaction not found", "", ""}, "pending"},
		{opCallback, signal{"500", "Third party error", "", ""}, "pending"},
		// Catalog.
		{opProducts, signal{"200", "Success", "", ""}, "succeeded"},
		{opProducts, signal{"401", "Unauthorized", "", ""}, "rejected/bad_credentials"},
		{opProducts, signal{"500", "Third party error", "", ""}, "unknown/server_error"},
		{opProducts, signal{"404", "Catalog type not found", "", ""}, "unknown"},
	}
	hit := map[string]bool{}
	for _, c := range cases {
		o, r, i := classify(c.op, c.sig)
		if got := oc(providers.Result{Outcome: o, Reason: r}); got != c.want {
			t.Fatalf("classify(%s, %+v) = %s, want %s", c.op, c.sig, got, c.want)
		}
		hit[fmt.Sprintf("%s/%d", c.op, i)] = true
	}
	for op, tab := range tables {
		for i := -1; i < len(tab.Rules); i++ {
			if !hit[fmt.Sprintf("%s/%d", op, i)] {
				t.Fatalf("no case covers %s rule %d (-1 is the fallback)", op, i)
			}
		}
	}
}

// TestClassifyNeverSucceedsOnTheCodeAlone: a 200 needs biller_code 200 and
// no "process" in either message to be a success.
func TestClassifyNeverSucceedsOnTheCodeAlone(t *testing.T) {
	t.Parallel()
	for _, op := range []operation{opLookup, opCallback} {
		for _, s := range []signal{
			{Code: "200"},
			{Code: "200", Message: "Transaction successful"},
			{Code: "200", Message: "Transaction successful", BillerCode: "200", BillerMessage: "processing"},
			{Code: "200", Message: "PROCESS", BillerCode: "200"},
			{Code: "200", Message: "Transaction successful", BillerCode: "2000"},
		} {
			if o, _, _ := classify(op, s); o == providers.Succeeded {
				t.Fatalf("classify(%s, %+v) succeeded", op, s)
			}
		}
	}
	if o, _, _ := classify(opPayment, signal{"200", "Transaction successful", "200", "Transaction successful"}); o != providers.Pending {
		t.Fatalf("a payment acknowledgement classified %s, want pending", o)
	}
}
