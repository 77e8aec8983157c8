package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/ppob-orchestrator/orchestrator/internal/telemetry"
)

// With an endpoint, spans are exported over OTLP/HTTP to its /v1/traces,
// named for the service; Shutdown flushes what is buffered.
func TestExportsOverOTLP(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		received []*collectortrace.ExportTraceServiceRequest
	)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := &collectortrace.ExportTraceServiceRequest{}
		if r.Method != http.MethodPost || r.URL.Path != "/otel/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, req) != nil {
			t.Errorf("collector got %s %s (%s), not an OTLP export", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		received = append(received, req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(collector.Close)

	ctx := context.Background()
	tr, err := telemetry.New(ctx, telemetry.Config{Endpoint: collector.URL + "/otel/"})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.On() {
		t.Fatal("tracing is off with an endpoint")
	}
	_, span := tr.TracerProvider().Tracer("test").Start(ctx, "exported-span")
	span.End()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var names []string
	for _, req := range received {
		for _, rs := range req.GetResourceSpans() {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					names = append(names, service+"/"+s.GetName())
				}
			}
		}
	}
	if len(names) != 1 || names[0] != "orchestrator/exported-span" {
		t.Fatalf("the collector received %v, want [orchestrator/exported-span]", names)
	}
}

// Off, every wrapper hands back what it was given and nothing is recorded.
func TestOffWrapsNothing(t *testing.T) {
	t.Parallel()
	tr, err := telemetry.New(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := &struct{ http.Handler }{http.NotFoundHandler()}
	if tr.On() || tr.Handler(h) != h || tr.Transport(nil) != http.DefaultTransport || tr.RiverMiddleware() != nil ||
		tr.HTTPClient(0, nil).Transport != http.DefaultTransport {
		t.Fatal("tracing off still wraps")
	}
	_, span := tr.TracerProvider().Tracer("test").Start(context.Background(), "nothing")
	if span.IsRecording() {
		t.Fatal("tracing off records spans")
	}
}

// A record logged within a span carries its trace_id and span_id; one
// logged outside any span carries neither.
func TestLogHandlerAddsTheTrace(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tr, err := telemetry.New(context.Background(), telemetry.Config{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx, span := tr.TracerProvider().Tracer("test").Start(context.Background(), "logged")
	log.InfoContext(ctx, "inside")
	span.End()
	log.Info("outside")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines logged", len(lines))
	}
	var in, out map[string]any
	_ = json.Unmarshal(lines[0], &in)
	_ = json.Unmarshal(lines[1], &out)
	sc := span.SpanContext()
	if in["trace_id"] != sc.TraceID().String() || in["span_id"] != sc.SpanID().String() || in["component"] != "test" {
		t.Fatalf("line in a span: %s (span %s/%s)", lines[0], sc.TraceID(), sc.SpanID())
	}
	if _, ok := out["trace_id"]; ok {
		t.Fatalf("line outside any span carries a trace: %s", lines[1])
	}
}
