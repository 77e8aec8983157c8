package webhook

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the webhook metrics (docs/webhooks.md "Operations"). Their
// names are fixed: alert rules use them.
type Metrics struct {
	// Deliveries counts messages that ended, by outcome: delivered,
	// failed, canceled.
	Deliveries *prometheus.CounterVec
	// AttemptDuration is the latency of every attempt.
	AttemptDuration prometheus.Histogram
	// OldestPending is the age of the oldest pending message (read from
	// the database at each scrape).
	OldestPending prometheus.GaugeFunc
	// EndpointsDisabled counts endpoints the service disabled, by reason:
	// gone (410) or failing (every attempt failed for 5 days).
	EndpointsDisabled *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, oldest func() float64) *Metrics {
	m := &Metrics{
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhook_deliveries_total", Help: "Webhook messages that ended, by outcome (delivered, failed, canceled).",
		}, []string{"outcome"}),
		AttemptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "webhook_attempt_duration_seconds", Help: "Latency of webhook delivery attempts.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30},
		}),
		OldestPending: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "webhook_oldest_pending_seconds", Help: "Age of the oldest pending webhook message.",
		}, oldest),
		EndpointsDisabled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhook_endpoints_disabled_total", Help: "Webhook endpoints disabled by the service, by reason (gone, failing).",
		}, []string{"reason"}),
	}
	for _, o := range []string{"delivered", "failed", "canceled"} {
		m.Deliveries.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(m.Deliveries, m.AttemptDuration, m.OldestPending, m.EndpointsDisabled)
	}
	return m
}
