package release

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// DB is a pool or a transaction. Operations run their work in a
// transaction of their own (a savepoint inside a caller's transaction) so
// that a refusal can be rolled back and still be audited on db.
type DB interface {
	txn.DBTX
	Begin(ctx context.Context) (pgx.Tx, error)
}

// deployment is what deploy writes. requestedBy names who asked for a
// deployment an approver made, for the history.
type deployment struct {
	envID, flowID int64
	version       int
	kind          string
	reason        string
	gates         Gates
	requestedBy   string
}

// deploy makes a version the one that runs in an environment, with no
// policy of its own: every caller in this package has checked the actor,
// the protection and the gates. The switch is one statement: the history
// row is inserted and the current pointer moved together, so a message
// arriving at the same moment runs on exactly one of them. The version
// must exist (NotFound otherwise); of two deploys racing for the same flow
// and environment the one that commits last wins (its row is the Active
// one), and both stay in the history.
func deploy(ctx context.Context, db txn.DBTX, r deployment, ed mappings.Editor) (Deployment, error) {
	if r.kind == "" {
		r.kind = KindDeploy
	}
	var checksum string
	err := db.QueryRow(ctx, versionChecksumSelect, r.flowID, r.version).Scan(&checksum)
	if errors.Is(err, pgx.ErrNoRows) {
		return Deployment{}, fault.Errorf(fault.NotFound, "this flow has no version %d; publish the draft first", r.version)
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("deploy: %w", err)
	}
	d := Deployment{EnvironmentID: r.envID, FlowID: r.flowID, VersionNumber: r.version, Checksum: checksum, DeployedByEmail: ed.Email,
		Active: true, Kind: r.kind, Reason: r.reason, Gates: r.gates}
	if r.requestedBy != "" && r.requestedBy != ed.Email {
		d.Reason = strings.TrimSpace(d.Reason + " (requested by " + r.requestedBy + ")")
	}
	err = db.QueryRow(ctx, deploymentInsert,
		r.envID, r.flowID, r.version, checksum, ed.Email, d.Kind, d.Reason, d.Gates).Scan(&d.ID, &d.DeployedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.ForeignKeyViolation {
		return Deployment{}, fault.Errorf(fault.NotFound, "no environment with id %d", r.envID)
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("deploy: %w", err)
	}
	return d, nil
}
