package mappings_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// TestMappingErrorCasesGatePublishAndPromotion: a case that expects a
// mapping failure is run by publishing and by the promotion gates with the
// same runner as the designer and `crossdock test`.
func TestMappingErrorCasesGatePublishAndPromotion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	withCase := func(x engine.MappingErrorExpectation) *engine.Definition {
		def := storefront(t)
		def.Routes[0].Mapping = append([]engine.Row(nil), def.Routes[0].Mapping...)
		def.Routes[0].Mapping[1].Expr = `source.name == "#0" ? decDiv(1, 0, 2) : trimPrefix(source.name, "#")`
		in := bytes.Replace(def.Source.Samples[0].Payload, []byte(`"#1001"`), []byte(`"#0"`), 1)
		tc := engine.TestCase{Name: "order #0 is a mapping exception", Input: in, Vars: map[string]string{"ERP_COMPANY": "1000"},
			Expect: engine.Expectation{MappingError: &x}}
		def.Tests = append(append([]engine.TestCase(nil), def.Tests...), tc)
		return def
	}
	right := engine.MappingErrorExpectation{Pointer: "/routes/0/mapping/1", Contains: "division by zero"}
	wrong := engine.MappingErrorExpectation{Pointer: "/routes/0/mapping/0", Contains: "division by zero"}

	dev, err := release.EnvironmentByName(ctx, b.db, "dev")
	require.NoError(t, err)
	g, err := release.CheckGates(ctx, b.db, builtinKinds{}, dev, withCase(wrong), time.Now())
	require.NoError(t, err)
	require.Equal(t, len(g.Tests)-1, g.TestsPassed(), "the gate fails the wrong expectation")
	require.False(t, g.Tests[len(g.Tests)-1].Passed)
	g, err = release.CheckGates(ctx, b.db, builtinKinds{}, dev, withCase(right), time.Now())
	require.NoError(t, err)
	require.Equal(t, len(g.Tests), g.TestsPassed())

	f, err := mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "orders", Definition: withCase(wrong)}, b.editor)
	require.NoError(t, err)
	d, err := mappings.DraftGet(ctx, b.db, f.ID)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, f.ID, d.Revision, "wrong", b.editor)
	var refused *mappings.PublishRefusedError
	require.True(t, errors.As(err, &refused), "%v", err)
	require.Contains(t, err.Error(), "order #0 is a mapping exception")

	d, err = mappings.DraftSave(ctx, b.db, f.ID, d.Revision, withCase(right), b.editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, f.ID, d.Revision, "right", b.editor)
	require.NoError(t, err)
}

// builtinKinds answers the gates as the built-in transports do (http
// needs configuration, capture does not); mappings may not import them.
type builtinKinds struct{}

func (builtinKinds) NeedsConfiguration(kind string) (needed, known bool) {
	switch kind {
	case "http":
		return true, true
	case "capture":
		return false, true
	}
	return false, false
}

// CheckTargetConfig finds nothing wrong: these tests are about the gates
// and policy, not what a kind needs configured (jobs/transport's tests).
func (builtinKinds) CheckTargetConfig(string, release.MaskedTargetConfig) []release.ConfigProblem {
	return nil
}
