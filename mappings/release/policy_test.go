package release_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/engine"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// policyBundle is a database with the storefront flow published as v1 and
// its target and variable configured in dev and prod.
type policyBundle struct {
	db        *pgxpool.Pool
	flow      mappings.Flow
	dev, prod release.Environment
	amy, bob  release.Actor // approvers
}

func setupPolicy(t *testing.T) *policyBundle {
	t.Helper()
	ctx := context.Background()
	b := &policyBundle{db: dbtest.NewPool(t)}
	tpl, ok := mappings.TemplateByID("storefront-order-to-erp")
	require.True(t, ok)
	def, err := engine.ParseDefinition(tpl.Definition)
	require.NoError(t, err)
	ed := mappings.Editor{Email: "ana@shop.example"}
	f, err := mappings.FlowCreate(ctx, b.db, mappings.NewFlow{Name: "orders", Slug: "orders", Definition: def}, ed)
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, f.ID, 1, "v1", ed)
	require.NoError(t, err)
	b.flow, err = mappings.FlowByID(ctx, b.db, f.ID)
	require.NoError(t, err)
	for _, env := range []*release.Environment{&b.dev, &b.prod} {
		name := map[*release.Environment]string{&b.dev: "dev", &b.prod: "prod"}[env]
		*env, err = release.EnvironmentByName(ctx, b.db, name)
		require.NoError(t, err)
		cfg := release.DefaultTargetConfig(env.ID, "erp-sales-orders")
		cfg.URLTemplate = "https://erp." + name + ".example/orders"
		_, err = release.TargetConfigPut(ctx, b.db, nil, cfg, ed)
		require.NoError(t, err)
		require.NoError(t, release.VariableSet(ctx, b.db, env.ID, "ERP_COMPANY", "1000"))
	}
	for _, who := range []*release.Actor{&b.amy, &b.bob} {
		email := map[*release.Actor]string{&b.amy: "amy@shop.example", &b.bob: "bob@shop.example"}[who]
		u, err := account.UserCreate(ctx, b.db, account.NewUser{Email: email, Role: account.RoleApprover, Password: "a long enough password"})
		require.NoError(t, err)
		*who = release.User(u, "")
	}
	return b
}

func (b *policyBundle) running(t *testing.T, env release.Environment) int {
	d, err := release.DeploymentCurrent(context.Background(), b.db, env.ID, b.flow.ID)
	if fault.CodeOf(err) == fault.Conflict {
		return 0
	}
	require.NoError(t, err)
	return d.VersionNumber
}

func (b *policyBundle) audited(t *testing.T, action, actor string) int {
	var n int
	require.NoError(t, b.db.QueryRow(context.Background(), `select count(*) from audit_entries where action = $1 and actor_email = $2`, action, actor).Scan(&n))
	return n
}

// The principals no entry point reaches (the system actor) and the
// scopes a key can be limited by.
func TestPolicyForActorsAndScopes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := func(env string, manage bool, flows ...string) release.Actor {
		return release.Key(account.APIKey{Prefix: "cdk_" + env + "_0000000" + fmt.Sprint(len(flows)), Environment: env, Flows: flows, CanManage: manage}, "")
	}
	cases := []struct {
		name    string
		actor   release.Actor
		env     func(b *policyBundle) release.Environment
		wantErr fault.Code
		want    string // deployed, pending
	}{
		{"system in dev", release.System("demo-seed"), func(b *policyBundle) release.Environment { return b.dev }, "", "deployed"},
		{"system in prod", release.System("demo-seed"), func(b *policyBundle) release.Environment { return b.prod }, fault.Forbidden, ""},
		{"cli in prod", release.CLI(), func(b *policyBundle) release.Environment { return b.prod }, "", "pending"},
		{"manage key of dev", key("dev", true), func(b *policyBundle) release.Environment { return b.dev }, "", "deployed"},
		{"manage key of dev limited to another flow", key("dev", true, "returns"), func(b *policyBundle) release.Environment { return b.dev }, fault.Forbidden, ""},
		{"manage key of dev limited to the flow", key("dev", true, "orders"), func(b *policyBundle) release.Environment { return b.dev }, "", "deployed"},
		{"posting key of dev", key("dev", false), func(b *policyBundle) release.Environment { return b.dev }, fault.Forbidden, ""},
		{"nobody", release.Actor{}, func(b *policyBundle) release.Environment { return b.dev }, fault.Forbidden, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupPolicy(t)
			env := tc.env(b)
			res, err := release.Promote(ctx, b.db, tc.actor, release.Promotion{Flow: b.flow, Environment: env, Version: 1, Kinds: builtinKinds{}})
			if tc.wantErr != "" {
				require.Equal(t, tc.wantErr, fault.CodeOf(err), "%v", err)
				require.Zero(t, b.running(t, env))
				require.Equal(t, 1, b.audited(t, "promotion.refuse", tc.actor.Name()), "the refusal is audited after the rollback")
				return
			}
			require.NoError(t, err)
			if tc.want == "deployed" {
				require.NotNil(t, res.Deployment)
				require.Equal(t, 1, b.running(t, env))
				require.Equal(t, 1, b.audited(t, "promotion.deploy", tc.actor.Name()))
				return
			}
			require.NotNil(t, res.Request)
			require.Zero(t, b.running(t, env))
			require.Equal(t, 1, b.audited(t, "promotion.request", tc.actor.Name()))
		})
	}
}

func TestOnlyPeopleDecideAndRollBackProtectedEnvironments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPolicy(t)
	res, err := release.Promote(ctx, b.db, release.CLI(), release.Promotion{Flow: b.flow, Environment: b.prod, Version: 1, Reason: "from CI", Kinds: builtinKinds{}})
	require.NoError(t, err)
	require.NotNil(t, res.Request)
	id := res.Request.ID

	prodKey := release.Key(account.APIKey{Prefix: "cdk_prod_00000000", Environment: "prod", CanManage: true}, "")
	for name, a := range map[string]release.Actor{"cli": release.CLI(), "key": prodKey, "system": release.System("demo-seed")} {
		_, _, err := release.Decide(ctx, b.db, builtinKinds{}, a, id, true, "", time.Now())
		require.Equal(t, fault.Forbidden, fault.CodeOf(err), name)
	}
	r, d, err := release.Decide(ctx, b.db, builtinKinds{}, b.amy, id, true, "ok", time.Now())
	require.NoError(t, err)
	require.Equal(t, release.RequestApproved, r.Status)
	require.Contains(t, d.Reason, "requested by cli")

	// v2 through a request, then a rollback to v1 only by a person who may.
	d2, err := mappings.DraftGet(ctx, b.db, b.flow.ID)
	require.NoError(t, err)
	d2.Definition.Description = "second"
	_, err = mappings.DraftSave(ctx, b.db, b.flow.ID, d2.Revision, d2.Definition, mappings.Editor{Email: "ana@shop.example"})
	require.NoError(t, err)
	_, err = mappings.Publish(ctx, b.db, b.flow.ID, d2.Revision+1, "v2", mappings.Editor{Email: "ana@shop.example"})
	require.NoError(t, err)
	res, err = release.Promote(ctx, b.db, b.bob, release.Promotion{Flow: b.flow, Environment: b.prod, Version: 2, Kinds: builtinKinds{}})
	require.NoError(t, err)
	_, _, err = release.Decide(ctx, b.db, builtinKinds{}, b.bob, res.Request.ID, true, "", time.Now())
	require.Equal(t, fault.Forbidden, fault.CodeOf(err), "not their own request")
	_, _, err = release.Decide(ctx, b.db, builtinKinds{}, b.amy, res.Request.ID, true, "", time.Now())
	require.NoError(t, err)
	require.Equal(t, 2, b.running(t, b.prod))

	for name, a := range map[string]release.Actor{"cli": release.CLI(), "key": prodKey} {
		_, err := release.Rollback(ctx, b.db, builtinKinds{}, a, b.prod, b.flow, "", time.Now())
		require.Equal(t, fault.Forbidden, fault.CodeOf(err), name)
	}
	require.Equal(t, 2, b.running(t, b.prod))
	rb, err := release.Rollback(ctx, b.db, builtinKinds{}, b.amy, b.prod, b.flow, "", time.Now())
	require.NoError(t, err)
	require.Equal(t, 1, rb.VersionNumber)
	require.True(t, rb.Gates.Checked(), "a rollback records its gates")
	require.Equal(t, 1, b.audited(t, "deployment.rollback", "amy@shop.example"))
}

func TestRequestOnlyAsksForAnApproverInAnUnprotectedEnvironment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupPolicy(t)
	res, err := release.Promote(ctx, b.db, b.amy, release.Promotion{Flow: b.flow, Environment: b.dev, Version: 1, RequestOnly: true, Kinds: builtinKinds{}})
	require.NoError(t, err)
	require.NotNil(t, res.Request)
	require.Zero(t, b.running(t, b.dev))
	_, d, err := release.Decide(ctx, b.db, builtinKinds{}, b.bob, res.Request.ID, true, "", time.Now())
	require.NoError(t, err)
	require.NotNil(t, d)
	require.Equal(t, 1, b.running(t, b.dev))
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
