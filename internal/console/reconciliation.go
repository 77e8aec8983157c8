package console

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/recon"
)

// reconData is the Reconciliation page: the report of `orchestrator
// reconcile` for a range of Asia/Jakarta days.
type reconData struct {
	From, To string // YYYY-MM-DD, inclusive
	Report   *recon.Report
	CSV      string // the daily totals' download link
}

// reconRange reads from and to (YYYY-MM-DD in Asia/Jakarta, inclusive;
// both default to today) and returns the range as [since, until).
func (c *Console) reconRange(r *http.Request) (from, to string, since, until time.Time, problems []string) {
	today := c.now().In(wib).Format(time.DateOnly)
	from, to = r.URL.Query().Get("from"), r.URL.Query().Get("to")
	if from == "" {
		from = today
	}
	if to == "" {
		to = from
	}
	since, err := time.ParseInLocation(time.DateOnly, from, wib)
	if err != nil {
		problems = append(problems, "from: must be a date like 2025-11-30")
	}
	last, err := time.ParseInLocation(time.DateOnly, to, wib)
	if err != nil {
		problems = append(problems, "to: must be a date like 2025-11-30")
	}
	until = last.AddDate(0, 0, 1)
	if len(problems) == 0 && !since.Before(until) {
		problems = append(problems, "to: must not be before from")
	}
	return from, to, since, until, problems
}

// report builds the reconciliation report for [since, until): recon.Build
// covers since to now; the rows after until are left out here. Stuck and
// needs_review purchases are the present state and always shown whole.
func (c *Console) report(r *http.Request, since, until time.Time) (*recon.Report, error) {
	rep, err := recon.Build(r.Context(), c.cfg.Pool, recon.Options{Since: since, Now: c.now})
	if err != nil {
		return nil, err
	}
	before := func(t time.Time) bool { return t.Before(until) }
	lastDay := until.AddDate(0, 0, -1).Format(time.DateOnly)
	keep(&rep.Contradictions, func(x recon.Contradiction) bool { return before(x.LastReportedAt) })
	keep(&rep.DoublePayments, func(x recon.DoublePayment) bool { return before(x.LastAcceptedAt) })
	keep(&rep.PriceAboveMax, func(x recon.PriceAboveMax) bool { return x.CompletedAt == nil || before(*x.CompletedAt) })
	keep(&rep.PriceMismatch, func(x recon.PriceMismatch) bool { return x.CompletedAt == nil || before(*x.CompletedAt) })
	keep(&rep.UnmatchedCallbacks, func(x recon.UnmatchedCallback) bool { return before(x.ReceivedAt) })
	keep(&rep.Alerts, func(x recon.Alert) bool { return before(x.CreatedAt) })
	keep(&rep.DailyTotals, func(x recon.DailyTotal) bool { return x.Day <= lastDay })
	keep(&rep.DailyBalance, func(x recon.DailyBalance) bool { return x.Day <= lastDay })
	rep.NeedsAttention = rep.Stuck.Count+rep.NeedsReview.Count+rep.Contradictions.Count+rep.DoublePayments.Count+
		rep.PriceAboveMax.Count+rep.PriceMismatch.Count+rep.UnmatchedCallbacks.Count > 0
	return rep, nil
}

// keep leaves in s the rows ok accepts.
func keep[T any](s *recon.Section[T], ok func(T) bool) {
	rows := s.Rows[:0]
	for _, x := range s.Rows {
		if ok(x) {
			rows = append(rows, x)
		}
	}
	s.Rows, s.Count = rows, len(rows)
}

// reconciliation is GET /console/reconciliation?from=&to=.
func (c *Console) reconciliation(w http.ResponseWriter, r *http.Request, s *session) {
	from, to, since, until, problems := c.reconRange(r)
	data := reconData{From: from, To: to}
	if len(problems) > 0 {
		c.render(w, r, http.StatusUnprocessableEntity, "reconciliation", s, "Reconciliation", data, strings.Join(problems, "; "))
		return
	}
	rep, err := c.report(r, since, until)
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	data.Report = rep
	data.CSV = fmt.Sprintf("/console/reconciliation/daily.csv?from=%s&to=%s", from, to)
	c.render(w, r, http.StatusOK, "reconciliation", s, "Reconciliation", data, "")
}

// dailyCSV is GET /console/reconciliation/daily.csv?from=&to=: the daily
// totals per provider and product of the range, as CSV.
func (c *Console) dailyCSV(w http.ResponseWriter, r *http.Request, s *session) {
	from, to, since, until, problems := c.reconRange(r)
	if len(problems) > 0 {
		c.fail(w, r, s, http.StatusUnprocessableEntity, strings.Join(problems, "; "))
		return
	}
	rep, err := c.report(r, since, until)
	if err != nil {
		c.internal(w, r, s, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="daily-totals-%s-%s.csv"`, from, to))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"day", "provider", "product_code", "succeeded", "price_total", "with_selling_price", "selling_total", "margin"})
	for _, x := range rep.DailyTotals.Rows {
		_ = cw.Write([]string{cell(x.Day), cell(x.Provider), cell(x.ProductCode), strconv.FormatInt(x.Succeeded, 10),
			strconv.FormatInt(x.PriceTotal, 10), strconv.FormatInt(x.WithSellingPrice, 10),
			strconv.FormatInt(x.SellingTotal, 10), strconv.FormatInt(x.Margin, 10)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		c.log.ErrorContext(r.Context(), "console: write daily totals CSV", "err", err)
	}
}

// cell keeps a text cell from being read as a formula by a spreadsheet.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
