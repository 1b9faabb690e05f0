package release_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// companyFlow is a small definition that delivers to an http target "erp"
// and reads the variable ERP_COMPANY; its test case expects company
// (default "1000").
func companyFlow(t *testing.T, slug, company string) *engine.Definition {
	t.Helper()
	def, err := engine.ParseDefinition([]byte(`{
		"formatVersion": 1, "name": "` + slug + `",
		"source": {"system": "storefront", "event": "order.created"},
		"targets": [{"name": "erp", "kind": "http"}, {"name": "audit-log", "kind": "capture"}],
		"routes": [
			{"name": "erp", "target": "erp", "mapping": [{"target": "id", "expr": "source.id"}, {"target": "company", "expr": "env(\"ERP_COMPANY\")"}]},
			{"name": "audit", "target": "audit-log", "mapping": [{"target": "id", "expr": "source.id"}]}
		],
		"tests": [{"name": "order 7 books for the company", "input": {"id": 7}, "vars": {"ERP_COMPANY": "1000"},
			"expect": {"routes": {"erp": {"id": 7, "company": "` + company + `"}, "audit": {"id": 7}}}}]
	}`))
	require.NoError(t, err)
	return def
}

type promotionBundle struct {
	*testBundle
	flow              mappings.Flow
	dev, test, prod   release.Environment
	approver, another mappings.Editor
}

func setupPromotion(t *testing.T) *promotionBundle {
	t.Helper()
	b := setup(t)
	ctx := context.Background()
	p := &promotionBundle{testBundle: b}
	var err error
	p.flow, err = mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "orders", Slug: "orders", Definition: companyFlow(t, "orders", "1000")}, b.editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, p.flow.ID, 1, "v1", b.editor)
	require.NoError(t, err)
	p.flow, err = mappings.FlowByID(ctx, b.db, p.flow.ID)
	require.NoError(t, err)
	for name, env := range map[string]*release.Environment{"dev": &p.dev, "test": &p.test, "prod": &p.prod} {
		*env, err = release.EnvironmentByName(ctx, b.db, name)
		require.NoError(t, err)
	}
	for _, who := range []*mappings.Editor{&p.approver, &p.another} {
		email := map[*mappings.Editor]string{&p.approver: "amy@shop.example", &p.another: "bob@shop.example"}[who]
		u, err := account.UserCreate(ctx, b.db, account.NewUser{Email: email, Role: account.RoleApprover, Password: "a long enough password"})
		require.NoError(t, err)
		*who = mappings.Editor{UserID: u.ID, Email: u.Email}
	}
	return p
}

// as is ed acting as a user: the approvers amy and bob, or the analyst
// ana.
func (p *promotionBundle) as(ed mappings.Editor) release.Actor {
	role := account.RoleAnalyst
	if ed == p.approver || ed == p.another {
		role = account.RoleApprover
	}
	return release.User(account.User{ID: ed.UserID, Email: ed.Email, Role: role}, "")
}

// configure gives env the erp target and the ERP_COMPANY variable.
func (p *promotionBundle) configure(t *testing.T, env release.Environment) {
	t.Helper()
	ctx := context.Background()
	cfg := release.DefaultTargetConfig(env.ID, "erp")
	cfg.URLTemplate = "https://erp." + env.Name + ".example/orders"
	_, err := release.TargetConfigPut(ctx, p.db, nil, cfg, p.editor)
	require.NoError(t, err)
	require.NoError(t, release.VariableSet(ctx, p.db, env.ID, "ERP_COMPANY", "2000"))
}

func TestPromotionRefusesATargetNotConfiguredInTheNextEnvironment(t *testing.T) {
	t.Parallel()
	p := setupPromotion(t)
	ctx := context.Background()
	now := time.Now()

	pv, err := release.PreviewPromotion(ctx, p.db, builtinKinds{}, p.flow, 1, p.test, now)
	require.NoError(t, err)
	require.Nil(t, pv.Current, "nothing runs in test yet")
	require.False(t, pv.Diff.Empty(), "everything is new to test")
	require.False(t, pv.Gates.Passed())
	require.Equal(t, []string{
		"target “erp” is not configured in test",
		"variable “ERP_COMPANY” is not set in test",
	}, pv.Gates.Failures(), "the capture target needs no configuration; the test case passes")
	require.Equal(t, 1, pv.Gates.TestsPassed())

	_, err = release.Promote(ctx, p.db, p.as(p.editor), release.Promotion{Flow: p.flow, Environment: p.test, Version: 1, Reason: "try", Now: now, Kinds: builtinKinds{}})
	var refused *release.GatesFailedError
	require.ErrorAs(t, err, &refused)
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	require.Contains(t, err.Error(), "target “erp” is not configured in test")
	_, err = release.DeploymentCurrent(ctx, p.db, p.test.ID, p.flow.ID)
	require.Equal(t, fault.Conflict, fault.CodeOf(err), "nothing was deployed")

	p.configure(t, p.test)
	res, err := release.Promote(ctx, p.db, p.as(p.editor), release.Promotion{Flow: p.flow, Environment: p.test, Version: 1, Reason: "first release to test", Now: now, Kinds: builtinKinds{}})
	require.NoError(t, err)
	require.NotNil(t, res.Deployment, "an unprotected environment deploys at once")
	require.Nil(t, res.Request)
	hist, err := release.DeploymentHistory(ctx, p.db, p.test.ID, p.flow.ID)
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.Equal(t, release.KindPromote, hist[0].Kind)
	require.Equal(t, "first release to test", hist[0].Reason)
	require.True(t, hist[0].Gates.Checked())
	require.True(t, hist[0].Gates.Passed())
	require.Equal(t, "ana@shop.example", hist[0].DeployedByEmail)

	_, err = release.Promote(ctx, p.db, p.as(p.editor), release.Promotion{Flow: p.flow, Environment: p.test, Version: 1, Reason: "again", Now: now, Kinds: builtinKinds{}})
	require.Equal(t, fault.Conflict, fault.CodeOf(err), "test already runs v1")
}

func TestPromotionRefusesAFailingTestCaseByName(t *testing.T) {
	t.Parallel()
	p := setupPromotion(t)
	ctx := context.Background()
	p.configure(t, p.test)
	// A version whose test case fails here arrives from another
	// installation (publishing refuses one).
	broken := companyFlow(t, "orders", "9999")
	sum, err := broken.Checksum()
	require.NoError(t, err)
	canonical, err := broken.Canonical()
	require.NoError(t, err)
	bundle := &release.Bundle{Format: release.BundleFormat, Flows: []release.BundleFlow{{Slug: "orders", Name: "orders",
		Versions: []release.BundleVersion{{Number: 2, Checksum: sum, Definition: canonical}}}}}
	_, err = release.ImportBundle(ctx, p.db, p.as(p.editor), bundle, release.Import{})
	require.NoError(t, err)

	_, err = release.Promote(ctx, p.db, p.as(p.editor), release.Promotion{Flow: p.flow, Environment: p.test, Version: 2, Reason: "", Now: time.Now(), Kinds: builtinKinds{}})
	var refused *release.GatesFailedError
	require.ErrorAs(t, err, &refused)
	require.Contains(t, err.Error(), "test case “order 7 books for the company” failed")
	require.Contains(t, err.Error(), "company")
}

func TestProtectedPromotionWaitsForAnotherApprover(t *testing.T) {
	t.Parallel()
	p := setupPromotion(t)
	ctx := context.Background()
	now := time.Now()
	p.configure(t, p.prod)

	def, err := release.DefaultPromotionVersion(ctx, p.db, p.flow, p.prod)
	require.NoError(t, err)
	require.Equal(t, 1, def, "test runs nothing: the latest version")

	res, err := release.Promote(ctx, p.db, p.as(p.approver), release.Promotion{Flow: p.flow, Environment: p.prod, Version: 1, Reason: "release 1", Now: now, Kinds: builtinKinds{}})
	require.NoError(t, err)
	require.Nil(t, res.Deployment, "a protected environment does not change yet")
	require.NotNil(t, res.Request)
	require.Equal(t, release.RequestPending, res.Request.Status)
	_, err = release.DeploymentCurrent(ctx, p.db, p.prod.ID, p.flow.ID)
	require.Equal(t, fault.Conflict, fault.CodeOf(err))

	_, _, err = release.Decide(ctx, p.db, builtinKinds{}, p.as(p.approver), res.Request.ID, true, "", now)
	require.Equal(t, fault.Forbidden, fault.CodeOf(err), "the requester cannot approve")
	require.Contains(t, err.Error(), "another approver")
	_, _, err = release.Decide(ctx, p.db, builtinKinds{}, p.as(p.another), res.Request.ID, false, " ", now)
	require.Equal(t, fault.Invalid, fault.CodeOf(err), "a rejection needs a comment")

	r, d, err := release.Decide(ctx, p.db, builtinKinds{}, p.as(p.another), res.Request.ID, true, "checked with finance", now)
	require.NoError(t, err)
	require.Equal(t, release.RequestApproved, r.Status)
	require.Equal(t, "bob@shop.example", r.DecidedByEmail)
	require.NotNil(t, d)
	cur, err := release.DeploymentCurrent(ctx, p.db, p.prod.ID, p.flow.ID)
	require.NoError(t, err)
	require.Equal(t, 1, cur.VersionNumber)
	require.Equal(t, "bob@shop.example", cur.DeployedByEmail)
	require.Contains(t, cur.Reason, "release 1")
	require.Contains(t, cur.Reason, "approved by bob@shop.example: checked with finance")
	require.Contains(t, cur.Reason, "requested by amy@shop.example")

	_, _, err = release.Decide(ctx, p.db, builtinKinds{}, p.as(p.another), res.Request.ID, false, "too late", now)
	require.Equal(t, fault.Conflict, fault.CodeOf(err), "decided once")
}

func TestRejectedPromotionChangesNothingAndANewRequestSupersedes(t *testing.T) {
	t.Parallel()
	p := setupPromotion(t)
	ctx := context.Background()
	now := time.Now()
	p.configure(t, p.prod)
	first, err := release.Promote(ctx, p.db, p.as(p.editor), release.Promotion{Flow: p.flow, Environment: p.prod, Version: 1, Reason: "", Now: now, Kinds: builtinKinds{}})
	require.NoError(t, err)
	second, err := release.Promote(ctx, p.db, p.as(p.editor), release.Promotion{Flow: p.flow, Environment: p.prod, Version: 1, Reason: "again", Now: now, Kinds: builtinKinds{}})
	require.NoError(t, err)
	old, err := release.PromotionRequestGet(ctx, p.db, first.Request.ID)
	require.NoError(t, err)
	require.Equal(t, release.RequestSuperseded, old.Status)

	r, d, err := release.Decide(ctx, p.db, builtinKinds{}, p.as(p.approver), second.Request.ID, false, "not during the sale", now)
	require.NoError(t, err)
	require.Nil(t, d)
	require.Equal(t, release.RequestRejected, r.Status)
	require.Equal(t, "not during the sale", r.DecisionComment)
	_, err = release.DeploymentCurrent(ctx, p.db, p.prod.ID, p.flow.ID)
	require.Equal(t, fault.Conflict, fault.CodeOf(err))
}

func TestApprovalRunsTheGatesAgain(t *testing.T) {
	t.Parallel()
	p := setupPromotion(t)
	ctx := context.Background()
	p.configure(t, p.prod)
	res, err := release.Promote(ctx, p.db, p.as(p.editor), release.Promotion{Flow: p.flow, Environment: p.prod, Version: 1, Reason: "", Now: time.Now(), Kinds: builtinKinds{}})
	require.NoError(t, err)
	require.NoError(t, release.VariableDelete(ctx, p.db, p.prod.ID, "ERP_COMPANY"))
	_, _, err = release.Decide(ctx, p.db, builtinKinds{}, p.as(p.approver), res.Request.ID, true, "", time.Now())
	require.ErrorContains(t, err, "variable “ERP_COMPANY” is not set in prod")
	r, err := release.PromotionRequestGet(ctx, p.db, res.Request.ID)
	require.NoError(t, err)
	require.Equal(t, release.RequestPending, r.Status, "still waiting")
}

func TestRollbackRestoresThePreviousVersion(t *testing.T) {
	t.Parallel()
	p := setupPromotion(t)
	ctx := context.Background()
	_, err := release.Rollback(ctx, p.db, builtinKinds{}, p.as(p.editor), p.dev, p.flow, "", time.Now())
	require.Equal(t, fault.Conflict, fault.CodeOf(err), "nothing deployed")

	dbtest.Deploy(t, p.db, p.dev.ID, p.flow.ID, 1)
	_, err = release.Rollback(ctx, p.db, builtinKinds{}, p.as(p.editor), p.dev, p.flow, "", time.Now())
	require.Equal(t, fault.Conflict, fault.CodeOf(err), "no earlier deployment")

	d, err := mappings.DraftGet(ctx, p.db, p.flow.ID)
	require.NoError(t, err)
	_, err = mappings.DraftSave(ctx, p.db, p.flow.ID, d.Revision, companyFlowWithNote(t), p.editor)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, p.db, p.flow.ID, d.Revision+1, "v2", p.editor)
	require.NoError(t, err)
	dbtest.Deploy(t, p.db, p.dev.ID, p.flow.ID, 2)

	rb, err := release.Rollback(ctx, p.db, builtinKinds{}, p.as(p.editor), p.dev, p.flow, "", time.Now())
	require.NoError(t, err)
	require.Equal(t, 1, rb.VersionNumber)
	require.Equal(t, release.KindRollback, rb.Kind)
	require.Equal(t, "rollback from v2", rb.Reason)
	cur, err := release.DeploymentCurrent(ctx, p.db, p.dev.ID, p.flow.ID)
	require.NoError(t, err)
	require.Equal(t, 1, cur.VersionNumber, "new messages use v1")
}

func companyFlowWithNote(t *testing.T) *engine.Definition {
	def := companyFlow(t, "orders", "1000")
	def.Description = "second version"
	return def
}

func TestEnvironmentMatrixMarksDrift(t *testing.T) {
	t.Parallel()
	p := setupPromotion(t)
	ctx := context.Background()
	dbtest.Deploy(t, p.db, p.dev.ID, p.flow.ID, 1)
	envs, rows, err := release.EnvironmentMatrix(ctx, p.db)
	require.NoError(t, err)
	require.Len(t, envs, 3)
	require.Len(t, rows, 1)
	cells := rows[0].Cells
	require.Equal(t, 1, cells[0].Deployment.VersionNumber)
	require.False(t, cells[0].Drift)
	t.Run("an environment running nothing has no drift, but knows what is ready", func(t *testing.T) {
		require.Nil(t, cells[1].Deployment)
		require.False(t, cells[1].Drift, "nothing is deployed to test: nothing has drifted")
		require.Equal(t, 1, cells[1].Ahead, "dev runs v1, ready for test")
		require.False(t, cells[2].Drift)
		require.Equal(t, 1, cells[2].Ahead)
	})
	t.Run("an environment running an older version has drifted", func(t *testing.T) {
		d, err := mappings.DraftGet(ctx, p.db, p.flow.ID)
		require.NoError(t, err)
		_, err = mappings.DraftSave(ctx, p.db, p.flow.ID, d.Revision, companyFlowWithNote(t), p.editor)
		require.NoError(t, err)
		_, err = mappings.Publish(ctx, p.db, p.flow.ID, d.Revision+1, "v2", p.editor)
		require.NoError(t, err)
		dbtest.Deploy(t, p.db, p.test.ID, p.flow.ID, 1)
		dbtest.Deploy(t, p.db, p.dev.ID, p.flow.ID, 2)
		_, rows, err := release.EnvironmentMatrix(ctx, p.db)
		require.NoError(t, err)
		cells := rows[0].Cells
		require.False(t, cells[0].Drift)
		require.True(t, cells[1].Drift, "dev runs v2, test still v1")
		require.Equal(t, 2, cells[1].Ahead)
		require.False(t, cells[2].Drift, "prod runs nothing")
		require.Equal(t, 2, cells[2].Ahead)
	})
}

func TestEnvironmentAdministration(t *testing.T) {
	t.Parallel()
	p := setupPromotion(t)
	ctx := context.Background()
	staging, err := release.EnvironmentCreate(ctx, p.db, "staging", true)
	require.NoError(t, err)
	require.Equal(t, 4, staging.Position)
	_, err = release.EnvironmentCreate(ctx, p.db, "staging", false)
	require.Equal(t, fault.Conflict, fault.CodeOf(err))
	_, err = release.EnvironmentCreate(ctx, p.db, "Bad Name", false)
	require.Equal(t, fault.Invalid, fault.CodeOf(err))

	_, err = release.EnvironmentUpdate(ctx, p.db, staging.ID, false, 3)
	require.NoError(t, err)
	envs, err := release.EnvironmentList(ctx, p.db)
	require.NoError(t, err)
	var names []string
	for _, e := range envs {
		names = append(names, e.Name)
	}
	require.Equal(t, []string{"dev", "test", "staging", "prod"}, names)
	require.False(t, envs[2].Protected)
	_, err = release.EnvironmentUpdate(ctx, p.db, staging.ID, false, 9)
	require.Equal(t, fault.Invalid, fault.CodeOf(err))

	prev, ok, err := release.PreviousEnvironment(ctx, p.db, envs[3])
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "staging", prev.Name)
	gates, err := json.Marshal(release.Gates{})
	require.NoError(t, err)
	require.JSONEq(t, `{}`, string(gates))
}
