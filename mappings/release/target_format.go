package release

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/engine/format"
	"github.com/crossdock/crossdock/internal/txn"
)

// TargetFormat is a target a flow delivers to that receives bodies in a
// format other than JSON in one environment.
type TargetFormat struct {
	Environment string
	// Name is the flow's name for the target (a local name, or the
	// environment target's own); Target the environment's.
	Name, Target string
	Format       format.Spec
}

// FlowTargetFormats lists, in promotion order, the targets the flow's
// routes reach in each environment whose format is not JSON, by the name
// the flow gives them (SetFlowTargetNames), for the designer's preview of
// what is sent. It reads no secret.
func FlowTargetFormats(ctx context.Context, db txn.DBTX, flowID int64) ([]TargetFormat, error) {
	rows, err := db.Query(ctx, flowTargetFormatsSelect, flowID)
	if err != nil {
		return nil, fmt.Errorf("target formats: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TargetFormat, error) {
		var t TargetFormat
		err := r.Scan(&t.Environment, &t.Name, &t.Target, &t.Format)
		return t, err
	})
}

// flowTargetFormatsSelect reads target_configs for FlowTargetFormats: a
// target is reached by a local name the flow gives it, or by its own name
// unless the flow gives that name to another target.
const flowTargetFormatsSelect = `
		select e.name, coalesce(n.name, t.target_name), t.target_name, t.format
		from target_configs t join environments e on e.id = t.environment_id
		left join flow_target_names n on n.environment_id = t.environment_id and n.flow_id = $1 and n.target = t.target_name
		where t.format->>'kind' <> 'json'
		  and (n.name is not null or not exists (select 1 from flow_target_names m
		        where m.environment_id = t.environment_id and m.flow_id = $1 and m.name = t.target_name))
		order by e.position, e.id, 2`
