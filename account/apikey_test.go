package account_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
)

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	db := dbtest.NewPool(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	actor := account.Actor{Email: "root@shop.example"}

	k, token, err := account.APIKeyCreate(ctx, db, account.NewAPIKey{Name: "storefront", Environment: "dev", Flows: []string{"shop-orders"}}, actor)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(token, k.Prefix+"_"))
	require.True(t, strings.HasPrefix(k.Prefix, "cdk_dev_"))
	require.Equal(t, account.DefaultRatePerMinute, k.RatePerMinute)

	got, err := account.APIKeyAuthenticate(ctx, db, token, now)
	require.NoError(t, err)
	require.Equal(t, k.ID, got.ID)
	require.NotNil(t, got.LastUsedAt)

	for _, bad := range []string{"", "nonsense", k.Prefix + "_" + strings.Repeat("A", 43), token + "x"} {
		_, err := account.APIKeyAuthenticate(ctx, db, bad, now)
		require.Equal(t, fault.Unauthorized, fault.CodeOf(err), bad)
	}

	require.NoError(t, got.Allows("dev", "shop-orders"))
	err = got.Allows("prod", "shop-orders")
	require.Equal(t, fault.Forbidden, fault.CodeOf(err))
	require.Contains(t, err.Error(), "scoped to environment dev")
	require.Equal(t, fault.Forbidden, fault.CodeOf(got.Allows("dev", "returns")))

	_, _, err = account.APIKeyCreate(ctx, db, account.NewAPIKey{Name: "x", Environment: "staging"}, actor)
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	require.Contains(t, err.Error(), "no environment “staging”")
	_, _, err = account.APIKeyCreate(ctx, db, account.NewAPIKey{Name: " ", Environment: "dev"}, actor)
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	_, _, err = account.APIKeyCreate(ctx, db, account.NewAPIKey{Name: "x", Environment: "dev", RatePerMinute: -1}, actor)
	require.Equal(t, fault.Invalid, fault.CodeOf(err))

	require.NoError(t, account.APIKeyRevoke(ctx, db, k.Prefix, actor))
	require.NoError(t, account.APIKeyRevoke(ctx, db, k.Prefix, actor), "revoking twice is harmless")
	_, err = account.APIKeyAuthenticate(ctx, db, token, now)
	require.Equal(t, fault.Unauthorized, fault.CodeOf(err), "a revoked key gets 401")
	require.Equal(t, fault.NotFound, fault.CodeOf(account.APIKeyRevoke(ctx, db, "cdk_dev_00000000", actor)))

	list, err := account.APIKeyList(ctx, db)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.NotNil(t, list[0].RevokedAt)

	entries, err := account.AuditList(ctx, db, account.AuditFilter{Action: "apikey."})
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	secret := token[len(k.Prefix)+1:]
	for _, e := range entries {
		require.NotContains(t, string(e.After), secret, "the secret never reaches the audit log")
	}
}

func TestKeyLimiter(t *testing.T) {
	t.Parallel()
	l := account.NewKeyLimiter()
	k := account.APIKey{ID: 1, RatePerMinute: 60} // one a second, burst 10
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for i := range 10 {
		ok, _ := l.Allow(k, now)
		require.True(t, ok, "request %d is within the burst", i)
	}
	ok, wait := l.Allow(k, now)
	require.False(t, ok)
	require.InDelta(t, time.Second, wait, float64(50*time.Millisecond))
	ok, _ = l.Allow(k, now.Add(time.Second))
	require.True(t, ok, "a second later one more is allowed")
	other := account.APIKey{ID: 2, RatePerMinute: 60}
	ok, _ = l.Allow(other, now)
	require.True(t, ok, "keys have their own buckets")
}
