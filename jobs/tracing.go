package jobs

import (
	"context"
	"strconv"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracingMiddleware wraps every job's work in an OpenTelemetry span named
// after the job's kind (process, deliver, rollup …), with its queue,
// attempt and id.
type tracingMiddleware struct {
	river.MiddlewareDefaults
	tracer trace.Tracer
}

// Work implements rivertype.WorkerMiddleware.
func (m *tracingMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	ctx, span := m.tracer.Start(ctx, "job "+job.Kind, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		attribute.String("messaging.system", "river"),
		attribute.String("messaging.destination.name", job.Queue),
		attribute.String("river.job.id", strconv.FormatInt(job.ID, 10)),
		attribute.Int("river.job.attempt", job.Attempt),
	))
	defer span.End()
	err := doInner(ctx)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}
