package recon

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// wib is Asia/Jakarta (UTC+7, no daylight saving since 1964), fixed so the
// report needs no time zone database.
var wib = time.FixedZone("WIB", 7*60*60)

// WriteTable writes the report as text for a terminal: a verdict, the count
// of every section, then the rows of each non-empty section. Times are in
// Asia/Jakarta (WIB), like the daily sections' days.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	verdict := "clean: nothing needs attention"
	if r.NeedsAttention {
		verdict = "NEEDS ATTENTION"
	}
	since := "the beginning"
	if !r.Since.IsZero() {
		since = clock(r.Since)
	}
	p("Reconciliation report at %s WIB, events since %s", clock(r.GeneratedAt), since)
	p("%s", verdict)
	p("")
	p("SECTION\tROWS\tATTENTION")
	for _, s := range []struct {
		name      string
		count     int
		attention bool
	}{
		{"stuck", r.Stuck.Count, true},
		{"needs_review", r.NeedsReview.Count, true},
		{"contradictions", r.Contradictions.Count, true},
		{"double_payments", r.DoublePayments.Count, true},
		{"price_above_max", r.PriceAboveMax.Count, true},
		{"price_mismatch", r.PriceMismatch.Count, true},
		{"unmatched_callbacks", r.UnmatchedCallbacks.Count, true},
		{"webhook_failures", r.WebhookFailures.Count, true},
		{"multiple_successes", r.MultipleSuccesses.Count, true},
		{"failovers", r.Failovers.Count, false},
		{"alerts", r.Alerts.Count, false},
		{"daily_totals", r.DailyTotals.Count, false},
		{"daily_balance", r.DailyBalance.Count, false},
	} {
		mark := ""
		if s.attention && s.count > 0 {
			mark = "!"
		}
		p("%s\t%d\t%s", s.name, s.count, mark)
	}

	section := func(name string, n int, header string) bool {
		if n == 0 {
			return false
		}
		p("")
		p("== %s (%d)", name, n)
		p("%s", header)
		return true
	}
	if section("stuck", r.Stuck.Count, "REFERENCE_ID\tPURCHASE_ID\tPROVIDER\tPRODUCT\tSTATUS\tDUE_AT\tOVERDUE\tPAYMENT_ATTEMPTS") {
		for _, x := range r.Stuck.Rows {
			p("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d", x.ReferenceID, x.PurchaseID, x.Provider, x.ProductCode, x.Status,
				clock(x.DueAt), age(x.OverdueSeconds), x.PaymentAttempts)
		}
	}
	if section("needs_review", r.NeedsReview.Count, "REFERENCE_ID\tPURCHASE_ID\tPROVIDER\tPRODUCT\tAMOUNT\tPROVIDER_REFERENCE\tSINCE\tWAITING\tPAYMENT_ATTEMPTS") {
		for _, x := range r.NeedsReview.Rows {
			p("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d", x.ReferenceID, x.PurchaseID, x.Provider, x.ProductCode, num(x.Amount),
				str(x.ProviderReference), clock(x.ReviewSince), age(x.WaitingSeconds), x.PaymentAttempts)
		}
	}
	if section("contradictions", r.Contradictions.Count, "REFERENCE_ID\tPURCHASE_ID\tPROVIDER\tPRODUCT\tSTATUS\tREPORTED\tREPORTS\tLAST_REPORTED") {
		for _, x := range r.Contradictions.Rows {
			p("%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s", x.ReferenceID, x.PurchaseID, x.Provider, x.ProductCode, x.Status,
				x.Reported, x.Reports, clock(x.LastReportedAt))
		}
	}
	if section("double_payments", r.DoublePayments.Count, "PROVIDER\tPROVIDER_REFERENCE\tREFERENCE_ID\tSTATUS\tACCEPTED_CALLS\tCODES\tLAST_ACCEPTED") {
		for _, x := range r.DoublePayments.Rows {
			status := "-"
			if x.Status != nil {
				status = string(*x.Status)
			}
			p("%s\t%s\t%s\t%s\t%d\t%s\t%s", x.Provider, x.ProviderReference, str(x.ReferenceID), status,
				x.AcceptedCalls, x.Codes, clock(x.LastAcceptedAt))
		}
	}
	if section("price_above_max", r.PriceAboveMax.Count, "REFERENCE_ID\tPURCHASE_ID\tPROVIDER\tPRODUCT\tMAX_PRICE\tPRICE\tEXCESS") {
		for _, x := range r.PriceAboveMax.Rows {
			p("%s\t%s\t%s\t%s\t%s\t%s\t%d", x.ReferenceID, x.PurchaseID, x.Provider, x.ProductCode,
				num(x.MaxPrice), num(x.Price), x.Excess)
		}
	}
	if section("price_mismatch", r.PriceMismatch.Count, "REFERENCE_ID\tPURCHASE_ID\tPROVIDER\tPRODUCT\tAMOUNT\tPRICE\tDIFFERENCE") {
		for _, x := range r.PriceMismatch.Rows {
			p("%s\t%s\t%s\t%s\t%s\t%s\t%d", x.ReferenceID, x.PurchaseID, x.Provider, x.ProductCode,
				num(x.Amount), num(x.Price), x.Difference)
		}
	}
	if section("unmatched_callbacks", r.UnmatchedCallbacks.Count, "CALLBACK_ID\tPROVIDER\tACTION\tREFERENCE\tAUTHENTICATED\tRECEIVED") {
		for _, x := range r.UnmatchedCallbacks.Rows {
			p("%d\t%s\t%s\t%s\t%t\t%s", x.CallbackID, x.Provider, x.Action, str(x.Reference), x.Authenticated, clock(x.ReceivedAt))
		}
	}
	if section("webhook_failures", r.WebhookFailures.Count, "REFERENCE_ID\tPURCHASE_ID\tEVENT\tWEBHOOK_ID\tENDPOINT_ID\tATTEMPTS\tFAILED\tLAST") {
		for _, x := range r.WebhookFailures.Rows {
			last := x.LastError
			if x.LastStatus != nil {
				last = fmt.Sprintf("HTTP %d", *x.LastStatus)
			}
			p("%s\t%s\t%s\tmsg_%s\t%s\t%d\t%s\t%s", x.ReferenceID, x.PurchaseID, x.EventType, x.MessageID, x.EndpointID,
				x.Attempts, clock(x.FailedAt), oneLine(last))
		}
	}
	if section("multiple_successes", r.MultipleSuccesses.Count, "REFERENCE_ID\tPURCHASE_ID\tSTATUS\tCURRENT_PROVIDER\tEARLIER_ATTEMPT\tEARLIER_PROVIDER\tREPORTED") {
		for _, x := range r.MultipleSuccesses.Rows {
			p("%s\t%s\t%s\t%s\t%d\t%s\t%s", x.ReferenceID, x.PurchaseID, x.Status, x.CurrentProvider, x.EarlierAttempt, x.EarlierProvider, clock(x.ReportedAt))
		}
	}
	if section("failovers", r.Failovers.Count, "DAY\tPROVIDER\tREASON\tFAILOVERS") {
		for _, x := range r.Failovers.Rows {
			p("%s\t%s\t%s\t%d", x.Day, x.Provider, x.Reason, x.Failovers)
		}
	}
	if section("alerts", r.Alerts.Count, "KIND\tPROVIDER\tREFERENCE_ID\tPURCHASE_STATUS\tCREATED\tMESSAGE") {
		for _, x := range r.Alerts.Rows {
			status := "-"
			if x.PurchaseStatus != nil {
				status = string(*x.PurchaseStatus)
			}
			p("%s\t%s\t%s\t%s\t%s\t%s", x.Kind, str(x.Provider), str(x.ReferenceID), status, clock(x.CreatedAt), oneLine(x.Message))
		}
	}
	if section("daily_totals", r.DailyTotals.Count, "DAY\tPROVIDER\tPRODUCT\tSUCCEEDED\tPRICE_TOTAL\tWITH_SELLING_PRICE\tSELLING_TOTAL\tMARGIN") {
		for _, x := range r.DailyTotals.Rows {
			p("%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d", x.Day, x.Provider, x.ProductCode, x.Succeeded, x.PriceTotal,
				x.WithSellingPrice, x.SellingTotal, x.Margin)
		}
	}
	if section("daily_balance", r.DailyBalance.Count, "DAY\tPROVIDER\tOBSERVATIONS\tFIRST_BALANCE\tLAST_BALANCE\tMOVEMENT") {
		for _, x := range r.DailyBalance.Rows {
			p("%s\t%s\t%d\t%d\t%d\t%d", x.Day, x.Provider, x.Observations, x.FirstBalance, x.LastBalance, x.Movement)
		}
	}
	return tw.Flush()
}

func clock(t time.Time) string { return t.In(wib).Format("2006-01-02 15:04:05") }

// age writes whole seconds as a short duration (1h2m3s).
func age(seconds int64) string { return (time.Duration(seconds) * time.Second).String() }

func str(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return oneLine(*s)
}

func num(n *int64) string {
	if n == nil {
		return "-"
	}
	return fmt.Sprint(*n)
}

// oneLine keeps a value from breaking the table's rows and columns.
func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s) }
