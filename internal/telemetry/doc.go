// Package telemetry owns the service's OpenTelemetry tracing: the tracer
// provider (exporting over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set,
// off otherwise), the River middleware that makes every job of a purchase a
// child of the span that inserted it, the otelhttp wrappers for incoming
// requests and outgoing provider and webhook calls, and a slog handler that
// adds trace_id and span_id to log lines. cmd/orchestrator wires it; no other
// package of ours imports OpenTelemetry's SDK. See docs/observability.md.
package telemetry
