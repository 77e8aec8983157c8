package providers

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrMalformedAmount is returned for an amount that is not a well-formed
// non-negative whole number of rupiah. A malformed amount is never zero.
var ErrMalformedAmount = errors.New("malformed rupiah amount")

// ParseRupiah parses a plain decimal amount of whole rupiah ("20500").
// Signs, spaces, separators, decimals, exponents and overflow are errors.
func ParseRupiah(s string) (int64, error) {
	if s == "" || len(s) > 18 {
		return 0, fmt.Errorf("%w: %q", ErrMalformedAmount, s)
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q", ErrMalformedAmount, s)
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// ParseRupiahID parses an amount in Indonesian notation, where a dot groups
// thousands ("50.850" is 50,850 rupiah; "1.000.000"). A trailing ",00" is
// accepted; any other decimal part is an error, because rupiah amounts are
// whole. A plain number without dots is accepted too.
func ParseRupiahID(s string) (int64, error) {
	if whole, frac, ok := strings.Cut(s, ","); ok {
		if strings.Trim(frac, "0") != "" || frac == "" {
			return 0, fmt.Errorf("%w: %q", ErrMalformedAmount, s)
		}
		s = whole
	}
	if !strings.Contains(s, ".") {
		return ParseRupiah(s)
	}
	groups := strings.Split(s, ".")
	if len(groups[0]) == 0 || len(groups[0]) > 3 {
		return 0, fmt.Errorf("%w: %q", ErrMalformedAmount, s)
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return 0, fmt.Errorf("%w: %q", ErrMalformedAmount, s)
		}
	}
	return ParseRupiah(strings.Join(groups, ""))
}

// RupiahFromFloat converts a JSON number that must hold whole rupiah (some
// providers send 5500 or 5500.0). Fractions, negatives, NaN and values beyond
// 2^53 are errors.
func RupiahFromFloat(f float64) (int64, error) {
	if math.IsNaN(f) || f < 0 || f > 1<<53 || f != math.Trunc(f) {
		return 0, fmt.Errorf("%w: %v", ErrMalformedAmount, f)
	}
	return int64(f), nil
}

// PLNToken is what a PLN prepaid serial number carries.
type PLNToken struct {
	Token        string // exactly 20 digits, no separators
	CustomerName string
	Tariff       string
	Power        string
	KWh          string
}

// ErrNoToken is returned by ParsePLNSerial when the serial number does not
// hold a 20-digit token (docs/invariants.md#11-usable-or-not-done: such a success is not done).
var ErrNoToken = errors.New("serial number holds no 20-digit token")

// ParsePLNSerial reads a PLN prepaid serial number: either the 20-digit token
// alone, or TOKEN/NAME/TARIFF/POWER/KWH separated by "/". The token may be
// grouped with dashes or spaces ("1234-5678-9012-3456-7890").
func ParsePLNSerial(sn string) (PLNToken, error) {
	parts := strings.Split(strings.TrimSpace(sn), "/")
	token, ok := tokenDigits(parts[0])
	if !ok {
		return PLNToken{}, ErrNoToken
	}
	t := PLNToken{Token: token}
	field := func(i int) string {
		if i < len(parts) {
			return strings.TrimSpace(parts[i])
		}
		return ""
	}
	t.CustomerName, t.Tariff, t.Power, t.KWh = field(1), field(2), field(3), field(4)
	return t, nil
}

// tokenDigits strips dash and space grouping and checks for exactly 20 digits.
func tokenDigits(s string) (string, bool) {
	var b strings.Builder
	for _, c := range strings.TrimSpace(s) {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == '-' || c == ' ':
		default:
			return "", false
		}
	}
	if b.Len() != 20 {
		return "", false
	}
	return b.String(), true
}

// Scenario returns the simulator scenario an identifier selects: when its last
// four characters are "99" followed by two digits XX, it returns XX; otherwise
// "" (the default: pending for one lookup, then success).
func Scenario(identifier string) string {
	n := len(identifier)
	if n < 4 || identifier[n-4:n-2] != "99" {
		return ""
	}
	x, y := identifier[n-2], identifier[n-1]
	if x < '0' || x > '9' || y < '0' || y > '9' {
		return ""
	}
	return identifier[n-2:]
}
