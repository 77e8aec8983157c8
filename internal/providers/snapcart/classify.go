package snapcart

import (
	"strings"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// operation names a kind of Snapcart answer; each has its own table. The
// values are those recorded in providers.Call.Operation.
type operation string

const (
	opInquiry  operation = "inquiry"
	opPayment  operation = "payment"
	opLookup   operation = "lookup"
	opCallback operation = "callback"
	opProducts operation = "products"
)

// signal is what classification reads from an answer: status_code together
// with status_message and data.biller_code/biller_message.
type signal struct {
	Code, Message, BillerCode, BillerMessage string
}

// processing says whether a rule needs "process" (any case) in
// status_message or biller_message.
type processing int

const (
	anyProcess     processing = iota // the rule does not look
	withProcess                      // "process" in either message
	withoutProcess                   // "process" in neither message
)

// rule is one row of a classification table. Empty match fields match
// anything; Code "5xx" matches every 5xx code. Message is compared trimmed
// and case-insensitively.
type rule struct {
	Code       string
	Message    string
	BillerCode string
	Process    processing
	Outcome    providers.Outcome
	Reason     providers.Reason
}

// table is an ordered classification table: the first matching rule wins,
// Fallback applies when none does.
type table struct {
	Rules    []rule
	Fallback rule
}

// inquiryTable classifies inquiry answers. An inquiry never moves money, so
// a server error and anything unrecognised are Unknown: the caller retries
// with backoff and fails the purchase when its retries are spent (for
// 500 "Third party error" Reason is server_error and Call.Code is "500").
var inquiryTable = table{
	Rules: []rule{
		{Code: "200", Outcome: providers.Succeeded},
		{Code: "400", Message: "incorrect bill number", Outcome: providers.Failed, Reason: providers.ReasonCustomerNotFound},
		{Code: "400", Message: "bad request", Outcome: providers.Failed, Reason: providers.ReasonProviderRejected},
		{Code: "400", Message: "transaction failed", Outcome: providers.Failed, Reason: providers.ReasonTransactionFailed},
		{Code: "402", Message: "insufficient balance", Outcome: providers.Failed, Reason: providers.ReasonInsufficientBal},
		{Code: "404", Message: "product not found", Outcome: providers.Failed, Reason: providers.ReasonProductUnavailable},
		{Code: "410", Message: "inquiry expired", Outcome: providers.Failed, Reason: providers.ReasonInquiryExpired},
		{Code: "401", Outcome: providers.Rejected, Reason: providers.ReasonBadCredentials},
		{Code: "500", Message: "third party error", Outcome: providers.Unknown, Reason: providers.ReasonServerError},
		{Code: "5xx", Outcome: providers.Unknown, Reason: providers.ReasonServerError},
	},
	Fallback: rule{Outcome: providers.Unknown},
}

// paymentTable classifies payment answers. A 200 is only an
// acknowledgement, even when status_message says "Transaction successful":
// the payment is Pending until a lookup or a callback reports it final.
var paymentTable = table{
	Rules: []rule{
		{Code: "200", Process: withProcess, Outcome: providers.Pending},
		{Code: "200", Outcome: providers.Pending},
		{Code: "202", Message: "waiting for payment", Outcome: providers.Pending},
		{Code: "400", Message: "transaction failed", Outcome: providers.Failed, Reason: providers.ReasonTransactionFailed},
		{Code: "400", Message: "incorrect bill number", Outcome: providers.Failed, Reason: providers.ReasonCustomerNotFound},
		{Code: "400", Message: "bad request", Outcome: providers.Failed, Reason: providers.ReasonProviderRejected},
		{Code: "402", Message: "insufficient balance", Outcome: providers.Failed, Reason: providers.ReasonInsufficientBal},
		{Code: "404", Message: "product not found", Outcome: providers.Failed, Reason: providers.ReasonProductUnavailable},
		{Code: "410", Message: "inquiry expired", Outcome: providers.Failed, Reason: providers.ReasonInquiryExpired},
		{Code: "401", Outcome: providers.Rejected, Reason: providers.ReasonBadCredentials},
		{Code: "500", Message: "third party error", Outcome: providers.Unknown, Reason: providers.ReasonServerError},
		{Code: "5xx", Outcome: providers.Unknown, Reason: providers.ReasonServerError},
	},
	Fallback: rule{Outcome: providers.Pending},
}

// lookupTable classifies payment status answers. 400 "Bad request" here
// means our lookup was malformed and says nothing about the transaction.
var lookupTable = table{
	Rules: []rule{
		{Code: "200", BillerCode: "200", Process: withoutProcess, Outcome: providers.Succeeded},
		{Code: "200", Process: withProcess, Outcome: providers.Pending},
		{Code: "200", Outcome: providers.Pending},
		{Code: "202", Message: "waiting for payment", Outcome: providers.Pending},
		{Code: "400", Message: "transaction failed", Outcome: providers.Failed, Reason: providers.ReasonTransactionFailed},
		{Code: "400", Message: "incorrect bill number", Outcome: providers.Failed, Reason: providers.ReasonCustomerNotFound},
		{Code: "400", Message: "bad request", Outcome: providers.Unknown, Reason: providers.ReasonInvalidRequest},
		{Code: "402", Message: "insufficient balance", Outcome: providers.Failed, Reason: providers.ReasonInsufficientBal},
		{Code: "404", Message: "transaction not found", Outcome: providers.NotFound},
		{Code: "404", Message: "product not found", Outcome: providers.Failed, Reason: providers.ReasonProductUnavailable},
		{Code: "410", Message: "inquiry expired", Outcome: providers.Failed, Reason: providers.ReasonInquiryExpired},
		{Code: "401", Outcome: providers.Rejected, Reason: providers.ReasonBadCredentials},
		{Code: "500", Message: "third party error", Outcome: providers.Unknown, Reason: providers.ReasonServerError},
		{Code: "5xx", Outcome: providers.Unknown, Reason: providers.ReasonServerError},
	},
	Fallback: rule{Outcome: providers.Pending},
}

// callbackTable classifies callback bodies: the status rows of lookupTable
// without those that only make sense as an answer to our own request.
var callbackTable = table{
	Rules: []rule{
		{Code: "200", BillerCode: "200", Process: withoutProcess, Outcome: providers.Succeeded},
		{Code: "200", Process: withProcess, Outcome: providers.Pending},
		{Code: "200", Outcome: providers.Pending},
		{Code: "202", Message: "waiting for payment", Outcome: providers.Pending},
		{Code: "400", Message: "transaction failed", Outcome: providers.Failed, Reason: providers.ReasonTransactionFailed},
		{Code: "400", Message: "incorrect bill number", Outcome: providers.Failed, Reason: providers.ReasonCustomerNotFound},
		{Code: "402", Message: "insufficient balance", Outcome: providers.Failed, Reason: providers.ReasonInsufficientBal},
		{Code: "404", Message: "product not found", Outcome: providers.Failed, Reason: providers.ReasonProductUnavailable},
		{Code: "410", Message: "inquiry expired", Outcome: providers.Failed, Reason: providers.ReasonInquiryExpired},
	},
	Fallback: rule{Outcome: providers.Pending},
}

// catalogTable classifies catalog answers.
var catalogTable = table{
	Rules: []rule{
		{Code: "200", Outcome: providers.Succeeded},
		{Code: "401", Outcome: providers.Rejected, Reason: providers.ReasonBadCredentials},
		{Code: "5xx", Outcome: providers.Unknown, Reason: providers.ReasonServerError},
	},
	Fallback: rule{Outcome: providers.Unknown},
}

// tables maps each operation to its table.
var tables = map[operation]*table{
	opInquiry:  &inquiryTable,
	opPayment:  &paymentTable,
	opLookup:   &lookupTable,
	opCallback: &callbackTable,
	opProducts: &catalogTable,
}

// classify returns the outcome of s under op's table and the index of the
// rule that matched (-1 for the fallback).
func classify(op operation, s signal) (providers.Outcome, providers.Reason, int) {
	t := tables[op]
	for i, r := range t.Rules {
		if r.matches(s) {
			return r.Outcome, r.Reason, i
		}
	}
	return t.Fallback.Outcome, t.Fallback.Reason, -1
}

// matches reports whether s satisfies every field r sets.
func (r rule) matches(s signal) bool {
	code := strings.TrimSpace(s.Code)
	switch {
	case r.Code == "5xx":
		if len(code) != 3 || code[0] != '5' || strings.Trim(code, "0123456789") != "" {
			return false
		}
	case r.Code != code:
		return false
	}
	if r.Message != "" && !strings.EqualFold(strings.TrimSpace(s.Message), r.Message) {
		return false
	}
	if r.BillerCode != "" && strings.TrimSpace(s.BillerCode) != r.BillerCode {
		return false
	}
	switch r.Process {
	case withProcess:
		return mentionsProcess(s)
	case withoutProcess:
		return !mentionsProcess(s)
	}
	return true
}

// mentionsProcess reports "process" in any case in either message
// ("Transaction is being processed", "PROCESSING").
func mentionsProcess(s signal) bool {
	return strings.Contains(strings.ToLower(s.Message), "process") ||
		strings.Contains(strings.ToLower(s.BillerMessage), "process")
}
