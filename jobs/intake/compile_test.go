package intake_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/jobs/intake"
	"github.com/crossdock/crossdock/jobs/jobstest"
)

// TestAcceptRefusesAVersionThatDoesNotCompile: a stored version may be
// over today's limits (a million nested brackets, which would overflow
// the parser's stack on every accept). Compiling it fails at once, before
// parsing, and the trigger answers 409 naming the version and the problem.
func TestAcceptRefusesAVersionThatDoesNotCompile(t *testing.T) {
	t.Parallel()
	b := jobstest.Setup(t, false)
	ctx := context.Background()
	_, err := b.Pool.Exec(ctx, `
		insert into flow_versions (flow_id, number, definition, checksum)
		select flow_id, 2, jsonb_set(definition, '{keys,correlation}', to_jsonb($2::text)), repeat('b', 64)
		from flow_versions where flow_id = $1 and number = 1`, b.Flow.ID, strings.Repeat("(", 1_000_000)+"1"+strings.Repeat(")", 1_000_000))
	require.NoError(t, err)
	dbtest.Deploy(t, b.Pool, b.Env.ID, b.Flow.ID, 2)

	_, err = b.Intake.Accept(ctx, intake.AcceptRequest{Env: "dev", FlowSlug: "orders", Payload: []byte(`{"id": 600, "name": "#600", "total": 1}`)})
	require.Equal(t, fault.Conflict, fault.CodeOf(err), "%v", err)
	fe, _ := fault.As(err)
	require.Equal(t, "version 2 of this flow, the one deployed here, does not compile (/keys/correlation: expression is 2,000,001 characters long; at most 10,000 are allowed); deploy another version", fe.Message)
}
