// Package transport is the seam between the delivery pipeline and the
// kinds of target it delivers to. A kind is one implementation of
// Transport, registered on the Registry the pipeline and the UI are built
// with (jobs.Transports lists the built-in ones, one line each); the
// pipeline asks the transport of a delivery's kind what to do and never
// compares kind names.
//
// Adding a kind: write a package under jobs/transport (httptarget and
// capture are the models) whose type implements Transport, add one line
// for it to jobs.Transports, and the designer offers it, the promotion
// gates check its configuration, and deliver jobs send through it. The
// definition format accepts any kind name; one no transport serves fails
// the promotion gates and, should a message route to it anyway, its
// delivery with a configuration exception.
package transport

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/crossdock/crossdock/mappings/release"
)

// Kind names a target kind as definitions spell it ("http", "capture").
type Kind string

// Transport sends deliveries to targets of one kind. Implementations are
// used by many workers at once and must be safe for concurrent use.
type Transport interface {
	// Kind is the name definitions give targets of this transport.
	Kind() Kind
	// Traits say what the pipeline and the UI may expect of the kind.
	Traits() Traits
	// Send makes one attempt of a delivery and classifies what came of
	// it. An error means no attempt was made (the job runs again later,
	// without counting one); a target's refusal or failure is an Outcome.
	Send(ctx context.Context, a Attempt) (Outcome, error)
	// Redact returns what a delivery is sent with under cfg (for http,
	// its request headers) with every credential masked, for the triage
	// page; nil when the kind has nothing to show.
	Redact(cfg release.TargetConfig, d Delivery) map[string]string
	// Settings describe and check what an environment configures for a
	// target of the kind (settings.go).
	Settings
}

// Traits describe a kind.
type Traits struct {
	// Label names the kind in the designer's choice of kinds.
	Label string
	// NeedsConfiguration: a target of this kind must be configured in an
	// environment (its endpoint, credentials, policies) before a version
	// routing to it may run there. Without it, a target has the default
	// configuration wherever it is not configured.
	NeedsConfiguration bool
	// Grouped: first attempts may be made many at once by process and
	// deliver-group jobs, each behind its target's rate limiter and
	// circuit breaker. Otherwise every attempt is a deliver job of its own
	// that goes straight to Send.
	Grouped bool
}

// Delivery is what a transport knows of the delivery it sends.
type Delivery struct {
	ID            uuid.UUID
	MessageID     uuid.UUID
	EnvironmentID int64
	Route         string
	Target        string
	CorrelationID string
	// Body is the route's mapped output as it is sent: the pipeline
	// encodes it in the target's configured format (JSON, XML, CSV)
	// before Send, so a transport sends these bytes as they are.
	Body []byte
	// ContentType is Body's media type ("application/json",
	// "application/xml; charset=utf-8", "text/csv; charset=utf-8"); ""
	// is application/json, the mapped output before encoding.
	ContentType string
}

// Attempt is one try of a delivery under its environment's configuration.
type Attempt struct {
	Delivery
	Config release.TargetConfig
	// Vars are the environment's variables when Config refers to one
	// (a ${NAME} in its URL template), else nil.
	Vars map[string]string
}

// Verdict is what an attempt means for its delivery.
type Verdict int

// The verdicts.
const (
	// Delivered: the target took the delivery; it is finished.
	Delivered Verdict = iota
	// Retry: try again, after Outcome.RetryAfter when the target said
	// when, else after the target's backoff, unless its retry budget is
	// spent.
	Retry
	// Failed: the target refused for good; the delivery fails with an
	// exception at once.
	Failed
)

// Outcome is one attempt, classified. Every text in it is already
// redacted: no credential of the target's configuration appears.
type Outcome struct {
	Verdict Verdict
	// As is the attempt's outcome word when delivered: "" reads
	// "delivered"; the only other word delivery_attempts takes is
	// "captured" (the capture kind's).
	As         string
	Started    time.Time
	Latency    time.Duration
	StatusCode int // 0 when the kind has none or nothing answered
	Excerpt    string
	// Error says what went wrong, for the attempt, lineage and exception.
	Error string
	// Class groups like failures into one exception group ("http 503",
	// "timeout", "network").
	Class      string
	RetryAfter time.Duration
	// TargetDown counts the attempt against the target's circuit breaker:
	// the target failed (it did not answer, timed out, or broke), as
	// opposed to answering and refusing.
	TargetDown bool
	// Detail is more of the attempt's lineage detail (http: the redirects
	// it followed or was refused).
	Detail map[string]any
	// Answer is what the target answered a delivered attempt, for the
	// steps (a route's then) that map it; nil when the kind has no answer
	// (capture). Redacted like every other text here.
	Answer *Answer
}

// AnswerLimit caps the body an Answer keeps (64 KiB): enough for a
// document number or a master-data record, small enough to store with
// every delivery that has steps after it.
const AnswerLimit = 64 << 10

// Answer is a target's answer to a delivered attempt.
type Answer struct {
	Status int
	// Headers are the answer's headers, names in lower case, several
	// values joined with ", "; credentials and cookies are left out.
	Headers map[string]string
	// Body is at most AnswerLimit bytes of the answer's body; Truncated
	// says there was more.
	Body      []byte
	Truncated bool
}

// Word is the attempt's outcome as delivery_attempts records it when the
// attempt settles the delivery as its verdict says.
func (o Outcome) Word() string {
	switch {
	case o.Verdict == Delivered && o.As != "":
		return o.As
	case o.Verdict == Delivered:
		return "delivered"
	case o.Verdict == Retry:
		return "retry"
	}
	return "failed"
}

// Registry is the set of transports, by kind. Register every kind before
// the registry is used; after that it is read-only and safe for
// concurrent use.
type Registry struct {
	byKind map[Kind]Transport
	kinds  []Kind
}

// NewRegistry returns a registry holding ts.
func NewRegistry(ts ...Transport) *Registry {
	r := &Registry{byKind: map[Kind]Transport{}}
	for _, t := range ts {
		r.Register(t)
	}
	return r
}

// Register adds t; registering a kind twice is a programming error and
// panics.
func (r *Registry) Register(t Transport) {
	k := t.Kind()
	if _, dup := r.byKind[k]; dup {
		panic(fmt.Sprintf("transport: kind %q registered twice", k))
	}
	r.byKind[k] = t
	r.kinds = append(r.kinds, k)
}

// Get returns the transport of kind k.
func (r *Registry) Get(k Kind) (Transport, bool) {
	t, ok := r.byKind[k]
	return t, ok
}

// Kinds are the registered kinds in the order they were registered.
func (r *Registry) Kinds() []Kind { return append([]Kind(nil), r.kinds...) }

// Grouped says whether kind is registered and its first attempts may be
// made in groups (Traits.Grouped).
func (r *Registry) Grouped(kind Kind) bool {
	t, ok := r.byKind[kind]
	return ok && t.Traits().Grouped
}

// CheckTargetConfig returns what the transport of kind finds wrong with
// a target's configuration, in the order of its fields; it is what the
// promotion gates and release.ConfigureTarget (release.TargetKinds) ask.
func (r *Registry) CheckTargetConfig(kind string, cfg release.MaskedTargetConfig) []release.ConfigProblem {
	t, ok := r.byKind[Kind(kind)]
	if !ok {
		return nil
	}
	return Problems(t.Fields(), t.Validate(cfg))
}

// Problems lists field problems in the order of fields; problems of
// names that are not fields follow in name order, labelled by name.
func Problems(fields []Field, byName map[string]string) []release.ConfigProblem {
	var out []release.ConfigProblem
	for _, f := range fields {
		if p, ok := byName[f.Name]; ok {
			out = append(out, release.ConfigProblem{Field: f.Name, Label: f.Label, Problem: p})
		}
	}
	rest := make([]string, 0, len(byName))
	for name := range byName {
		if !slices.ContainsFunc(fields, func(f Field) bool { return f.Name == name }) {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		out = append(out, release.ConfigProblem{Field: name, Label: name, Problem: byName[name]})
	}
	return out
}

// NeedsConfiguration says whether a target of kind must be configured in
// an environment, and whether any transport serves kind at all; it is
// what the promotion gates (release.TargetKinds) ask.
func (r *Registry) NeedsConfiguration(kind string) (needed, known bool) {
	t, ok := r.byKind[Kind(kind)]
	if !ok {
		return false, false
	}
	return t.Traits().NeedsConfiguration, true
}
