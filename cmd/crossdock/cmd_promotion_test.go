package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
	"github.com/crossdock/crossdock/internal/secret"
	"github.com/crossdock/crossdock/mappings"
	"github.com/crossdock/crossdock/mappings/release"
)

const testPromotionKey = "a promotion key both installations share"

func checksums(t *testing.T, dbURL, slug string) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `select v.checksum from flow_versions v join flows f on f.id = v.flow_id where f.slug = $1 order by v.number`, slug)
	require.NoError(t, err)
	sums, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return sums
}

func exitCode(err error) int {
	var exit exitError
	if errors.As(err, &exit) {
		return exit.code
	}
	if err != nil {
		return 1
	}
	return 0
}

func TestExportImportBetweenInstallations(t *testing.T) {
	t.Parallel()
	src := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t), "CROSSDOCK_PROMOTION_KEY": testPromotionKey}
	dst := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t), "CROSSDOCK_PROMOTION_KEY": testPromotionKey}
	file := "../../engine/testdata/flows/storefront-order-to-erp.json"
	_, _, err := runCmd(t, env(src), "", "flow", "import", file, "--publish")
	require.NoError(t, err)

	out, stderr, err := runCmd(t, env(src), "", "export", "--flow", "storefront-order-to-erp")
	require.NoError(t, err, stderr)
	require.Contains(t, out, `"signature": "hmac-sha256:`)
	bundle := filepath.Join(t.TempDir(), "bundle.json")
	require.NoError(t, os.WriteFile(bundle, []byte(out), 0o600))

	out, _, err = runCmd(t, env(dst), "", "import", bundle, "--dry-run")
	require.NoError(t, err)
	require.Contains(t, out, "signature verified")
	require.Contains(t, out, "storefront-order-to-erp (new flow): v1 create")
	require.Contains(t, out, "dry run: nothing was imported")
	require.Empty(t, checksums(t, dst["DATABASE_URL"], "storefront-order-to-erp"))

	out, _, err = runCmd(t, env(dst), "", "import", bundle)
	require.NoError(t, err)
	require.Contains(t, out, "v1 create")
	require.Equal(t, checksums(t, src["DATABASE_URL"], "storefront-order-to-erp"), checksums(t, dst["DATABASE_URL"], "storefront-order-to-erp"),
		"the fresh database has identical checksums")

	out, _, err = runCmd(t, env(dst), "", "import", bundle)
	require.NoError(t, err)
	require.Contains(t, out, "v1 unchanged")
	require.Contains(t, out, "nothing changed")

	// The version uses a target dev does not configure there: refused by name.
	_, _, err = runCmd(t, env(dst), "", "import", bundle, "--env", "dev", "--deploy")
	require.ErrorContains(t, err, "target “erp-sales-orders” is not configured in dev")

	// Tampered, unsigned-when-required, and wrong usage.
	raw, _ := os.ReadFile(bundle)
	tampered := filepath.Join(t.TempDir(), "tampered.json")
	require.NoError(t, os.WriteFile(tampered, bytes.Replace(raw, []byte(`"value": "ZWEB"`), []byte(`"value": "ZFREE"`), 1), 0o600))
	_, _, err = runCmd(t, env(dst), "", "import", tampered)
	require.ErrorContains(t, err, "signature does not match")
	_, _, err = runCmd(t, env(map[string]string{"DATABASE_URL": dst["DATABASE_URL"]}), "", "import", tampered)
	require.ErrorContains(t, err, "storefront-order-to-erp v1 in the bundle does not match its checksum", "without a key the checksums still catch it")
	unsignedOut, _, err := runCmd(t, env(map[string]string{"DATABASE_URL": src["DATABASE_URL"]}), "", "export", "--flow", "storefront-order-to-erp")
	require.NoError(t, err)
	unsigned := filepath.Join(t.TempDir(), "unsigned.json")
	require.NoError(t, os.WriteFile(unsigned, []byte(unsignedOut), 0o600))
	_, _, err = runCmd(t, env(dst), "", "import", unsigned)
	require.ErrorContains(t, err, "not signed")
	_, _, err = runCmd(t, env(dst), "", "import", bundle, "--deploy")
	require.ErrorContains(t, err, "--deploy needs --env")
	_, _, err = runCmd(t, env(src), "", "export")
	require.Equal(t, 2, exitCode(err))
	_, _, err = runCmd(t, env(map[string]string{"DATABASE_URL": src["DATABASE_URL"], "CROSSDOCK_PROMOTION_KEY": "short"}), "", "export", "--flow", "x")
	require.ErrorContains(t, err, "CROSSDOCK_PROMOTION_KEY is too short")
}

// serveForTest runs `crossdock serve --no-workers` and returns its URL.
func serveForTest(t *testing.T, kv map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"crossdock", "serve", "--no-workers"}, env(kv), strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	t.Cleanup(func() { cancel(); <-done })
	listening := regexp.MustCompile(`msg=listening .*?url=(\S+)`)
	for {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestPromoteCommandForPipelines(t *testing.T) {
	t.Parallel()
	kv := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t), "CROSSDOCK_DATA_DIR": t.TempDir(), "CROSSDOCK_ADDR": "127.0.0.1:0"}
	db := env(kv)
	_, _, err := runCmd(t, db, "", "flow", "import", "../../engine/testdata/flows/storefront-order-to-erp.json", "--publish")
	require.NoError(t, err)
	base := serveForTest(t, kv)
	key := func(envName string) string {
		out, _, err := runCmd(t, db, "", "apikey", "create", "--env", envName, "--name", "ci-"+envName, "--manage")
		require.NoError(t, err, out)
		return regexp.MustCompile(`cdk_\S+_\S{43}`).FindString(out)
	}
	testKey, prodKey := key("test"), key("prod")
	promote := func(k string, args ...string) (string, int) {
		out, _, err := runCmd(t, db, "", append([]string{"promote", "--url", base, "--api-key", k, "--flow", "storefront-order-to-erp"}, args...)...)
		return out, exitCode(err)
	}

	out, code := promote(testKey, "--to", "test")
	require.Equal(t, promoteRefused, code, out)
	require.Contains(t, out, "gate failed: target “erp-sales-orders” is not configured in test")
	require.Contains(t, out, "result=refused")

	conn, err := pgx.Connect(context.Background(), kv["DATABASE_URL"])
	require.NoError(t, err)
	defer conn.Close(context.Background())
	for _, e := range []string{"test", "prod"} {
		_, err = conn.Exec(context.Background(), `insert into target_configs (environment_id, target_name, url_template) select id, 'erp-sales-orders', 'https://erp.example' from environments where name = $1`, e)
		require.NoError(t, err)
		_, err = conn.Exec(context.Background(), `insert into environment_variables (environment_id, name, value) select id, 'ERP_COMPANY', '1000' from environments where name = $1`, e)
		require.NoError(t, err)
	}

	out, code = promote(testKey, "--to", "test", "--reason", "pipeline 42")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "version: v1")
	require.Regexp(t, `result=deployed flow=storefront-order-to-erp version=1 env=test deployment=\d+\n$`, out)
	out, code = promote(testKey, "--to", "test", "--version", "1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "result=unchanged", "running a pipeline twice is fine")

	out, code = promote(testKey, "--to", "prod", "--version", "1")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "belongs to environment test")
	out, code = promote(prodKey, "--to", "prod", "--version", "1", "--json")
	require.Equal(t, promotePending, code, out)
	require.Contains(t, out, `"status":"pending"`)
	require.Regexp(t, `result=pending .* request=\d+`, out)
	out, code = promote("cdk_test_00000000_"+strings.Repeat("x", 43), "--to", "test")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "result=error status=401")
	_, code = promote(testKey)
	require.Equal(t, 2, code, "--to is required")
}

// TestExportCarriesNoSecret plants a secret in every place an installation
// keeps one — a target's credentials, an environment variable, an API key
// and the promotion key that signs the bundle — and checks that `crossdock
// export` writes none of them, to the bundle or to its messages: a bundle is
// a file people mail around and commit.
func TestExportCarriesNoSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const planted = "pl4nted-s3cret-0f-the-export-test"
	kv := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t), "CROSSDOCK_PROMOTION_KEY": testPromotionKey + " " + planted}
	_, _, err := runCmd(t, env(kv), "", "flow", "import", "../../engine/testdata/flows/storefront-order-to-erp.json", "--publish")
	require.NoError(t, err)

	pool, err := pgxpool.New(ctx, kv["DATABASE_URL"])
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	dev, err := release.EnvironmentByName(ctx, pool, "dev")
	require.NoError(t, err)
	key := make([]byte, secret.KeySize)
	_, err = rand.Read(key)
	require.NoError(t, err)
	sealer, err := secret.NewSealer(key)
	require.NoError(t, err)
	_, err = release.TargetConfigPut(ctx, pool, sealer, release.TargetConfig{
		EnvironmentID: dev.ID, Target: "erp-sales-orders", URLTemplate: "https://erp.example/orders",
		Auth: release.AuthBearer, Secret: planted + "-bearer",
	}, mappings.Editor{Email: "cli-test@shop.example"})
	require.NoError(t, err)
	require.NoError(t, release.VariableSet(ctx, pool, dev.ID, "ERP_PASSWORD", planted+"-variable"))
	out, _, err := apikeyCmd(t, kv, "create", "--env", "dev", "--name", "export-test")
	require.NoError(t, err)
	apiKey := regexp.MustCompile(`(?m)^cdk_dev_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$`).FindString(out)
	require.NotEmpty(t, apiKey, out)

	bundle, stderr, err := runCmd(t, env(kv), "", "export", "--flow", "storefront-order-to-erp")
	require.NoError(t, err, stderr)
	require.Contains(t, bundle, `"signature": "hmac-sha256:`, "signed with the planted promotion key")
	require.Contains(t, bundle, "erp-sales-orders", "the version names its target; only its configuration stays behind")
	for _, leaked := range []string{planted, apiKey, apiKey[len(apiKey)-43:], testPromotionKey} {
		require.NotContains(t, bundle, leaked)
		require.NotContains(t, stderr, leaked)
	}
	var audited string
	require.NoError(t, pool.QueryRow(ctx, `select coalesce(string_agg(a::text, ' '), '') from audit_entries a where action = 'bundle.export'`).Scan(&audited))
	require.NotEmpty(t, audited, "the export is audited")
	require.NotContains(t, audited, planted)
}
