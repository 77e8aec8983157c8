package flow

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ppob-orchestrator/orchestrator/internal/providers"
)

// Metrics are the flow's Prometheus metrics. The zero value is not usable;
// use NewMetrics.
type Metrics struct {
	Transitions     *prometheus.CounterVec
	ProviderCalls   *prometheus.HistogramVec
	Alerts          *prometheus.CounterVec
	Balance         *prometheus.GaugeVec
	Contradictions  *prometheus.CounterVec
	CallbacksByKind *prometheus.CounterVec
	Failovers       *prometheus.CounterVec
	Tripped         *prometheus.GaugeVec
	Paused          *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "purchase_transitions_total", Help: "Purchase status changes, by from and to status.",
		}, []string{"from", "to"}),
		ProviderCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "provider_call_duration_seconds", Help: "Provider HTTP calls, by provider, operation and normalized outcome.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"provider", "operation", "outcome"}),
		Alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alerts_total", Help: "Operator alerts raised, by kind and provider.",
		}, []string{"kind", "provider"}),
		Balance: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "provider_balance_rupiah", Help: "Our deposit at each provider, as last observed.",
		}, []string{"provider"}),
		Contradictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "provider_contradictions_total", Help: "Provider reports contradicting a terminal purchase (recorded, not applied).",
		}, []string{"provider"}),
		CallbacksByKind: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callbacks_total", Help: "Provider callbacks received, by provider and what was done with them.",
		}, []string{"provider", "action"}),
		Failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "provider_failovers_total", Help: "Purchases moved from one provider's offer to the next, by the provider left and the reason.",
		}, []string{"provider", "reason"}),
		Tripped: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "provider_tripped", Help: "1 while a provider is left out of new routes for not answering (this process's view).",
		}, []string{"provider"}),
		Paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "provider_paused", Help: "1 while an operator has paused a provider (as this process last read it).",
		}, []string{"provider"}),
	}
	if reg != nil {
		reg.MustRegister(m.Transitions, m.ProviderCalls, m.Alerts, m.Balance, m.Contradictions, m.CallbacksByKind, m.Failovers, m.Tripped, m.Paused)
	}
	return m
}

func (m *Metrics) transition(from, to string) { m.Transitions.WithLabelValues(from, to).Inc() }

func (m *Metrics) providerCall(provider string, c providers.Call, o providers.Outcome) {
	m.ProviderCalls.WithLabelValues(provider, c.Operation, string(o)).Observe(c.Latency.Seconds())
}
