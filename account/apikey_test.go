package account_test

import (
	"context"
	"encoding/json"
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

func TestAPIKeyValidation(t *testing.T) {
	t.Parallel()
	db := dbtest.NewPool(t)
	ctx := context.Background()
	actor := account.Actor{Email: "root@shop.example"}
	cases := []struct {
		name string
		nk   account.NewAPIKey
		want string
	}{
		{"no name", account.NewAPIKey{Environment: "dev"}, "give the key a name"},
		{"long name", account.NewAPIKey{Name: strings.Repeat("n", 101), Environment: "dev"}, "give the key a name"},
		{"rate too low", account.NewAPIKey{Name: "x", Environment: "dev", RatePerMinute: -1}, "between 1 and 100000"},
		{"rate too high", account.NewAPIKey{Name: "x", Environment: "dev", RatePerMinute: 100001}, "between 1 and 100000"},
		{"flow with capitals", account.NewAPIKey{Name: "x", Environment: "dev", Flows: []string{"Shop-Orders"}}, "“Shop-Orders” is not a flow slug"},
		{"flow ending in a dash", account.NewAPIKey{Name: "x", Environment: "dev", Flows: []string{"shop-"}}, "not a flow slug"},
		{"empty flow", account.NewAPIKey{Name: "x", Environment: "dev", Flows: []string{""}}, "not a flow slug"},
		{"unknown environment", account.NewAPIKey{Name: "x", Environment: "staging"}, "no environment “staging”"},
	}
	for _, c := range cases {
		_, token, err := account.APIKeyCreate(ctx, db, c.nk, actor)
		require.Equal(t, fault.Invalid, fault.CodeOf(err), c.name)
		require.ErrorContains(t, err, c.want, c.name)
		require.Empty(t, token, c.name)
	}
	list, err := account.APIKeyList(ctx, db)
	require.NoError(t, err)
	require.Empty(t, list, "no invalid key was stored")

	k, _, err := account.APIKeyCreate(ctx, db, account.NewAPIKey{Name: "edge", Environment: "prod", RatePerMinute: 100000, Flows: []string{"a", "shop-orders-2"}}, actor)
	require.NoError(t, err, "the bounds themselves are allowed")
	require.Equal(t, 100000, k.RatePerMinute)
	require.Equal(t, []string{"a", "shop-orders-2"}, k.Flows)
	require.True(t, strings.HasPrefix(k.Prefix, "cdk_prod_"))
}

func TestAPIKeyLastUsedIsWrittenAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	db := dbtest.NewPool(t)
	ctx := context.Background()
	k, token, err := account.APIKeyCreate(ctx, db, account.NewAPIKey{Name: "storefront", Environment: "dev"}, account.SystemActor)
	require.NoError(t, err)
	require.Nil(t, k.LastUsedAt, "a new key has never been used")

	stored := func() time.Time {
		t.Helper()
		var at time.Time
		require.NoError(t, db.QueryRow(ctx, `select last_used_at from api_keys where id = $1`, k.ID).Scan(&at))
		return at.UTC()
	}
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	_, err = account.APIKeyAuthenticate(ctx, db, token, t0)
	require.NoError(t, err)
	require.Equal(t, t0, stored())

	got, err := account.APIKeyAuthenticate(ctx, db, token, t0.Add(59*time.Second))
	require.NoError(t, err)
	require.Equal(t, t0, stored(), "within the minute nothing is written")
	require.Equal(t, t0, got.LastUsedAt.UTC())

	t1 := t0.Add(time.Minute)
	got, err = account.APIKeyAuthenticate(ctx, db, token, t1)
	require.NoError(t, err)
	require.Equal(t, t1, stored(), "a minute later the time moves on")
	require.Equal(t, t1, got.LastUsedAt.UTC())

	// A time written by another process counts: this one does not write
	// again within that minute.
	_, err = db.Exec(ctx, `update api_keys set last_used_at = $2 where id = $1`, k.ID, t1.Add(30*time.Second))
	require.NoError(t, err)
	_, err = account.APIKeyAuthenticate(ctx, db, token, t1.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, t1.Add(30*time.Second), stored())
}

func TestAPIKeySecretNeverLeaks(t *testing.T) {
	t.Parallel()
	db := dbtest.NewPool(t)
	ctx := context.Background()
	actor := account.Actor{Email: "root@shop.example"}
	k, token, err := account.APIKeyCreate(ctx, db, account.NewAPIKey{Name: "storefront", Environment: "dev", Flows: []string{"shop-orders"}}, actor)
	require.NoError(t, err)
	secret := strings.TrimPrefix(token, k.Prefix+"_")
	require.Len(t, secret, 43, "32 random bytes, base64url without padding")

	var hash []byte
	require.NoError(t, db.QueryRow(ctx, `select secret_hash from api_keys where id = $1`, k.ID).Scan(&hash))
	require.Len(t, hash, 32)
	var rowText string
	require.NoError(t, db.QueryRow(ctx, `select row_to_json(api_keys)::text from api_keys where id = $1`, k.ID).Scan(&rowText))
	require.NotContains(t, rowText, secret, "only a hash is stored")

	// A wrong secret for a real prefix, and a token with a typo: the errors
	// must not echo what was sent.
	wrong := k.Prefix + "_" + strings.Repeat("B", 43)
	for _, bad := range []string{wrong, token[:len(token)-1], "Bearer " + token} {
		_, err := account.APIKeyAuthenticate(ctx, db, bad, time.Now())
		require.Equal(t, fault.Unauthorized, fault.CodeOf(err))
		require.NotContains(t, err.Error(), secret)
		require.NotContains(t, err.Error(), secret[:20])
	}
	err = k.Allows("prod", "shop-orders")
	require.NotContains(t, err.Error(), secret)
	require.Contains(t, err.Error(), "it cannot post to prod")
	err = k.Allows("dev", "returns")
	require.Contains(t, err.Error(), "may post only to shop-orders; not to returns")

	require.NoError(t, account.APIKeyRevoke(ctx, db, k.Prefix, actor))
	entries, err := account.AuditList(ctx, db, account.AuditFilter{Target: k.Prefix})
	require.NoError(t, err)
	require.Len(t, entries, 2, "create and revoke")
	for _, e := range entries {
		require.NotContains(t, string(e.Before)+string(e.After), secret)
		require.NotContains(t, string(e.Before)+string(e.After), "secret")
	}
}

func TestAPIKeyRevokeIsAuditedOnce(t *testing.T) {
	t.Parallel()
	db := dbtest.NewPool(t)
	ctx := context.Background()
	k, token, err := account.APIKeyCreate(ctx, db, account.NewAPIKey{Name: "storefront", Environment: "dev"}, account.SystemActor)
	require.NoError(t, err)
	first := account.Actor{Email: "ann@shop.example"}
	require.NoError(t, account.APIKeyRevoke(ctx, db, k.Prefix, first))
	require.NoError(t, account.APIKeyRevoke(ctx, db, k.Prefix, account.Actor{Email: "bob@shop.example"}))

	var revokedBy string
	require.NoError(t, db.QueryRow(ctx, `select revoked_by from api_keys where id = $1`, k.ID).Scan(&revokedBy))
	require.Equal(t, first.Email, revokedBy, "the first revocation is kept")

	entries, err := account.AuditList(ctx, db, account.AuditFilter{Action: "apikey.revoke"})
	require.NoError(t, err)
	require.Len(t, entries, 1, "the second revoke changed nothing and records nothing")
	require.Equal(t, first.Email, entries[0].ActorEmail)
	var before, after account.APIKey
	require.NoError(t, json.Unmarshal(entries[0].Before, &before))
	require.NoError(t, json.Unmarshal(entries[0].After, &after))
	require.Equal(t, k.Prefix, before.Prefix)
	require.Nil(t, before.RevokedAt, "before: still active")
	require.NotNil(t, after.RevokedAt, "after: revoked")

	_, err = account.APIKeyAuthenticate(ctx, db, token, time.Now())
	require.Equal(t, fault.Unauthorized, fault.CodeOf(err))
}

func TestKeyLimiterFollowsTheKeysRate(t *testing.T) {
	t.Parallel()
	l := account.NewKeyLimiter()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	slow := account.APIKey{ID: 7, RatePerMinute: 1} // burst 1
	ok, _ := l.Allow(slow, now)
	require.True(t, ok)
	ok, wait := l.Allow(slow, now)
	require.False(t, ok)
	require.InDelta(t, time.Minute, wait, float64(time.Second), "one a minute: come back in a minute")
	ok, again := l.Allow(slow, now.Add(30*time.Second))
	require.False(t, ok, "a refused request does not use up the bucket, but time has not come yet")
	require.InDelta(t, 30*time.Second, again, float64(time.Second))

	// An admin raising the rate takes effect without a restart.
	fast := slow
	fast.RatePerMinute = 600 // burst 100
	for i := range 100 {
		ok, _ := l.Allow(fast, now)
		require.True(t, ok, "request %d under the new rate", i)
	}
	ok, _ = l.Allow(fast, now)
	require.False(t, ok)
}
