package snapcart

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// envelope is the frame of every Snapcart answer. Unknown keys are ignored.
type envelope struct {
	Data          json.RawMessage `json:"data"`
	StatusCode    text            `json:"status_code"`
	StatusMessage text            `json:"status_message"`
	Error         text            `json:"error"`
}

// text is a string field that Snapcart may also send as a number ("200" or
// 200). null is the empty string; objects, arrays and booleans are errors.
type text string

// UnmarshalJSON implements json.Unmarshaler.
func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*t = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number: %w", err)
	}
	*t = text(n.String())
	return nil
}

// rupiah is an amount that Snapcart sends as a JSON number (5500 or 5500.0)
// or as a string in plain or Indonesian notation ("5500", "50.850"). It is
// parsed strictly: a malformed amount fails the whole decode, so it becomes
// an unreadable answer and never a zero.
type rupiah struct {
	Value int64
	Set   bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (r *rupiah) UnmarshalJSON(b []byte) error {
	v, set, err := parseAmountJSON(b)
	if err != nil {
		return err
	}
	r.Value, r.Set = v, set
	return nil
}

// parseAmountJSON reads a JSON value holding whole rupiah.
func parseAmountJSON(b []byte) (int64, bool, error) {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return 0, false, nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, false, err
		}
		v, err := providers.ParseRupiahID(s)
		return v, err == nil, err
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return 0, false, fmt.Errorf("%w: %s", providers.ErrMalformedAmount, truncate(string(b), 40))
	}
	v, err := amountFromNumber(n)
	return v, err == nil, err
}

// amountFromNumber converts a JSON number: digits only are parsed exactly,
// anything else (5500.0, 5.5e3) through RupiahFromFloat.
func amountFromNumber(n json.Number) (int64, error) {
	s := n.String()
	if strings.Trim(s, "0123456789") == "" {
		return providers.ParseRupiah(s)
	}
	f, err := n.Float64()
	if err != nil {
		return 0, fmt.Errorf("%w: %s", providers.ErrMalformedAmount, truncate(s, 40))
	}
	return providers.RupiahFromFloat(f)
}

// inquiryData is data of an inquiry answer: billing products fill the
// request fields, game vouchers only ign.
type inquiryData struct {
	RequestID      text            `json:"request_id"`
	ProductCode    text            `json:"product_code"`
	BillNumber     text            `json:"bill_number"`
	BillAmount     rupiah          `json:"bill_amount"`
	ReferenceID    text            `json:"reference_id"`
	AdditionalInfo json.RawMessage `json:"additional_info"`
	BillerCode     text            `json:"biller_code"`
	BillerMessage  text            `json:"biller_message"`
	IGN            text            `json:"ign"`
}

// paymentData is data of a payment acknowledgement.
type paymentData struct {
	RequestID     text `json:"request_id"`
	ReferenceID   text `json:"reference_id"`
	BillerCode    text `json:"biller_code"`
	BillerMessage text `json:"biller_message"`
}

// statusData is data of a payment status answer.
type statusData struct {
	OrderID       text   `json:"order_id"`
	PaymentID     text   `json:"payment_id"`
	RequestID     text   `json:"request_id"`
	ReferenceID   text   `json:"reference_id"`
	ProductCode   text   `json:"product_code"`
	Amount        rupiah `json:"amount"`
	BillerCode    text   `json:"biller_code"`
	BillerMessage text   `json:"biller_message"`
	SerialNumber  text   `json:"serial_number"`
	RequestAt     text   `json:"request_at"`
	UpdatedAt     text   `json:"updated_at"`
}

// callbackBody is the body Snapcart POSTs to our callback URL.
type callbackBody struct {
	RequestID     text   `json:"request_id"`
	ReferenceID   text   `json:"reference_id"`
	ProductCode   text   `json:"product_code"`
	BillAmount    rupiah `json:"bill_amount"`
	BillNumber    text   `json:"bill_number"`
	StatusCode    text   `json:"status_code"`
	StatusMessage text   `json:"status_message"`
	BillerCode    text   `json:"biller_code"`
	BillerMessage text   `json:"biller_message"`
	SerialNumber  text   `json:"serial_number"`
}

// catalogProduct is one product of GET {catalog}{type} and the data of
// GET {catalog}{type}/{code}.
type catalogProduct struct {
	ProductCode text  `json:"product_code"`
	Name        text  `json:"name"`
	Type        text  `json:"type"`
	Active      *bool `json:"active"`
	Inquiry     text  `json:"inquiry"`
}

// catalogItem is one item of GET {catalog}{type}/{code}/items.
type catalogItem struct {
	ID       text   `json:"id"`
	ItemCode text   `json:"item_code"`
	Name     text   `json:"name"`
	Price    rupiah `json:"price"`
}

// errNotJSON marks a body that is not a JSON object.
var errNotJSON = errors.New("answer is not a JSON object")

// decodeEnvelope reads the frame of an answer. A body that is not a JSON
// object, or an envelope without status_code, is an error.
func decodeEnvelope(body []byte) (envelope, error) {
	var env envelope
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return env, errNotJSON
	}
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return env, fmt.Errorf("decode answer: %w", err)
	}
	if err := exactKeys(trimmed, &env); err != nil {
		return env, err
	}
	if env.StatusCode == "" {
		return env, errors.New("answer has no status_code")
	}
	return env, nil
}

// decodeData decodes data into v; null or absent data leaves v zero.
func decodeData(raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] != '{' {
		return errors.New("data is not an object")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode data: %w", err)
	}
	return exactKeys(raw, v)
}

// exactKeys rejects an object holding a key that differs only in case from
// a field of v ("Status_Code"): encoding/json would match it, but Snapcart
// never sends one, and classification must read exactly what was sent.
func exactKeys(raw []byte, v any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("decode keys: %w", err)
	}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		for k := range m {
			if k != name && strings.EqualFold(k, name) {
				return fmt.Errorf("key %q differs in case from %q", truncate(k, 40), name)
			}
		}
	}
	return nil
}

// flattenInfo stringifies the top-level keys of additional_info into dst:
// strings as they are, numbers and booleans as JSON text, objects and arrays
// as compact JSON. additional_info has no fixed shape; anything that is not
// an object is kept whole under "additional_info".
func flattenInfo(raw json.RawMessage, dst map[string]string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	var m map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		dst["additional_info"] = truncate(string(raw), 1024)
		return
	}
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil {
			dst[k] = s
			continue
		}
		var buf bytes.Buffer
		if json.Compact(&buf, v) == nil {
			dst[k] = truncate(buf.String(), 1024)
		}
	}
}

// truncate shortens s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// decodeList decodes a data array into v (a pointer to a slice); null data
// is an empty list.
func decodeList(raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] != '[' {
		return errors.New("data is not a list")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode data: %w", err)
	}
	return nil
}
