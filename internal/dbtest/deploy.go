package dbtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
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

// Querier is a pool, a connection or a transaction.
type Querier interface {
	Execer
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// PromotionRequest files a pending promotion request of version number of
// the flow into the environment, as a fixture (no gates, no audit entry),
// for tests of what reads requests: notices, pages. Running code files
// requests only through release.Promote.
func PromotionRequest(t testing.TB, db Querier, envID, flowID int64, number int, reason string) int64 {
	t.Helper()
	var id int64
	err := db.QueryRow(context.Background(), `
		insert into promotion_requests (flow_id, version_number, checksum, environment_id, reason, requested_by_email)
		select flow_id, number, checksum, $2, $4, 'ana@shop.example' from flow_versions where flow_id = $1 and number = $3
		returning id`, flowID, envID, number, reason).Scan(&id)
	if err != nil {
		t.Fatalf("dbtest: request v%d of flow %d for environment %d: %v", number, flowID, envID, err)
	}
	return id
}

// DecideRequest sets a promotion request's status (approved, rejected,
// superseded) as a fixture, without deploying anything.
func DecideRequest(t testing.TB, db Execer, id int64, status string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `update promotion_requests set status = $2, decided_at = now() where id = $1`, id, status); err != nil {
		t.Fatalf("dbtest: decide request %d: %v", id, err)
	}
}
