package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ServiceName is the service.name of every span, unless OTEL_SERVICE_NAME
// or OTEL_RESOURCE_ATTRIBUTES say otherwise.
const ServiceName = "orchestrator"

// Config selects where spans go. The zero value turns tracing off.
type Config struct {
	// Endpoint is OTEL_EXPORTER_OTLP_ENDPOINT: the base URL of an OTLP/HTTP
	// collector; spans are batched to Endpoint + "/v1/traces". The
	// exporter's other settings (OTEL_EXPORTER_OTLP_HEADERS, …_TIMEOUT,
	// …_COMPRESSION, …_CERTIFICATE) are read from the environment by the SDK.
	Endpoint string
	// Exporter, when set, receives every span as it ends, synchronously; it
	// replaces Endpoint. Tests pass the SDK's in-memory exporter.
	Exporter sdktrace.SpanExporter
}

// Tracing is the service's tracing: a tracer provider and the wrappers that
// use it. When off (no Endpoint and no Exporter) every wrapper returns what
// it was given, so tracing costs nothing. It is safe for concurrent use.
type Tracing struct {
	sdk      *sdktrace.TracerProvider // nil when off
	provider trace.TracerProvider
	prop     propagation.TextMapPropagator
}

// New starts tracing as cfg says. Call Shutdown before the program exits, so
// the last spans are exported.
func New(ctx context.Context, cfg Config) (*Tracing, error) {
	t := &Tracing{provider: noop.NewTracerProvider(), prop: propagation.TraceContext{}}
	var opt sdktrace.TracerProviderOption
	switch {
	case cfg.Exporter != nil:
		opt = sdktrace.WithSyncer(cfg.Exporter)
	case cfg.Endpoint != "":
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimRight(cfg.Endpoint, "/")+"/v1/traces"))
		if err != nil {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
		}
		opt = sdktrace.WithBatcher(exp)
	default:
		return t, nil
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(ServiceName)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	t.sdk = sdktrace.NewTracerProvider(opt, sdktrace.WithResource(res))
	t.provider = t.sdk
	return t, nil
}

// On reports whether spans are recorded.
func (t *Tracing) On() bool { return t.sdk != nil }

// TracerProvider is the provider spans come from (a no-op one when off).
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.provider }

// Shutdown exports the spans still buffered and stops the provider; ctx
// bounds the wait. It does nothing when tracing is off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing shutdown: %w", err)
	}
	return nil
}

// Handler traces the requests h serves. Each request starts a trace of its
// own (the API is public: a caller's traceparent is linked, not followed);
// the span is named by the route when h sets the request's Pattern (the
// HTTP API does). Off: h itself.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	if !t.On() {
		return h
	}
	return otelhttp.NewHandler(h, "http.server", otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.prop), otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }))
}

// Transport traces the calls made through base (http.DefaultTransport when
// nil) as children of the caller's span and sends the trace context along
// (traceparent). The provider clients' and the webhook sender's calls go
// through it. Off: base itself.
func (t *Tracing) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if !t.On() {
		return base
	}
	return otelhttp.NewTransport(base, otelhttp.WithTracerProvider(t.provider), otelhttp.WithPropagators(t.prop))
}

// HTTPClient is an *http.Client with timeout whose calls through base
// (http.DefaultTransport when nil) are traced: one line for an outgoing
// client.
func (t *Tracing) HTTPClient(timeout time.Duration, base http.RoundTripper) *http.Client {
	return &http.Client{Timeout: timeout, Transport: t.Transport(base)}
}

// RiverMiddleware is what River's client needs for a purchase to be one
// trace: otelriver's middleware, which spans each insert and each job's
// work and writes the inserting span's context into the job's metadata, and
// inside it nothing else — but before it, jobParent, which makes that
// context the work span's parent (otelriver alone only links to it, which
// starts a new trace per job). Off: none.
func (t *Tracing) RiverMiddleware() []rivertype.Middleware {
	if !t.On() {
		return nil
	}
	return []rivertype.Middleware{
		&jobParent{prop: t.prop},
		otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
			TracerProvider:              t.provider,
			EnableTracePropagation:      true,
			EnableWorkSpanJobKindSuffix: true,
		}),
	}
}
