package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/ppob-orchestrator/orchestrator/internal/flow"
)

// readBody reads a request body of at most maxBody bytes.
func readBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > maxBody {
		return nil, errTooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, maxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, errTooLarge
		}
		// The client stopped sending (a body shorter than its
		// Content-Length, or one cut off at the server's read timeout):
		// its request is incomplete, not our failure.
		return nil, &flow.ValidationError{Fields: []flow.FieldError{{Field: "body", Message: "could not be read in full: the client stopped sending it"}}}
	}
	return b, nil
}

// requireJSON accepts application/json and any application/*+json.
func requireJSON(c echo.Context) error {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || !(mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return errUnsupportedMedia
	}
	return nil
}

// fieldDecoder decodes one member's raw JSON into its destination and
// returns the complaint ("" when it is fine).
type fieldDecoder func(raw json.RawMessage) string

// decodeObject decodes body, a single JSON object, member by member with
// fields. It lists every bad member: unknown, repeated, of the wrong type;
// and the body itself ("body") when it is not one JSON object with nothing
// after it.
func decodeObject(body []byte, fields map[string]fieldDecoder) []flow.FieldError {
	bad := func(field, msg string) []flow.FieldError { return []flow.FieldError{{Field: field, Message: msg}} }
	if len(bytes.TrimSpace(body)) == 0 {
		return bad("body", "is required: a JSON object")
	}
	if !utf8.Valid(body) {
		return bad("body", "must be UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return bad("body", "is not valid JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return bad("body", "must be a JSON object")
	}
	var errs []flow.FieldError
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad("body", "is not valid JSON")
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bad("body", "is not valid JSON")
		}
		decode, known := fields[key]
		switch {
		case !known:
			errs = append(errs, flow.FieldError{Field: key, Message: "is not a field of this request"})
		case seen[key]:
			errs = append(errs, flow.FieldError{Field: key, Message: "appears more than once"})
		default:
			if msg := decode(raw); msg != "" {
				errs = append(errs, flow.FieldError{Field: key, Message: msg})
			}
		}
		seen[key] = true
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return bad("body", "is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("body", "must hold one JSON object and nothing after it")
	}
	return errs
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// text decodes a string member; null is the same as absent. NUL bytes are
// refused: PostgreSQL text cannot hold them.
func text(dst *string) fieldDecoder {
	return func(raw json.RawMessage) string {
		if isNull(raw) {
			return ""
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return "must be a string"
		}
		if strings.ContainsRune(*dst, 0) {
			return "must not contain NUL characters"
		}
		return ""
	}
}

// rupiah decodes a whole number of rupiah; null is the same as absent.
func rupiah(dst **int64) fieldDecoder {
	return func(raw json.RawMessage) string {
		if isNull(raw) {
			return ""
		}
		var v int64
		if err := json.Unmarshal(raw, &v); err != nil {
			return "must be a whole number of rupiah"
		}
		*dst = &v
		return ""
	}
}

// boolean decodes true or false; null is false.
func boolean(dst *bool) fieldDecoder {
	return func(raw json.RawMessage) string {
		if isNull(raw) {
			return ""
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return "must be true or false"
		}
		return ""
	}
}

// createFields decodes a POST /v1/purchases body into r.
func createFields(r *flow.CreateRequest) map[string]fieldDecoder {
	return map[string]fieldDecoder{
		"reference_id":    text(&r.ReferenceID),
		"product_code":    text(&r.ProductCode),
		"customer_number": text(&r.CustomerNumber),
		"phone":           text(&r.Phone),
		"user_id":         text(&r.UserID),
		"zone_id":         text(&r.ZoneID),
		"period":          text(&r.Period),
		"max_price":       rupiah(&r.MaxPrice),
		"selling_price":   rupiah(&r.SellingPrice),
		"confirmation":    text(&r.Confirmation),
		"allow_repeat":    boolean(&r.AllowRepeat),
	}
}

// resolveBody is the body of POST /admin/purchases/{id}/resolve.
type resolveBody struct {
	Status, Note, SerialNumber, Operator string
	Force                                bool
}

func resolveFields(r *resolveBody) map[string]fieldDecoder {
	return map[string]fieldDecoder{
		"status":        text(&r.Status),
		"note":          text(&r.Note),
		"serial_number": text(&r.SerialNumber),
		"operator":      text(&r.Operator),
		"force":         boolean(&r.Force),
	}
}

// decodeJSON reads a JSON body member by member into fields.
func (a *api) decodeJSON(c echo.Context, fields map[string]fieldDecoder) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	if errs := decodeObject(body, fields); len(errs) > 0 {
		return &flow.ValidationError{Fields: errs}
	}
	return nil
}

// mergeFieldErrors adds to errs the complaints of more about fields errs
// does not name yet.
func mergeFieldErrors(errs []flow.FieldError, more error) []flow.FieldError {
	var ve *flow.ValidationError
	if !errors.As(more, &ve) {
		return errs
	}
	named := map[string]bool{}
	for _, e := range errs {
		named[e.Field] = true
	}
	for _, e := range ve.Fields {
		if !named[e.Field] {
			errs = append(errs, e)
		}
	}
	return errs
}
