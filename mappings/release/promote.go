package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/txn"
	"github.com/crossdock/crossdock/mappings"
)

// Promotion is what Promote needs.
type Promotion struct {
	Flow        mappings.Flow
	Environment Environment
	Version     int
	// Reason is why, in the promoter's words, for the history.
	Reason string
	// RequestOnly files a promotion request even where the environment
	// would switch at once (unprotected), for a second person to approve.
	RequestOnly bool
	// Now is when the gates run (default: the wall clock).
	Now time.Time
	// Kinds say which targets need configuration, for the gates
	// (required; the transport registry of jobs/transport).
	Kinds TargetKinds
}

// Promote is the one way to change the version a flow runs in an
// environment (besides Decide, which completes a request, and Rollback):
// the Promote… and Deploy forms, the promotion API, `crossdock flow import
// --deploy` and bundle imports with a deployment all call it. It checks
// that the actor may promote there, runs the gates (a failure is a
// GatesFailedError listing each one) and then switches an unprotected
// environment at once, or files a pending request — superseding an older
// pending one for the same flow — that an approver other than the actor
// must approve; a protected environment never switches here. Promoting the
// version that already runs is a Conflict. The deployment or request and
// its audit entry (promotion.deploy, promotion.request) are written in one
// transaction; a refusal is audited as promotion.refuse.
func Promote(ctx context.Context, db DB, a Actor, p Promotion) (PromotionResult, error) {
	var res PromotionResult
	err := txn.Run(ctx, db, func(tx pgx.Tx) error {
		var err error
		res, err = promote(ctx, tx, a, p)
		return err
	})
	if err != nil {
		a.refused(ctx, db, err, "promotion.refuse", "flow", p.Flow.Slug, map[string]any{"environment": p.Environment.Name, "version": p.Version})
	}
	return res, err
}

// refused audits a refusal on db, after the refused work was rolled back.
// Errors that are not a decision (the database, an unknown flow) are not
// refusals.
func (a Actor) refused(ctx context.Context, db DB, err error, action, targetType, targetID string, what map[string]any) {
	code := fault.CodeOf(err)
	var gates *GatesFailedError
	if !errors.As(err, &gates) && code != fault.Forbidden && code != fault.Invalid && code != fault.Conflict {
		return
	}
	fe, _ := fault.As(err)
	why := err.Error()
	if fe != nil {
		why = fe.Message
	}
	what["why"] = why
	_ = account.Audit(ctx, db, a.audit(), action, targetType, targetID, nil, what)
}

// promote is Promote inside the caller's transaction, unaudited when it
// refuses (the caller audits what it refused).
func promote(ctx context.Context, tx txn.DBTX, a Actor, p Promotion) (PromotionResult, error) {
	f, env, number := p.Flow, p.Environment, p.Version
	if err := a.MayPromote(env, f.Slug); err != nil {
		return PromotionResult{}, err
	}
	if number < 1 {
		return PromotionResult{}, &fault.Error{Code: fault.Invalid, Message: fmt.Sprintf("%d is not a version number", number), Fields: map[string]string{"version": "a number such as 2"}}
	}
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	pv, err := PreviewPromotion(ctx, tx, p.Kinds, f, number, env, now)
	if err != nil {
		return PromotionResult{}, err
	}
	before := 0
	if pv.Current != nil {
		before = pv.Current.VersionNumber
	}
	if before == number {
		return PromotionResult{}, fault.Errorf(fault.Conflict, "%s already runs %s v%d; nothing to promote", env.Name, f.Slug, number)
	}
	if !pv.Gates.Passed() {
		return PromotionResult{}, &GatesFailedError{Flow: f.Slug, Version: number, Gates: pv.Gates}
	}
	reason := strings.TrimSpace(p.Reason)
	after := map[string]any{"environment": env.Name, "version": number, "reason": reason, "gates": pv.Gates}
	was := map[string]any{"environment": env.Name, "version": before}
	if !env.Protected && !p.RequestOnly {
		d, err := deploy(ctx, tx, deployment{envID: env.ID, flowID: f.ID, version: number, kind: KindPromote, reason: reason, gates: pv.Gates}, a.editor())
		if err != nil {
			return PromotionResult{}, err
		}
		if err := account.Audit(ctx, tx, a.audit(), "promotion.deploy", "flow", f.Slug, was, after); err != nil {
			return PromotionResult{}, err
		}
		return PromotionResult{Deployment: &d, Gates: pv.Gates}, nil
	}
	if _, err := tx.Exec(ctx, requestsSupersede, f.ID, env.ID, a.email); err != nil {
		return PromotionResult{}, fmt.Errorf("promote: %w", err)
	}
	var from *int
	if pv.Current != nil {
		from = &pv.Current.VersionNumber
	}
	var requester *int64
	if a.userID != 0 {
		requester = &a.userID
	}
	var id int64
	err = tx.QueryRow(ctx, requestInsert,
		f.ID, number, pv.Version.Checksum, env.ID, from, reason, pv.Gates, requester, a.email).Scan(&id)
	if err != nil {
		return PromotionResult{}, fmt.Errorf("promote: %w", err)
	}
	r, err := PromotionRequestGet(ctx, tx, id)
	if err != nil {
		return PromotionResult{}, err
	}
	after["request"] = r.ID
	if err := account.Audit(ctx, tx, a.audit(), "promotion.request", "flow", f.Slug, was, after); err != nil {
		return PromotionResult{}, err
	}
	return PromotionResult{Request: &r, Gates: pv.Gates}, nil
}

// Decide approves or rejects a pending promotion request. Only approvers
// and admins decide, and never their own request (Forbidden); a rejection
// needs a comment. Approving runs the gates again against the
// environment's configuration as it is now and, when they pass, deploys;
// the decision, the deployment and the audit entry (promotion.approve,
// promotion.reject) are written in one transaction, which locks the
// request.
func Decide(ctx context.Context, db DB, kinds TargetKinds, a Actor, id int64, approve bool, comment string, now time.Time) (PromotionRequest, *Deployment, error) {
	var r PromotionRequest
	var d *Deployment
	err := txn.Run(ctx, db, func(tx pgx.Tx) error {
		var err error
		r, d, err = decide(ctx, tx, kinds, a, id, approve, comment, now)
		return err
	})
	return r, d, err
}

func decide(ctx context.Context, tx txn.DBTX, kinds TargetKinds, a Actor, id int64, approve bool, comment string, now time.Time) (PromotionRequest, *Deployment, error) {
	if err := a.MayDecide(); err != nil {
		return PromotionRequest{}, nil, err
	}
	var status string
	err := tx.QueryRow(ctx, requestStatusLock, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return PromotionRequest{}, nil, fault.Errorf(fault.NotFound, "no promotion request %d", id)
	}
	if err != nil {
		return PromotionRequest{}, nil, fmt.Errorf("decide promotion %d: %w", id, err)
	}
	if status != RequestPending {
		return PromotionRequest{}, nil, fault.Errorf(fault.Conflict, "promotion request %d is already %s", id, status)
	}
	r, err := PromotionRequestGet(ctx, tx, id)
	if err != nil {
		return PromotionRequest{}, nil, err
	}
	if a.isRequester(r) {
		return PromotionRequest{}, nil, fault.Errorf(fault.Forbidden, "you requested this promotion; another approver must approve or reject it")
	}
	comment = strings.TrimSpace(comment)
	var deciderID *int64
	if a.userID != 0 {
		deciderID = &a.userID
	}
	was := map[string]any{"request": r.ID, "status": RequestPending}
	if !approve {
		if comment == "" {
			return PromotionRequest{}, nil, &fault.Error{Code: fault.Invalid, Message: "say why the promotion is rejected, so the requester knows what to change", Fields: map[string]string{"comment": "required"}}
		}
		if _, err := tx.Exec(ctx, requestReject,
			id, deciderID, a.email, comment); err != nil {
			return PromotionRequest{}, nil, fmt.Errorf("reject promotion %d: %w", id, err)
		}
		if r, err = PromotionRequestGet(ctx, tx, id); err != nil {
			return PromotionRequest{}, nil, err
		}
		return r, nil, account.Audit(ctx, tx, a.audit(), "promotion.reject", "flow", r.Flow, was,
			map[string]any{"environment": r.Environment, "version": r.VersionNumber, "status": r.Status, "comment": r.DecisionComment, "requestedBy": r.RequestedByEmail})
	}
	env, err := EnvironmentByID(ctx, tx, r.EnvironmentID)
	if err != nil {
		return PromotionRequest{}, nil, err
	}
	v, err := mappings.VersionGet(ctx, tx, r.FlowID, r.VersionNumber)
	if err != nil {
		return PromotionRequest{}, nil, err
	}
	gates, err := FlowGates(ctx, tx, kinds, env, r.FlowID, v.Definition, now)
	if err != nil {
		return PromotionRequest{}, nil, err
	}
	if !gates.Passed() {
		return PromotionRequest{}, nil, &GatesFailedError{Flow: r.Flow, Version: r.VersionNumber, Gates: gates}
	}
	why := r.Reason
	approval := "approved by " + a.email
	if comment != "" {
		approval += ": " + comment
	}
	if why != "" {
		why += " — " + approval
	} else {
		why = approval
	}
	d, err := deploy(ctx, tx, deployment{envID: env.ID, flowID: r.FlowID, version: r.VersionNumber, kind: KindPromote,
		reason: why, gates: gates, requestedBy: r.RequestedByEmail}, a.editor())
	if err != nil {
		return PromotionRequest{}, nil, err
	}
	if _, err := tx.Exec(ctx, requestApprove, id, deciderID, a.email, comment, d.ID); err != nil {
		return PromotionRequest{}, nil, fmt.Errorf("approve promotion %d: %w", id, err)
	}
	if r, err = PromotionRequestGet(ctx, tx, id); err != nil {
		return PromotionRequest{}, nil, err
	}
	return r, &d, account.Audit(ctx, tx, a.audit(), "promotion.approve", "flow", r.Flow, was,
		map[string]any{"environment": r.Environment, "version": r.VersionNumber, "status": r.Status, "comment": r.DecisionComment,
			"requestedBy": r.RequestedByEmail, "deployment": d.ID, "gates": d.Gates})
}

// Rollback switches a flow in an environment back to the version of the
// deployment before the current one (the latest earlier deployment of a
// different version), in one step; messages already accepted keep their
// version. Analysts and manage keys of the environment roll back
// unprotected environments; a protected one only approvers and admins.
// The gates are run and recorded with the deployment but do not stop it:
// the version ran there before, and a rollback is what restores service
// while a gate is being fixed. Conflict when there is nothing to roll back
// to. Audited as deployment.rollback with the deployment.
func Rollback(ctx context.Context, db DB, kinds TargetKinds, a Actor, env Environment, f mappings.Flow, reason string, now time.Time) (Deployment, error) {
	var d Deployment
	err := txn.Run(ctx, db, func(tx pgx.Tx) error {
		var err error
		d, err = rollback(ctx, tx, kinds, a, env, f, reason, now)
		return err
	})
	return d, err
}

func rollback(ctx context.Context, tx txn.DBTX, kinds TargetKinds, a Actor, env Environment, f mappings.Flow, reason string, now time.Time) (Deployment, error) {
	if err := a.MayRollback(env, f.Slug); err != nil {
		return Deployment{}, err
	}
	cur, err := DeploymentCurrent(ctx, tx, env.ID, f.ID)
	if err != nil {
		return Deployment{}, fault.Errorf(fault.Conflict, "%s runs no version of %s; there is nothing to roll back", env.Name, f.Slug)
	}
	var prev int
	err = tx.QueryRow(ctx, previousVersionSelect, env.ID, f.ID, cur.ID, cur.VersionNumber).Scan(&prev)
	if errors.Is(err, pgx.ErrNoRows) {
		return Deployment{}, fault.Errorf(fault.Conflict, "%s v%d is the first version of %s deployed to %s; there is no earlier deployment to roll back to", f.Slug, cur.VersionNumber, f.Slug, env.Name)
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("rollback: %w", err)
	}
	v, err := mappings.VersionGet(ctx, tx, f.ID, prev)
	if err != nil {
		return Deployment{}, err
	}
	if now.IsZero() {
		now = time.Now()
	}
	gates, err := FlowGates(ctx, tx, kinds, env, f.ID, v.Definition, now)
	if err != nil {
		return Deployment{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = fmt.Sprintf("rollback from v%d", cur.VersionNumber)
	}
	d, err := deploy(ctx, tx, deployment{envID: env.ID, flowID: f.ID, version: prev, kind: KindRollback, reason: reason, gates: gates}, a.editor())
	if err != nil {
		return Deployment{}, err
	}
	return d, account.Audit(ctx, tx, a.audit(), "deployment.rollback", "flow", f.Slug,
		map[string]any{"environment": env.Name, "version": cur.VersionNumber},
		map[string]any{"environment": env.Name, "version": d.VersionNumber, "reason": d.Reason, "gates": gates})
}
