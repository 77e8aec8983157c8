package console

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

func TestRupiah(t *testing.T) {
	t.Parallel()
	n := int64(-1234)
	for in, want := range map[any]string{
		int64(0): "Rp 0", int64(999): "Rp 999", int64(1000): "Rp 1.000", int64(20546): "Rp 20.546",
		int64(1234567890): "Rp 1.234.567.890", &n: "Rp -1.234", (*int64)(nil): "—",
	} {
		if got := rupiah(in); got != want {
			t.Errorf("rupiah(%v) = %q, want %q", in, got, want)
		}
	}
}

// Secret-looking fields are masked in JSON at any depth and in other text;
// the rest is kept (a PLN token is the product, not a secret).
func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`{"client_secret":"abc","data":{"access_token":"xyz","token":"12345678901234567890"}}`: `{"client_secret":"[redacted]","data":{"access_token":"[redacted]","token":"12345678901234567890"}}`,
		`[{"X-Signature":"deadbeef"},{"n":1.50}]`:                                              `[{"X-Signature":"[redacted]"},{"n":1.50}]`,
		`{"key":"whsec_abcdef","other":"ppob_abc"}`:                                            `{"key":"[redacted]","other":"[redacted]"}`,
		`Authorization: Bearer abc.def x-api-key=k123&ok=1`:                                    `Authorization: [redacted] x-api-key=[redacted]&ok=1`,
		`timeout after 700ms`: `timeout after 700ms`,
	} {
		if got := string(redact([]byte(in))); got != want {
			t.Errorf("redact(%s)\n got %s\nwant %s", in, got, want)
		}
	}
}

// The chart has a bar per minute, empty minutes at zero, the busiest one
// full height; it is SVG with presentation attributes only.
func TestPerMinuteChart(t *testing.T) {
	t.Parallel()
	from := time.Date(2025, 11, 30, 10, 0, 0, 0, time.UTC)
	ch := perMinuteChart(from, []store.PurchasePerMinuteSinceRow{
		{Minute: from.Add(2 * time.Minute), Count: 10}, {Minute: from.Add(59 * time.Minute), Count: 5},
	})
	if len(ch.Bars) != 60 || ch.Max != 10 || ch.Total != 15 {
		t.Fatalf("bars %d max %d total %d", len(ch.Bars), ch.Max, ch.Total)
	}
	if b := ch.Bars[2]; b.H != chartHeight-chartTop || b.Y != chartTop {
		t.Fatalf("the busiest minute: %+v", b)
	}
	if b := ch.Bars[59]; b.H != (chartHeight-chartTop)/2 || b.Count != 5 {
		t.Fatalf("half as busy: %+v", b)
	}
	if b := ch.Bars[0]; b.H != 0 || b.Y != chartHeight {
		t.Fatalf("an empty minute: %+v", b)
	}
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	if p.byName["overview"] == nil {
		t.Fatal("no overview page")
	}
}

// No template has an inline style or script: the CSP would block them.
func TestTemplatesHaveNoInlineStyleOrScript(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil || len(names) < 8 {
		t.Fatalf("templates: %v %v", names, err)
	}
	for _, n := range names {
		src, err := templateFS.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		text := string(src)
		if strings.Contains(text, "style=") || strings.Contains(text, "<style") || strings.Contains(text, " on") && regexp.MustCompile(`\son[a-z]+=`).MatchString(text) {
			t.Errorf("%s has an inline style or event handler", n)
		}
		for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(text, -1) {
			if !strings.Contains(tag, "src=") {
				t.Errorf("%s has an inline script: %s", n, tag)
			}
		}
	}
}
