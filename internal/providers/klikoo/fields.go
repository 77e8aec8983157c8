package klikoo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// fields is a JSON object read key by key, so that identifiers may be
// strings or numbers while money stays strict.
type fields map[string]json.RawMessage

// decodeFields reads a JSON object. null, a missing value or anything but an
// object is an error.
func decodeFields(raw json.RawMessage) (fields, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, errors.New("data is missing")
	}
	var f fields
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("data is not an object: %w", err)
	}
	return f, nil
}

// text returns the key's value as text: a string as is, a number as
// written, absent or null as "". Objects, arrays and booleans are errors.
func (f fields) text(key string) (string, error) {
	s, err := scalarText(f[key])
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return s, nil
}

// money returns the key's value as whole rupiah: a string or a JSON number
// of plain digits ("20500" or 20500). present is false when the key is
// absent, null or the empty string.
func (f fields) money(key string) (amount int64, present bool, err error) {
	raw := bytes.TrimSpace(f[key])
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return 0, false, nil
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, true, fmt.Errorf("%s: %w", key, err)
		}
	} else {
		s = string(raw)
	}
	n, err := providers.ParseRupiah(s)
	if err != nil {
		return 0, true, fmt.Errorf("%s: %w", key, err)
	}
	return n, true, nil
}

// scalarText renders a JSON string or number as text; absent or null is "".
func scalarText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", err
		}
		return n.String(), nil
	}
	return "", fmt.Errorf("want a string or a number, got %.20s", raw)
}

// boolish reads a JSON boolean, or "1"/"0"/"true"/"false" as string or
// number; absent is false.
func (f fields) boolish(key string) (bool, error) {
	raw := bytes.TrimSpace(f[key])
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	s, err := scalarText(raw)
	if err != nil {
		return false, fmt.Errorf("%s: %w", key, err)
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s: %w", key, err)
	}
	return b, nil
}
