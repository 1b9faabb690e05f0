package release

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
)

// Deployment says which version of a flow runs in an environment. Old
// deployments stay as history with Active false. Only the release policy
// operations of this package write them.
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
	// Gates are the checks the version passed at the time; a rollback
	// records them without being stopped by them; deployments made before
	// every path ran the gates carry none.
	Gates Gates
}

// The kinds of deployment.
const (
	KindDeploy   = "deploy"
	KindPromote  = "promote"
	KindRollback = "rollback"
	KindImport   = "import"
)

func scanDeployment(row pgx.Row) (Deployment, error) {
	var d Deployment
	err := row.Scan(&d.ID, &d.EnvironmentID, &d.FlowID, &d.VersionNumber, &d.Checksum, &d.DeployedByEmail, &d.DeployedAt, &d.Active, &d.Kind, &d.Reason, &d.Gates)
	return d, err
}

// DeploymentCurrent returns the active deployment of a flow in an
// environment. When nothing is deployed it returns a Conflict (the trigger
// answers 409): the flow exists, it just cannot take messages there yet.
func DeploymentCurrent(ctx context.Context, db txn.DBTX, envID, flowID int64) (Deployment, error) {
	d, err := scanDeployment(db.QueryRow(ctx, deploymentCurrentSelect, envID, flowID))
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
func DeploymentList(ctx context.Context, db txn.DBTX, envID int64) ([]Deployment, error) {
	rows, err := db.Query(ctx, deploymentListSelect, envID)
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Deployment, error) { return scanDeployment(r) })
}

// DeploymentHistory returns every deployment of a flow to an environment,
// newest first, for rollbacks and the environments page.
func DeploymentHistory(ctx context.Context, db txn.DBTX, envID, flowID int64) ([]Deployment, error) {
	rows, err := db.Query(ctx, deploymentHistorySelect, envID, flowID)
	if err != nil {
		return nil, fmt.Errorf("deployment history: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Deployment, error) { return scanDeployment(r) })
}
