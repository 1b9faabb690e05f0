package dbtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// Execer is a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Deploy makes version number of the flow run in the environment, as a
// fixture: it writes the deployment row and moves the current pointer
// directly, with no policy, gates or audit entry, so that a test of the
// pipeline, the inbox or a page can start from "this version runs there"
// (for example with a target left unconfigured on purpose). Running code
// changes what runs only through package mappings/release; this helper is
// for tests alone.
func Deploy(t testing.TB, db Execer, envID, flowID int64, number int) {
	t.Helper()
	tag, err := db.Exec(context.Background(), `
		with d as (
			insert into deployments (environment_id, flow_id, version_number, checksum, deployed_by_email, kind, reason)
			select $1, flow_id, number, checksum, 'test fixture', 'deploy', 'test fixture'
			from flow_versions where flow_id = $2 and number = $3
			returning id, environment_id, flow_id
		)
		insert into current_deployments (environment_id, flow_id, deployment_id)
		select environment_id, flow_id, id from d
		on conflict (environment_id, flow_id) do update set deployment_id = excluded.deployment_id`, envID, flowID, number)
	if err != nil {
		t.Fatalf("dbtest: deploy v%d of flow %d to environment %d: %v", number, flowID, envID, err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("dbtest: flow %d has no version %d to deploy", flowID, number)
	}
}
