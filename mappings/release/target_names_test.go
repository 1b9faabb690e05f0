package release_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

// namesBundle has two flows whose definitions both deliver to
// "erp-sales-orders", and dev configured with two ERPs, erp-eu and
// erp-us, but none of that name.
type namesBundle struct {
	*testBundle
	eu, us mappings.Flow
	dev    release.Environment
}

func setupNames(t *testing.T) *namesBundle {
	t.Helper()
	ctx := context.Background()
	b := &namesBundle{testBundle: setup(t)}
	b.eu, b.us = publishedFlow(t, b.testBundle, "orders-eu"), publishedFlow(t, b.testBundle, "orders-us")
	var err error
	b.dev, err = release.EnvironmentByName(ctx, b.db, "dev")
	require.NoError(t, err)
	for _, name := range []string{"erp-eu", "erp-us"} {
		cfg := release.DefaultTargetConfig(b.dev.ID, name)
		cfg.URLTemplate = "https://" + name + ".example/orders"
		_, err := release.TargetConfigPut(ctx, b.db, nil, cfg, b.editor)
		require.NoError(t, err)
	}
	require.NoError(t, release.VariableSet(ctx, b.db, b.dev.ID, "ERP_COMPANY", "1000"))
	return b
}

func TestFlowTargetNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("two flows naming the same target reach different environment targets", func(t *testing.T) {
		t.Parallel()
		b := setupNames(t)
		require.NoError(t, release.SetFlowTargetNames(ctx, b.db, release.CLI(), b.dev, b.eu, map[string]string{"erp-sales-orders": "erp-eu"}))
		require.NoError(t, release.SetFlowTargetNames(ctx, b.db, release.CLI(), b.dev, b.us, map[string]string{"erp-sales-orders": "erp-us"}))
		eu, err := release.FlowTargetConfigGet(ctx, b.db, nil, b.dev.ID, b.eu.ID, "erp-sales-orders")
		require.NoError(t, err)
		us, err := release.FlowTargetConfigGet(ctx, b.db, nil, b.dev.ID, b.us.ID, "erp-sales-orders")
		require.NoError(t, err)
		require.Equal(t, "erp-eu", eu.Target)
		require.Equal(t, "https://erp-eu.example/orders", eu.URLTemplate)
		require.Equal(t, "erp-us", us.Target)
		require.Equal(t, "https://erp-us.example/orders", us.URLTemplate)

		uses, err := release.TargetUses(ctx, b.db, b.dev.ID, "erp-eu")
		require.NoError(t, err)
		require.Len(t, uses, 1, "the target page lists the flows that reach it by a local name")
		require.Equal(t, release.TargetUse{Flow: "orders-eu", Kind: "http", Latest: 1, InDraft: true, As: "erp-sales-orders"}, uses[0])
		uses, err = release.TargetUses(ctx, b.db, b.dev.ID, "erp-sales-orders")
		require.NoError(t, err)
		require.Empty(t, uses, "neither flow reaches the environment's erp-sales-orders")

		names, err := release.EnvironmentTargetNames(ctx, b.db, b.dev.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]map[string]string{"orders-eu": {"erp-sales-orders": "erp-eu"}, "orders-us": {"erp-sales-orders": "erp-us"}}, names)
		var audited int
		require.NoError(t, b.db.QueryRow(ctx, `select count(*) from audit_entries where action = 'target.names' and target_id = 'dev/orders-eu'`).Scan(&audited))
		require.Equal(t, 1, audited)
	})

	t.Run("without a local name the environment's own target is used", func(t *testing.T) {
		t.Parallel()
		b := setupNames(t)
		_, err := release.FlowTargetConfigGet(ctx, b.db, nil, b.dev.ID, b.eu.ID, "erp-sales-orders")
		require.Equal(t, fault.NotFound, fault.CodeOf(err))
		require.NoError(t, release.SetFlowTargetNames(ctx, b.db, release.CLI(), b.dev, b.eu, map[string]string{"erp-sales-orders": "erp-gone"}))
		_, err = release.FlowTargetConfigGet(ctx, b.db, nil, b.dev.ID, b.eu.ID, "erp-sales-orders")
		require.ErrorContains(t, err, "target “erp-sales-orders” (the environment's “erp-gone” for this flow) is not configured")
		require.NoError(t, release.SetFlowTargetNames(ctx, b.db, release.CLI(), b.dev, b.eu, nil))
		names, err := release.FlowTargetNames(ctx, b.db, b.dev.ID, b.eu.ID)
		require.NoError(t, err)
		require.Empty(t, names, "an empty map removes the names")
	})

	t.Run("the gates check the target a local name reaches", func(t *testing.T) {
		t.Parallel()
		b := setupNames(t)
		promote := func() error {
			_, err := release.Promote(ctx, b.db, release.CLI(), release.Promotion{Flow: b.eu, Environment: b.dev, Version: 1, Kinds: builtinKinds{}, Now: time.Now()})
			return err
		}
		require.ErrorContains(t, promote(), "target “erp-sales-orders” is not configured in dev")
		require.NoError(t, release.SetFlowTargetNames(ctx, b.db, release.CLI(), b.dev, b.eu, map[string]string{"erp-sales-orders": "erp-nowhere"}))
		require.ErrorContains(t, promote(), "target “erp-sales-orders” (the environment's “erp-nowhere”) is not configured in dev")
		require.NoError(t, release.SetFlowTargetNames(ctx, b.db, release.CLI(), b.dev, b.eu, map[string]string{"erp-sales-orders": "erp-eu"}))
		require.NoError(t, promote())

		// erp-eu is now in use by a running version; erp-us is not.
		err := release.RemoveTarget(ctx, b.db, builtinKinds{}, release.CLI(), b.dev, "erp-eu")
		require.Equal(t, fault.Conflict, fault.CodeOf(err))
		require.ErrorContains(t, err, "orders-eu v1")
		require.NoError(t, release.RemoveTarget(ctx, b.db, builtinKinds{}, release.CLI(), b.dev, "erp-us"))
	})

	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		b := setupNames(t)
		u, err := account.UserCreate(ctx, b.db, account.NewUser{Email: "amy@shop.example", Role: account.RoleApprover, Password: "a long enough password"})
		require.NoError(t, err)
		err = release.SetFlowTargetNames(ctx, b.db, release.User(u, ""), b.dev, b.eu, map[string]string{"erp-sales-orders": "erp-eu"})
		require.Equal(t, fault.Forbidden, fault.CodeOf(err), "like the targets, local names are the admin's")
		err = release.SetFlowTargetNames(ctx, b.db, release.CLI(), b.dev, b.eu, map[string]string{"erp-sales-orders": "erp-sales-orders", " erp": "erp-eu"})
		fe, ok := fault.As(err)
		require.True(t, ok)
		require.Equal(t, fault.Invalid, fe.Code)
		require.Contains(t, fe.Fields, "erp-sales-orders")
		require.Contains(t, fe.Fields, " erp")
		names, err := release.FlowTargetNames(ctx, b.db, b.dev.ID, b.eu.ID)
		require.NoError(t, err)
		require.Empty(t, names, "nothing was saved")
	})
}
