package klikoo

import (
	"strings"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// verdict is what one Klikoo response code means for one operation.
type verdict struct {
	Outcome providers.Outcome
	Reason  providers.Reason
	// Refresh: the access token was refused; fetch a new one and send the
	// call once more. If the second answer refuses it too, Outcome stands.
	Refresh bool
	// OK: the call did what was asked; the answer's data must be read (an
	// inquiry's price, a lookup's status, a buy's transaction_id).
	OK bool
}

// codeTable maps Klikoo response codes to verdicts for one operation. Keys
// are full codes ("403026514") or codes with the service digits as "xx"
// ("400xx6505"); a full code wins. Codes are HTTP(3)+service(2)+case(4), or
// HTTP(3)+service(2)+case(2) in the 7-digit form ("2000200").
type codeTable struct {
	name string
	rows map[string]verdict
	// clientError, serverError and other apply to unlisted codes whose HTTP
	// part is 4xx, 5xx or anything else.
	clientError, serverError, other verdict
	// unknownOn5xx: an answer with HTTP status 5xx is Unknown whatever its
	// code says (money may have moved).
	unknownOn5xx bool
	// refine adjusts a verdict by the message, for codes whose meaning
	// depends on it (key is the matched row key).
	refine func(key, message string, v verdict) verdict
}

// Shorthands that keep the tables readable.
var (
	vRejected = func(r providers.Reason) verdict { return verdict{Outcome: providers.Rejected, Reason: r} }
	vFailed   = func(r providers.Reason) verdict { return verdict{Outcome: providers.Failed, Reason: r} }
	vUnknown  = func(r providers.Reason) verdict { return verdict{Outcome: providers.Unknown, Reason: r} }
	vRefresh  = verdict{Outcome: providers.Rejected, Reason: providers.ReasonTokenInvalid, Refresh: true}
)

// inquiryCodes classifies the answers of both inquiries. A failed inquiry
// moves no money, so definitive failures are plain Failed; a server error is
// Unknown with ReasonServerError: the caller retries with backoff and fails
// the purchase when its retries run out.
var inquiryCodes = codeTable{
	name: "inquiry",
	rows: map[string]verdict{
		"200xx2000": {Outcome: providers.Succeeded, OK: true},
		"201xx2001": {Outcome: providers.Succeeded, OK: true},
		"200xx00":   {Outcome: providers.Succeeded, OK: true},
		"400xx6505": vRejected(providers.ReasonClockSkew),
		"400xx6508": vRejected(providers.ReasonBadSignature),
		"401xx6500": vRefresh,
		"401xx6535": vRefresh,
		"401xx6570": vRejected(providers.ReasonBadCredentials),
		"403xx6571": vRejected(providers.ReasonIPNotAllowed),
		"400xx6510": vFailed(providers.ReasonProviderRejected),
		"400xx6512": vFailed(providers.ReasonProviderRejected),
		"400xx6525": vFailed(providers.ReasonProductUnavailable),
		"400xx6568": vFailed(providers.ReasonProviderRejected),
		"404xx7003": vFailed(providers.ReasonProductUnavailable),
		"404xx7002": vFailed(providers.ReasonCustomerNotFound),
		"404xx7011": vFailed(providers.ReasonCustomerNotFound),
		"403026514": vFailed(providers.ReasonInsufficientBal),
		"503xx9998": vFailed(providers.ReasonAmountBelowMinimum),
	},
	clientError: vFailed(providers.ReasonProviderRejected),
	serverError: vUnknown(providers.ReasonServerError),
	other:       vUnknown(providers.ReasonUnreadableAnswer),
	refine:      refineByMessage,
}

// paymentCodes classifies the answers of a buy. Success is an acceptance
// (Pending), never Succeeded. Anything unlisted is Unknown: a buy is Failed
// only when the code guarantees that no money moved.
var paymentCodes = codeTable{
	name: "payment",
	rows: map[string]verdict{
		"200xx2000": {Outcome: providers.Pending, OK: true},
		"201xx2001": {Outcome: providers.Pending, OK: true},
		"200xx00":   {Outcome: providers.Pending, OK: true},
		"400xx6505": vRejected(providers.ReasonClockSkew),
		"400xx6508": vRejected(providers.ReasonBadSignature),
		"401xx6500": vRefresh,
		"401xx6535": vRefresh,
		"401xx6570": vRejected(providers.ReasonBadCredentials),
		"403xx6571": vRejected(providers.ReasonIPNotAllowed),
		"400xx6510": vFailed(providers.ReasonProviderRejected),
		"400xx6512": vFailed(providers.ReasonProviderRejected),
		"400xx6525": vFailed(providers.ReasonProductUnavailable),
		"400xx6568": vFailed(providers.ReasonProviderRejected),
		"404xx7003": vFailed(providers.ReasonProductUnavailable),
		"404xx7002": vFailed(providers.ReasonCustomerNotFound),
		"404xx7011": vFailed(providers.ReasonCustomerNotFound),
		// The reference exists: the transaction is there, look it up.
		"409xx6563": {Outcome: providers.Pending},
		"403026514": vFailed(providers.ReasonInsufficientBal),
		"503xx9998": vUnknown(providers.ReasonServerError),
	},
	clientError:  vUnknown(providers.ReasonUnreadableAnswer),
	serverError:  vUnknown(providers.ReasonServerError),
	other:        vUnknown(providers.ReasonUnreadableAnswer),
	unknownOn5xx: true,
	refine:       refineByMessage,
}

// lookupCodes classifies the answers of a transaction detail or history
// search. A lookup never reports Failed from a code: only a transaction
// status says a transaction failed. A refused query is Rejected
// (invalid_request): nothing happened and operators should look.
var lookupCodes = codeTable{
	name: "lookup",
	rows: map[string]verdict{
		"200xx2000": {Outcome: providers.Succeeded, OK: true},
		"201xx2001": {Outcome: providers.Succeeded, OK: true},
		"200xx00":   {Outcome: providers.Succeeded, OK: true},
		"400xx6505": vRejected(providers.ReasonClockSkew),
		"400xx6508": vRejected(providers.ReasonBadSignature),
		"401xx6500": vRefresh,
		"401xx6535": vRefresh,
		"401xx6570": vRejected(providers.ReasonBadCredentials),
		"403xx6571": vRejected(providers.ReasonIPNotAllowed),
		"400xx6510": vRejected(providers.ReasonInvalidRequest),
		"400xx6512": vRejected(providers.ReasonInvalidRequest),
		"400xx6525": vRejected(providers.ReasonInvalidRequest),
		"400xx6568": vRejected(providers.ReasonInvalidRequest),
		"404xx7005": {Outcome: providers.NotFound},
		"404xx7003": vUnknown(providers.ReasonUnreadableAnswer),
		"404xx7002": vUnknown(providers.ReasonUnreadableAnswer),
		"404xx7011": vUnknown(providers.ReasonUnreadableAnswer),
		"409xx6563": vUnknown(providers.ReasonUnreadableAnswer),
		"403026514": vUnknown(providers.ReasonUnreadableAnswer),
		"503xx9998": vUnknown(providers.ReasonServerError),
	},
	clientError:  vUnknown(providers.ReasonUnreadableAnswer),
	serverError:  vUnknown(providers.ReasonServerError),
	other:        vUnknown(providers.ReasonUnreadableAnswer),
	unknownOn5xx: true,
}

// readCodes classifies the answers of the calls that read our account: the
// access token, the balance and the product list.
var readCodes = codeTable{
	name: "read",
	rows: map[string]verdict{
		"200xx2000": {Outcome: providers.Succeeded, OK: true},
		"201xx2001": {Outcome: providers.Succeeded, OK: true},
		"200xx00":   {Outcome: providers.Succeeded, OK: true},
		"400xx6505": vRejected(providers.ReasonClockSkew),
		"400xx6508": vRejected(providers.ReasonBadSignature),
		"401xx6500": vRefresh,
		"401xx6535": vRefresh,
		"401xx6570": vRejected(providers.ReasonBadCredentials),
		"403xx6571": vRejected(providers.ReasonIPNotAllowed),
		"400xx6510": vRejected(providers.ReasonInvalidRequest),
		"400xx6512": vRejected(providers.ReasonInvalidRequest),
		"400xx6525": vRejected(providers.ReasonInvalidRequest),
		"400xx6568": vRejected(providers.ReasonInvalidRequest),
		"404xx7003": vUnknown(providers.ReasonUnreadableAnswer),
		"404xx7002": vUnknown(providers.ReasonUnreadableAnswer),
		"404xx7011": vUnknown(providers.ReasonUnreadableAnswer),
		"404xx7005": vUnknown(providers.ReasonUnreadableAnswer),
		"409xx6563": vUnknown(providers.ReasonUnreadableAnswer),
		"403026514": vUnknown(providers.ReasonUnreadableAnswer),
		"503xx9998": vUnknown(providers.ReasonServerError),
	},
	clientError:  vUnknown(providers.ReasonUnreadableAnswer),
	serverError:  vUnknown(providers.ReasonServerError),
	other:        vUnknown(providers.ReasonUnreadableAnswer),
	unknownOn5xx: true,
}

// refineByMessage settles the codes whose reason depends on the message.
// 503xx9998 is documented as "amount below minimum plus admin fee", but the
// seed shows it with "CUSTID not recognized": on an inquiry a message naming
// the customer means customer_not_found. 404xx7002 is documented as "product
// / customer number not found": a message naming a product means
// product_unavailable. Only Failed verdicts are refined.
func refineByMessage(key, message string, v verdict) verdict {
	if v.Outcome != providers.Failed {
		return v
	}
	m := strings.ToLower(message)
	switch key {
	case "503xx9998":
		for _, w := range []string{"custid", "customer", "pelanggan", "not recognized", "tidak dikenal", "tidak ditemukan"} {
			if strings.Contains(m, w) {
				return vFailed(providers.ReasonCustomerNotFound)
			}
		}
	case "404xx7002":
		if strings.Contains(m, "product") || strings.Contains(m, "produk") {
			return vFailed(providers.ReasonProductUnavailable)
		}
	}
	return v
}

// validCode reports whether code is a 9- or 7-digit Klikoo response code.
func validCode(code string) bool {
	if len(code) != 9 && len(code) != 7 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// wildcard replaces a code's service digits by "xx".
func wildcard(code string) string { return code[:3] + "xx" + code[5:] }

// classify returns the verdict of one answer: its HTTP status, its
// response_code and its response_message. A malformed code is Unknown; a
// success code on a non-2xx HTTP status is a contradiction and Unknown too.
func (t codeTable) classify(httpStatus int, code, message string) verdict {
	if !validCode(code) {
		if httpStatus >= 500 {
			return vUnknown(providers.ReasonServerError)
		}
		return vUnknown(providers.ReasonUnreadableAnswer)
	}
	key := code
	v, ok := t.rows[code]
	if !ok {
		key = wildcard(code)
		v, ok = t.rows[key]
	}
	if !ok {
		switch code[0] {
		case '4':
			v = t.clientError
		case '5':
			v = t.serverError
		default:
			v = t.other
		}
	}
	if t.refine != nil {
		v = t.refine(key, message, v)
	}
	if t.unknownOn5xx && httpStatus >= 500 {
		return vUnknown(providers.ReasonServerError)
	}
	if v.OK && (httpStatus < 200 || httpStatus > 299) {
		return vUnknown(providers.ReasonUnreadableAnswer)
	}
	return v
}
