package telemetry

import (
	"context"
	"encoding/json"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/propagation"
)

// jobParent is a River worker middleware that puts the trace context stored
// in a job's metadata (by otelriver at insert) into the context the job is
// worked with, so the work span that follows it is the inserting span's
// child: the create, each step and each provider call of a purchase share
// one trace.
type jobParent struct {
	river.MiddlewareDefaults
	prop propagation.TextMapPropagator
}

// Work implements rivertype.WorkerMiddleware.
func (m *jobParent) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	return doInner(m.prop.Extract(ctx, metadataCarrier(job.Metadata)))
}

// metadataCarrier reads a job's metadata's top-level string members, where
// otelriver writes traceparent and tracestate.
func metadataCarrier(metadata []byte) propagation.MapCarrier {
	carrier := propagation.MapCarrier{}
	var meta map[string]any
	if len(metadata) == 0 || json.Unmarshal(metadata, &meta) != nil {
		return carrier
	}
	for k, v := range meta {
		if s, ok := v.(string); ok {
			carrier[k] = s
		}
	}
	return carrier
}
