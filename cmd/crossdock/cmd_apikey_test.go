package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/account"
	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/fault"
)

func apikeyCmd(t *testing.T, kv map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runAPIKey(context.Background(), args, env(kv), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestAPIKeyCommandLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDatabase(t)
	kv := map[string]string{"DATABASE_URL": url}
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	out, _, err := apikeyCmd(t, kv, "create", "--env", "test", "--name", "wms", "--flow", "shop-orders", "--flow", "returns", "--rate", "120")
	require.NoError(t, err)
	token := regexp.MustCompile(`(?m)^cdk_test_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$`).FindString(out)
	require.NotEmpty(t, token, "the full key is printed on a line of its own:\n%s", out)
	require.Contains(t, out, "cannot be shown again")
	prefix := token[:len("cdk_test_")+8]
	secret := token[len(prefix)+1:]

	k, err := account.APIKeyAuthenticate(ctx, pool, token, time.Now())
	require.NoError(t, err, "the printed key works")
	require.Equal(t, "test", k.Environment)
	require.Equal(t, []string{"shop-orders", "returns"}, k.Flows)
	require.Equal(t, 120, k.RatePerMinute)

	list, _, err := apikeyCmd(t, kv, "list")
	require.NoError(t, err)
	require.Regexp(t, prefix+`\s+wms\s+test\s+shop-orders,returns\s+120\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+active`, list)
	require.NotContains(t, list, secret, "list never shows a secret")

	out, _, err = apikeyCmd(t, kv, "revoke", "--prefix", prefix)
	require.NoError(t, err)
	require.Equal(t, "revoked "+prefix+"\n", out)
	_, _, err = apikeyCmd(t, kv, "revoke", "--prefix", prefix)
	require.NoError(t, err, "revoking twice is harmless")
	_, err = account.APIKeyAuthenticate(ctx, pool, token, time.Now())
	require.Equal(t, fault.Unauthorized, fault.CodeOf(err))

	list, _, err = apikeyCmd(t, kv, "list")
	require.NoError(t, err)
	require.Regexp(t, prefix+`.*revoked`, list)

	entries, err := account.AuditList(ctx, pool, account.AuditFilter{Target: prefix})
	require.NoError(t, err)
	require.Len(t, entries, 2, "create and one revoke are audited")
	for _, e := range entries {
		require.Equal(t, "cli", e.ActorEmail)
		require.NotContains(t, string(e.Before)+string(e.After), secret)
	}

	_, _, err = apikeyCmd(t, kv, "revoke", "--prefix", "cdk_dev_00000000")
	require.Equal(t, fault.NotFound, fault.CodeOf(err))
	_, _, err = apikeyCmd(t, kv, "revoke")
	require.ErrorContains(t, err, "--prefix is required")
}

func TestAPIKeyCommandRejectsBadInput(t *testing.T) {
	t.Parallel()
	kv := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t)}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"create", "--name", "x"}, "--env is required"},
		{[]string{"create", "--env", "staging", "--name", "x"}, "no environment “staging”"},
		{[]string{"create", "--env", "dev"}, "give the key a name"},
		{[]string{"create", "--env", "dev", "--name", "x", "--rate", "0"}, ""}, // 0 means the default
		{[]string{"create", "--env", "dev", "--name", "x", "--rate", "100001"}, "between 1 and 100000"},
		{[]string{"create", "--env", "dev", "--name", "x", "--flow", "Shop Orders"}, "not a flow slug"},
	}
	for _, c := range cases {
		out, _, err := apikeyCmd(t, kv, c.args...)
		if c.want == "" {
			require.NoError(t, err, c.args)
			require.Contains(t, out, "created API key cdk_dev_")
			continue
		}
		require.ErrorContains(t, err, c.want, c.args)
		require.Empty(t, out, "nothing is printed, no key is made: %v", c.args)
	}
	list, _, err := apikeyCmd(t, kv, "list")
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(list, "\n"), "a header and the one valid key:\n%s", list)
	require.Contains(t, list, "600", "--rate 0 took the default")
}

func TestAPIKeyCommandUsage(t *testing.T) {
	t.Parallel()
	none := map[string]string{}
	_, stderr, err := apikeyCmd(t, none)
	require.Equal(t, exitError{2}, err)
	require.Contains(t, stderr, "crossdock apikey create --env ENV")

	_, stderr, err = apikeyCmd(t, none, "--help")
	require.NoError(t, err)
	require.Contains(t, stderr, "crossdock apikey revoke --prefix")

	_, stderr, err = apikeyCmd(t, none, "remove", "--prefix", "cdk_dev_00000000")
	require.Equal(t, exitError{2}, err, "a typo is named before the database is needed")
	require.Contains(t, stderr, `unknown subcommand "remove"`)

	_, _, err = apikeyCmd(t, none, "list")
	require.ErrorContains(t, err, "DATABASE_URL is not set")
}
