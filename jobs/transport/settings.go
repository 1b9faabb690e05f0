package transport

import (
	"context"
	"time"

	"github.com/crossdock/crossdock/mappings/release"
)

// Settings is how a kind describes and checks what an environment
// configures for a target of it: the target form shows Fields with the
// Values of the stored configuration, saving reads them back with Apply,
// and the promotion gates ask Validate of a configuration already stored.
// The delivery policy (timeout, retries, circuit breaker, rate limit) is
// common to every kind and not among a kind's fields.
type Settings interface {
	// Fields are the kind's settings, in the order the form shows them.
	Fields() []Field
	// Values returns cfg's settings by field name, for the form. A
	// secret field's value is never returned; the form shows whether one
	// is stored (release.TargetConfig.HasSecret).
	Values(cfg release.TargetConfig) map[string]string
	// Apply sets cfg's settings from values (by field name, as a form
	// posts them; a missing name is an empty value) and returns what is
	// wrong, by field name, in words that say what to enter. An empty
	// secret keeps the stored one.
	Apply(cfg *release.TargetConfig, values map[string]string) map[string]string
	// Validate checks a stored configuration (without its secret: only
	// whether one is stored) and returns what is wrong by field name.
	Validate(cfg release.MaskedTargetConfig) map[string]string
}

// Input is how the form asks for a field.
type Input string

// The inputs.
const (
	Text   Input = "text"   // one line
	Lines  Input = "lines"  // several lines
	Choice Input = "choice" // one of Options
	Secret Input = "secret" // write-only: never shown, kept when left empty
)

// Field is one setting of a kind.
type Field struct {
	// Name is the form field's name and the key of its problems.
	Name  string
	Label string
	// Hint says what the field takes, next to its label.
	Hint        string
	Input       Input
	Options     []string // for Choice
	Placeholder string
	Required    bool
}

// NoSettings is embedded by kinds an environment configures nothing of
// but the delivery policy.
type NoSettings struct{}

// Fields: none.
func (NoSettings) Fields() []Field { return nil }

// Values: none.
func (NoSettings) Values(release.TargetConfig) map[string]string { return nil }

// Apply reads nothing and finds nothing wrong.
func (NoSettings) Apply(*release.TargetConfig, map[string]string) map[string]string { return nil }

// Validate finds nothing wrong.
func (NoSettings) Validate(release.MaskedTargetConfig) map[string]string { return nil }

// Prober is implemented by kinds that can check a configuration without
// delivering anything (the target form's "Test connection").
type Prober interface {
	// Probe checks that the target configured in a is reachable as
	// configured, sending no delivery. Every text in the result is
	// redacted.
	Probe(ctx context.Context, a Attempt) Probe
}

// Probe is what a connection test found.
type Probe struct {
	OK bool
	// Summary is one sentence: what was reached, or what failed and what
	// to check.
	Summary string
	// Steps are what was done, in order ("resolved erp.example to
	// 10.0.0.7", "TLS 1.3, certificate for erp.example valid until …").
	Steps   []string
	Latency time.Duration
}
