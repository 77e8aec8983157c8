package providers

import (
	"errors"
	"math"
	"testing"
)

func TestParseRupiah(t *testing.T) {
	t.Parallel()
	good := map[string]int64{
		"20500":              20500,
		"0":                  0,
		"00012":              12,
		"999999999999999999": 999999999999999999,
	}
	for in, want := range good {
		got, err := ParseRupiah(in)
		if err != nil || got != want {
			t.Fatalf("ParseRupiah(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1.0", "1,0", "20.500", "1e3", " 1", "1 ", "0x10", "1000000000000000000", "١٢"} {
		got, err := ParseRupiah(in)
		if err == nil || !errors.Is(err, ErrMalformedAmount) || got != 0 {
			t.Fatalf("ParseRupiah(%q) = %d, %v; want ErrMalformedAmount", in, got, err)
		}
	}
}

func TestParseRupiahID(t *testing.T) {
	t.Parallel()
	good := map[string]int64{
		"50.850":       50850,
		"1.000.000":    1000000,
		"1.000.000,00": 1000000,
		"5000":         5000,
		"5000,0":       5000,
		"999":          999,
	}
	for in, want := range good {
		got, err := ParseRupiahID(in)
		if err != nil || got != want {
			t.Fatalf("ParseRupiahID(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "50.85", "1,5", "1,", "1.000,50", ".500", "1000.000", "1..000", "-1.000", "1.000.00", "Rp1.000"} {
		got, err := ParseRupiahID(in)
		if err == nil || !errors.Is(err, ErrMalformedAmount) || got != 0 {
			t.Fatalf("ParseRupiahID(%q) = %d, %v; want ErrMalformedAmount", in, got, err)
		}
	}
}

func TestRupiahFromFloat(t *testing.T) {
	t.Parallel()
	for f, want := range map[float64]int64{5500: 5500, 0: 0, 1 << 53: 1 << 53} {
		got, err := RupiahFromFloat(f)
		if err != nil || got != want {
			t.Fatalf("RupiahFromFloat(%v) = %d, %v", f, got, err)
		}
	}
	for _, f := range []float64{5500.5, -1, math.NaN(), math.Inf(1), math.Inf(-1), 1<<53 + 2, 0.1} {
		if got, err := RupiahFromFloat(f); err == nil || !errors.Is(err, ErrMalformedAmount) || got != 0 {
			t.Fatalf("RupiahFromFloat(%v) = %d, %v; want ErrMalformedAmount", f, got, err)
		}
	}
}

// TestParsePLNSerial covers the forms of docs/providers.md: 20 digits alone,
// or TOKEN/NAME/TARIFF/POWER/KWH with the token possibly grouped.
func TestParsePLNSerial(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want PLNToken
	}{
		{"12345678901234567890", PLNToken{Token: "12345678901234567890"}},
		{"  12345678901234567890  ", PLNToken{Token: "12345678901234567890"}},
		{"1234-5678-9012-3456-7890", PLNToken{Token: "12345678901234567890"}},
		{"1234 5678 9012 3456 7890", PLNToken{Token: "12345678901234567890"}},
		{"12345678901234567890/BAHARRUDIN1/R1/2200VA/13.8",
			PLNToken{Token: "12345678901234567890", CustomerName: "BAHARRUDIN1", Tariff: "R1", Power: "2200VA", KWh: "13.8"}},
		{"1234-5678-9012-3456-7890/ SITI AMINAH /R1M/900VA/ 32,5",
			PLNToken{Token: "12345678901234567890", CustomerName: "SITI AMINAH", Tariff: "R1M", Power: "900VA", KWh: "32,5"}},
		{"12345678901234567890/NAME", PLNToken{Token: "12345678901234567890", CustomerName: "NAME"}},
		{"12345678901234567890/NAME/R1/2200VA/13.8/EXTRA",
			PLNToken{Token: "12345678901234567890", CustomerName: "NAME", Tariff: "R1", Power: "2200VA", KWh: "13.8"}},
	}
	for _, c := range cases {
		got, err := ParsePLNSerial(c.in)
		if err != nil || got != c.want {
			t.Fatalf("ParsePLNSerial(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{
		"", "   ", "1234567890123456789", "123456789012345678901", "1234567890123456789a",
		"/BAHARRUDIN1/R1/2200VA/13.8", "BAHARRUDIN1/12345678901234567890", "1234.5678.9012.3456.7890",
		"SN12345678901234567890",
	} {
		if got, err := ParsePLNSerial(in); !errors.Is(err, ErrNoToken) || got != (PLNToken{}) {
			t.Fatalf("ParsePLNSerial(%q) = %+v, %v; want ErrNoToken", in, got, err)
		}
	}
}

func TestScenario(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"081234569900":   "00",
		"5512349931":     "31",
		"9961":           "61",
		"01105691111":    "",
		"081234567800":   "",
		"99":             "",
		"990":            "",
		"0812345699AB":   "",
		"08123456991":    "",
		"08123456990A":   "",
		"":               "",
		"ab99cd":         "",
		"user-id-9952":   "52",
		"08123459999":    "99",
		"0812345699 00":  "",
		"08123456989900": "00",
	}
	for in, want := range cases {
		if got := Scenario(in); got != want {
			t.Fatalf("Scenario(%q) = %q, want %q", in, got, want)
		}
	}
}
