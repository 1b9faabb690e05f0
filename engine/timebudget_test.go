package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
)

// slowRow takes far longer than a millisecond: 900,000 predicate steps.
const slowRow = `count(1..900000, # % 7 == 0)`

// One row of a deployed flow can take seconds of one message (3.9 s for
// this one without a limit). Under a context whose cause is ErrTimeBudget,
// Run stops at the deadline and reports a row error naming the row that was running: a
// mapping exception, not a failure of the whole message.
func TestTimeBudgetBreachIsARowError(t *testing.T) {
	def := limitDef("", "source.a")
	def.Routes[0].Mapping = append([]engine.Row{{Target: "fast", Expr: "1"}, {Target: "lines", Rows: []engine.Row{{Target: "slow", Expr: slowRow}}}}, def.Routes[0].Mapping...)
	p, err := engine.Compile(def, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, engine.DefaultTimeBudget, p.TimeBudget())

	t.Run("breach names the row", func(t *testing.T) {
		ctx, cancel := context.WithTimeoutCause(context.Background(), 5*time.Millisecond, engine.ErrTimeBudget)
		defer cancel()
		start := time.Now()
		res, err := p.Run(ctx, engine.Input{Payload: []byte(`{}`)})
		require.NoError(t, err)
		require.Less(t, time.Since(start), 500*time.Millisecond)
		require.True(t, res.Failed())
		require.Len(t, res.Errors, 1)
		e := res.Errors[0]
		require.Equal(t, engine.SectionRow, e.Section)
		require.Equal(t, "r", e.Route)
		require.Equal(t, "lines.slow", e.Path)
		require.Equal(t, "/routes/0/mapping/1/rows/0/expr", e.Pointer)
		require.Contains(t, e.Message, "time budget exceeded: mapping this message took longer than the flow's 1s (limits.timeBudgetMs); this expression was running")
		require.Empty(t, res.Routes[0].Errors, "reported once")
	})

	t.Run("in a validation rule", func(t *testing.T) {
		def := limitDef("", "source.a")
		def.Validation = []engine.Rule{{Name: "slow", Rule: slowRow + " == 128571", Message: "m"}}
		p, err := engine.Compile(def, engine.Options{})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeoutCause(context.Background(), 5*time.Millisecond, engine.ErrTimeBudget)
		defer cancel()
		res, err := p.Run(ctx, engine.Input{Payload: []byte(`{}`)})
		require.NoError(t, err)
		require.True(t, res.Valid(), "a rule that ran out of time did not fail validation")
		require.Equal(t, engine.RowError{Section: engine.SectionValidation, Path: "slow", Pointer: "/validation/0/rule", Message: res.Errors[0].Message}, res.Errors[0])
	})

	t.Run("another deadline fails the message as before", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		_, err := p.Run(ctx, engine.Input{Payload: []byte(`{}`)})
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("set per flow", func(t *testing.T) {
		def := limitDef("", "source.a")
		def.Limits = &engine.FlowLimits{TimeBudgetMs: 2500}
		raw, err := json.Marshal(def)
		require.NoError(t, err)
		parsed, err := engine.ParseDefinition(raw)
		require.NoError(t, err)
		p, err := engine.Compile(parsed, engine.Options{})
		require.NoError(t, err)
		require.Equal(t, 2500*time.Millisecond, p.TimeBudget())
		require.Contains(t, string(raw), `"limits":{"timeBudgetMs":2500}`)

		def.Limits.TimeBudgetMs = 60_000
		raw, _ = json.Marshal(def)
		_, err = engine.ParseDefinition(raw)
		require.Equal(t, "/limits/timeBudgetMs", diagnostics(t, err)[0].Pointer)
	})
}
