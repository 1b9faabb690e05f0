package mappings

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crossdock/crossdock/internal/fault"
)

// Deployment says which version of a flow runs in an environment. Old
// deployments stay as history with Active false.
type Deployment struct {
	ID              int64
	EnvironmentID   int64
	FlowID          int64
	VersionNumber   int
	Checksum        string
	DeployedByEmail string
	DeployedAt      time.Time
	Active          bool
	// Kind says how it came about: deploy, promote, rollback or import.
	Kind string
	// Reason is why, in the deployer's words (an approval adds who
	// approved it).
	Reason string
	// Gates are the checks the version passed at the time; unchecked for
	// plain deploys and rollbacks.
	Gates Gates
}

// The kinds of deployment.
const (
	KindDeploy   = "deploy"
	KindPromote  = "promote"
	KindRollback = "rollback"
	KindImport   = "import"
)

// DeployRequest is what DeployWith needs. RequestedBy names who asked for
// a deployment an approver made, for the history.
type DeployRequest struct {
	EnvironmentID int64
	FlowID        int64
	VersionNumber int
	Kind          string
	Reason        string
	Gates         Gates
	RequestedBy   string
}

const deploymentSelect = `
	select d.id, d.environment_id, d.flow_id, d.version_number, d.checksum, d.deployed_by_email, d.deployed_at,
	       exists (select 1 from current_deployments c where c.deployment_id = d.id), d.kind, d.reason, d.gates
	from deployments d`

func scanDeployment(row pgx.Row) (Deployment, error) {
	var d Deployment
	err := row.Scan(&d.ID, &d.EnvironmentID, &d.FlowID, &d.VersionNumber, &d.Checksum, &d.DeployedByEmail, &d.DeployedAt, &d.Active, &d.Kind, &d.Reason, &d.Gates)
	return d, err
}

// Deploy makes version versionNumber of a flow the one that runs in an
// environment. The switch is one statement: the history row is inserted and
// the current pointer moved together, so a message arriving at
// the same moment runs on exactly one of them. The version must exist
// (NotFound otherwise); of two deploys racing for the same flow and
// environment the one that commits last wins (its row is the Active one),
// and both stay in the history. Promotion gates (protected
// environments, test cases) are the caller's business.
func Deploy(ctx context.Context, db DBTX, envID, flowID int64, versionNumber int, ed Editor) (Deployment, error) {
	return DeployWith(ctx, db, DeployRequest{EnvironmentID: envID, FlowID: flowID, VersionNumber: versionNumber, Kind: KindDeploy}, ed)
}

// DeployWith is Deploy recording how and why the deployment came about and
// the gates it passed, for the deployment history.
func DeployWith(ctx context.Context, db DBTX, r DeployRequest, ed Editor) (Deployment, error) {
	envID, flowID, versionNumber := r.EnvironmentID, r.FlowID, r.VersionNumber
	if r.Kind == "" {
		r.Kind = KindDeploy
	}
	var checksum string
	err := db.QueryRow(ctx, `select checksum from flow_versions where flow_id = $1 and number = $2`, flowID, versionNumber).Scan(&checksum)
	if errors.Is(err, pgx.ErrNoRows) {
		return Deployment{}, fault.Errorf(fault.NotFound, "this flow has no version %d; publish the draft first", versionNumber)
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("deploy: %w", err)
	}
	d := Deployment{EnvironmentID: envID, FlowID: flowID, VersionNumber: versionNumber, Checksum: checksum, DeployedByEmail: ed.Email, Active: true,
		Kind: r.Kind, Reason: r.Reason, Gates: r.Gates}
	if r.RequestedBy != "" && r.RequestedBy != ed.Email {
		d.Reason = strings.TrimSpace(d.Reason + " (requested by " + r.RequestedBy + ")")
	}
	err = db.QueryRow(ctx, `
		with d as (
			insert into deployments (environment_id, flow_id, version_number, checksum, deployed_by_email, kind, reason, gates)
			values ($1, $2, $3, $4, $5, $6, $7, $8)
			returning id, environment_id, flow_id, deployed_at
		), moved as (
			insert into current_deployments (environment_id, flow_id, deployment_id)
			select environment_id, flow_id, id from d
			on conflict (environment_id, flow_id) do update set deployment_id = excluded.deployment_id
		)
		select id, deployed_at from d`,
		envID, flowID, versionNumber, checksum, ed.Email, d.Kind, d.Reason, d.Gates).Scan(&d.ID, &d.DeployedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation {
		return Deployment{}, fault.Errorf(fault.NotFound, "no environment with id %d", envID)
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("deploy: %w", err)
	}
	return d, nil
}

// DeploymentCurrent returns the active deployment of a flow in an
// environment. When nothing is deployed it returns a Conflict (the trigger
// answers 409): the flow exists, it just cannot take messages there yet.
func DeploymentCurrent(ctx context.Context, db DBTX, envID, flowID int64) (Deployment, error) {
	d, err := scanDeployment(db.QueryRow(ctx, deploymentSelect+` join current_deployments c on c.deployment_id = d.id where c.environment_id = $1 and c.flow_id = $2`, envID, flowID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Deployment{}, fault.Errorf(fault.Conflict, "no version of this flow is deployed to this environment; deploy a published version first")
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("current deployment: %w", err)
	}
	return d, nil
}

// DeploymentList returns the active deployments of an environment, one per
// deployed flow, ordered by flow id.
func DeploymentList(ctx context.Context, db DBTX, envID int64) ([]Deployment, error) {
	rows, err := db.Query(ctx, deploymentSelect+` join current_deployments c on c.deployment_id = d.id where c.environment_id = $1 order by d.flow_id`, envID)
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Deployment, error) { return scanDeployment(r) })
}

// DeploymentHistory returns every deployment of a flow to an environment,
// newest first, for rollbacks and the environments page.
func DeploymentHistory(ctx context.Context, db DBTX, envID, flowID int64) ([]Deployment, error) {
	rows, err := db.Query(ctx, deploymentSelect+` where d.environment_id = $1 and d.flow_id = $2 order by d.id desc`, envID, flowID)
	if err != nil {
		return nil, fmt.Errorf("deployment history: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Deployment, error) { return scanDeployment(r) })
}
