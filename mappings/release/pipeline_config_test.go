package release_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/fault"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/mappings/release"
)

func TestEnvironmentsAreSeededInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	envs, err := release.EnvironmentList(ctx, b.db)
	require.NoError(t, err)
	require.Len(t, envs, 3)
	require.Equal(t, []string{"dev", "test", "prod"}, []string{envs[0].Name, envs[1].Name, envs[2].Name})
	require.False(t, envs[0].Protected)
	require.True(t, envs[2].Protected, "prod is protected")

	prod, err := release.EnvironmentByName(ctx, b.db, "prod")
	require.NoError(t, err)
	require.Equal(t, envs[2], prod)
	byID, err := release.EnvironmentByID(ctx, b.db, prod.ID)
	require.NoError(t, err)
	require.Equal(t, prod, byID)
	_, err = release.EnvironmentByName(ctx, b.db, "staging")
	require.Equal(t, fault.NotFound, fault.CodeOf(err))
}

func TestVariables(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	dev, err := release.EnvironmentByName(ctx, b.db, "dev")
	require.NoError(t, err)
	prod, err := release.EnvironmentByName(ctx, b.db, "prod")
	require.NoError(t, err)

	vars, err := release.Variables(ctx, b.db, dev.ID)
	require.NoError(t, err)
	require.Empty(t, vars)
	require.NoError(t, release.VariableSet(ctx, b.db, dev.ID, "ERP_COMPANY", "1000"))
	require.NoError(t, release.VariableSet(ctx, b.db, dev.ID, "ERP_COMPANY", "2000"))
	require.NoError(t, release.VariableSet(ctx, b.db, prod.ID, "ERP_COMPANY", "9000"))
	vars, err = release.Variables(ctx, b.db, dev.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"ERP_COMPANY": "2000"}, vars, "set replaces, per environment")

	err = release.VariableSet(ctx, b.db, dev.ID, "bad name", "x")
	require.Equal(t, fault.Invalid, fault.CodeOf(err))
	require.NoError(t, release.VariableDelete(ctx, b.db, dev.ID, "ERP_COMPANY"))
	require.Equal(t, fault.NotFound, fault.CodeOf(release.VariableDelete(ctx, b.db, dev.ID, "ERP_COMPANY")))
	vars, err = release.Variables(ctx, b.db, prod.ID)
	require.NoError(t, err)
	require.Equal(t, "9000", vars["ERP_COMPANY"])
}

func newSealer(t *testing.T) *secret.Sealer {
	t.Helper()
	k := make([]byte, secret.KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	s, err := secret.NewSealer(k)
	require.NoError(t, err)
	return s
}

func TestTargetConfigSealsTheSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	sealer := newSealer(t)
	dev, err := release.EnvironmentByName(ctx, b.db, "dev")
	require.NoError(t, err)

	_, err = release.TargetConfigGet(ctx, b.db, sealer, dev.ID, "erp")
	require.Equal(t, fault.NotFound, fault.CodeOf(err))

	const token = "tok_SUPERSECRET_42"
	saved, err := release.TargetConfigPut(ctx, b.db, sealer, release.TargetConfig{
		EnvironmentID: dev.ID, Target: "erp", URLTemplate: "https://erp.example/orders/{messageId}",
		Headers: map[string]string{"X-Tenant": "shop"}, Auth: release.AuthBearer, Secret: token,
	}, b.editor)
	require.NoError(t, err)
	require.Equal(t, token, saved.Secret, "decrypted in memory")
	require.True(t, saved.HasSecret)
	require.Equal(t, "POST", saved.Method)
	require.Equal(t, 10*time.Second, saved.Timeout, "defaults")
	require.Equal(t, release.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: time.Minute, Window: 15 * time.Minute}, saved.Retry)
	require.Equal(t, release.BreakerPolicy{FailureThreshold: 5, OpenFor: 30 * time.Second}, saved.Breaker)
	require.Zero(t, saved.RatePerSecond, "unlimited")

	var stored []byte
	require.NoError(t, b.db.QueryRow(ctx, `select secret_ciphertext from target_configs where target_name = 'erp'`).Scan(&stored))
	require.False(t, bytes.Contains(stored, []byte(token)), "only ciphertext in the database")

	// Nothing that formats or logs the config shows the secret.
	masked, err := json.Marshal(saved.Masked())
	require.NoError(t, err)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("target", "config", saved)
	for _, s := range []string{string(masked), fmt.Sprint(saved), fmt.Sprintf("%+v", saved), fmt.Sprintf("%#v", saved), logs.String()} {
		require.NotContains(t, s, "SUPERSECRET")
	}
	require.True(t, saved.Masked().HasSecret)

	// A form that never shows the secret keeps it.
	saved.Secret = ""
	saved.KeepSecret = true
	saved.URLTemplate = "https://erp2.example/orders"
	kept, err := release.TargetConfigPut(ctx, b.db, sealer, saved, b.editor)
	require.NoError(t, err)
	require.Equal(t, token, kept.Secret)
	require.Equal(t, "https://erp2.example/orders", kept.URLTemplate)

	// Another key cannot open it and says what to do.
	_, err = release.TargetConfigGet(ctx, b.db, newSealer(t), dev.ID, "erp")
	require.Error(t, err)
	require.Contains(t, err.Error(), "CROSSDOCK_SECRET_KEY")
	require.NotContains(t, err.Error(), "SUPERSECRET")

	// Clearing it removes it.
	kept.Secret, kept.KeepSecret, kept.Auth = "", false, release.AuthNone
	cleared, err := release.TargetConfigPut(ctx, b.db, nil, kept, b.editor)
	require.NoError(t, err)
	require.False(t, cleared.HasSecret)

	list, err := release.TargetConfigList(ctx, b.db, dev.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "erp", list[0].Target)
	require.Equal(t, time.Minute, list[0].Retry.MaxDelay)

}

func TestTargetConfigCheck(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	dev, err := release.EnvironmentByName(ctx, b.db, "dev")
	require.NoError(t, err)
	_, err = release.TargetConfigPut(ctx, b.db, nil, release.TargetConfig{
		EnvironmentID: dev.ID, Target: "erp", URLTemplate: "ftp://x", Method: "BREW", Auth: release.AuthHeader,
	}, b.editor)
	fe, ok := fault.As(err)
	require.True(t, ok)
	require.Equal(t, fault.Invalid, fe.Code)
	require.Contains(t, fe.Fields, "urlTemplate")
	require.Contains(t, fe.Fields, "method")
	require.Contains(t, fe.Fields, "authHeaderName")
	require.True(t, strings.HasPrefix(fe.Message, "fix the target configuration"))

	_, err = release.TargetConfigPut(ctx, b.db, nil, release.TargetConfig{
		EnvironmentID: dev.ID, Target: "erp", URLTemplate: "https://erp.example", Timeout: 2 * time.Minute}, b.editor)
	fe, ok = fault.As(err)
	require.True(t, ok)
	require.Equal(t, "more than zero and at most 60 s", fe.Fields["timeout"], "a deliver job must end in time to be rescued")

	_, err = release.TargetConfigPut(ctx, b.db, nil, release.TargetConfig{EnvironmentID: dev.ID, Target: "erp", Auth: release.AuthBearer, Secret: "x"}, b.editor)
	require.Equal(t, fault.Unavailable, fault.CodeOf(err), "no key, no secret stored")
}
