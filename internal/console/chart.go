package console

import (
	"time"

	"github.com/ppob-orchestrator/orchestrator/internal/store"
)

// The chart's geometry, in SVG user units.
const (
	chartWidth  = 600
	chartHeight = 120
	chartBars   = 60
	chartTop    = 14 // room for the scale's label
)

// chart is a bar chart drawn by the server as SVG with presentation
// attributes only (no style, no script), so it needs no JavaScript and
// passes the console's CSP.
type chart struct {
	Width, Height int
	Max           int64
	Total         int64
	Bars          []bar
	From, To      time.Time
}

// bar is one minute.
type bar struct {
	X, Y, W, H int
	Minute     time.Time
	Count      int64
}

// perMinuteChart draws the purchases per minute of the 60 minutes from
// from; minutes without a row are zero.
func perMinuteChart(from time.Time, rows []store.PurchasePerMinuteSinceRow) chart {
	counts := map[int64]int64{}
	for _, r := range rows {
		counts[r.Minute.Unix()] = r.Count
	}
	ch := chart{Width: chartWidth, Height: chartHeight, From: from, To: from.Add(chartBars * time.Minute)}
	for i := 0; i < chartBars; i++ {
		m := from.Add(time.Duration(i) * time.Minute)
		n := counts[m.Unix()]
		ch.Total += n
		ch.Max = max(ch.Max, n)
		ch.Bars = append(ch.Bars, bar{Minute: m, Count: n})
	}
	slot := chartWidth / chartBars
	for i := range ch.Bars {
		b := &ch.Bars[i]
		b.X, b.W = i*slot+1, slot-2
		if ch.Max > 0 {
			b.H = int(b.Count * (chartHeight - chartTop) / ch.Max)
		}
		if b.Count > 0 && b.H == 0 {
			b.H = 1
		}
		b.Y = chartHeight - b.H
	}
	return ch
}
