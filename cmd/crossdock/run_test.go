package main

import (
	"bytes"
	"context"
	"errors"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crossdock/crossdock/internal/dbtest"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func runCmd(t *testing.T, getenv func(string) string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"crossdock"}, args...), getenv, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestBadConfigurationNamesTheVariable(t *testing.T) {
	t.Parallel()
	good := map[string]string{"DATABASE_URL": "postgres://u@127.0.0.1:1/x", "CROSSDOCK_DATA_DIR": t.TempDir()}
	cases := []struct {
		key, value, want string
	}{
		{"DATABASE_URL", "", "DATABASE_URL is not set"},
		{"DATABASE_URL", "mysql://x", "DATABASE_URL must be a postgres:// URL"},
		{"CROSSDOCK_LOG_LEVEL", "loud", "CROSSDOCK_LOG_LEVEL \"loud\""},
		{"CROSSDOCK_LOG_FORMAT", "xml", "CROSSDOCK_LOG_FORMAT \"xml\""},
		{"CROSSDOCK_BASE_URL", "crossdock.example.com", "CROSSDOCK_BASE_URL"},
		{"CROSSDOCK_SECRET_KEY", "c2hvcnQ=", "CROSSDOCK_SECRET_KEY must be 32 bytes encoded in base64 (got 5 bytes)"},
		{"CROSSDOCK_SECRET_KEY", "%%%not base64", "got text that is not base64"},
		{"CROSSDOCK_SESSION_IDLE", "soon", "CROSSDOCK_SESSION_IDLE"},
		{"CROSSDOCK_SESSION_LIFETIME", "1m", "CROSSDOCK_SESSION_LIFETIME"},
		{"CROSSDOCK_RESCUE_AFTER", "soon", "CROSSDOCK_RESCUE_AFTER"},
		{"CROSSDOCK_INTAKE_WRITERS", "0", "CROSSDOCK_INTAKE_WRITERS \"0\" must be a whole number from 1 to 32"},
		{"CROSSDOCK_INTAKE_WRITERS", "many", "CROSSDOCK_INTAKE_WRITERS \"many\" must be a whole number from 1 to 32"},
		{"CROSSDOCK_PASSWORD_HASHES", "0", "CROSSDOCK_PASSWORD_HASHES \"0\" must be a whole number from 1 to 64"},
		{"CROSSDOCK_IDEMPOTENCY_KEY_TTL", "1h", "CROSSDOCK_IDEMPOTENCY_KEY_TTL \"1h\" must be a duration of at least 24h"},
	}
	for _, tc := range cases {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			kv := map[string]string{}
			for k, v := range good {
				kv[k] = v
			}
			kv[tc.key] = tc.value
			_, _, err := runCmd(t, env(kv), "", "serve")
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestServeHelpDocumentsEverySetting(t *testing.T) {
	t.Parallel()
	_, stderr, err := runCmd(t, env(nil), "", "serve", "--help")
	require.NoError(t, err)
	for _, s := range (&rawConfig{}).settings() {
		require.Contains(t, stderr, s.env)
	}
	require.Contains(t, stderr, "-addr")
	require.NotContains(t, stderr, "-secret-key", "secrets have no flag")
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	_, stderr, err := runCmd(t, env(nil), "", "frobnicate")
	var exit exitError
	require.True(t, errors.As(err, &exit))
	require.Equal(t, 2, exit.code)
	require.Contains(t, stderr, `unknown command "frobnicate"`)
	out, _, err := runCmd(t, env(nil), "", "version")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "crossdock "))
}

func TestServeRefusesAStaleSchemaAndMigrateFixesIt(t *testing.T) {
	t.Parallel()
	kv := map[string]string{"DATABASE_URL": dbtest.NewEmptyDatabase(t), "CROSSDOCK_DATA_DIR": t.TempDir(), "CROSSDOCK_ADDR": "127.0.0.1:0"}
	_, _, err := runCmd(t, env(kv), "", "serve")
	require.Error(t, err)
	require.Contains(t, err.Error(), "database schema is not current")
	require.Contains(t, err.Error(), "run `crossdock migrate`")

	out, _, err := runCmd(t, env(kv), "", "migrate")
	require.NoError(t, err)
	require.Contains(t, out, "applying migration 001")
	require.Contains(t, out, "database is current")
	out, _, err = runCmd(t, env(kv), "", "migrate")
	require.NoError(t, err, "migrating twice is harmless")
	require.NotContains(t, out, "applying")

	// A cancelled context (SIGTERM) stops serve cleanly.
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"crossdock", "serve"}, env(kv), strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	for !strings.Contains(stderr.String(), "listening") {
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	require.NoError(t, <-done)
}

func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	kv := map[string]string{"DATABASE_URL": "postgres://crossdock:s3cret-pw@127.0.0.1:1/crossdock", "CROSSDOCK_DATA_DIR": t.TempDir()}
	_, _, err := runCmd(t, env(kv), "", "migrate")
	require.Error(t, err)
	require.Contains(t, err.Error(), "cannot reach the database at DATABASE_URL")
	require.NotContains(t, err.Error(), "s3cret-pw", "the password never appears in messages")
}

func TestUserCommands(t *testing.T) {
	t.Parallel()
	kv := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t)}
	out, _, err := runCmd(t, env(kv), "", "user", "add", "--email", "ana@shop.example", "--role", "analyst")
	require.NoError(t, err)
	require.Contains(t, out, "added ana@shop.example (analyst)")
	require.Regexp(t, `password: \S{24}`, out)

	_, _, err = runCmd(t, env(kv), "", "user", "add", "--email", "ana@shop.example", "--role", "analyst")
	require.ErrorContains(t, err, "already exists")
	_, _, err = runCmd(t, env(kv), "", "user", "add", "--email", "bo@shop.example", "--role", "superuser")
	require.ErrorContains(t, err, "unknown role")
	_, _, err = runCmd(t, env(kv), "short\n", "user", "add", "--email", "bo@shop.example", "--role", "viewer", "--password-stdin")
	require.ErrorContains(t, err, "at least 12 characters")

	out, _, err = runCmd(t, env(kv), "a brand new password\n", "user", "reset-password", "--email", "ANA@shop.example", "--password-stdin")
	require.NoError(t, err)
	require.Contains(t, out, "reset the password")
	require.NotContains(t, out, "a brand new password")
	_, _, err = runCmd(t, env(kv), "", "user", "reset-password", "--email", "nobody@shop.example")
	require.ErrorContains(t, err, "no user with email")
}

// syncBuffer is a bytes.Buffer the server may write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAPIKeyAndFlowImportCommands(t *testing.T) {
	t.Parallel()
	kv := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t)}
	out, _, err := runCmd(t, env(kv), "", "apikey", "create", "--env", "dev", "--name", "storefront", "--flow", "shop-orders")
	require.NoError(t, err)
	require.Regexp(t, `created API key cdk_dev_[0-9a-f]{8} \(storefront\) for dev\ncdk_dev_[0-9a-f]{8}_\S{43}\n`, out)
	_, _, err = runCmd(t, env(kv), "", "apikey", "create", "--env", "staging", "--name", "x")
	require.ErrorContains(t, err, "no environment")
	_, _, err = runCmd(t, env(kv), "", "apikey", "create", "--name", "x")
	require.ErrorContains(t, err, "--env is required")
	list, _, err := runCmd(t, env(kv), "", "apikey", "list")
	require.NoError(t, err)
	require.Contains(t, list, "storefront")
	require.Contains(t, list, "active")
	prefix := strings.Fields(strings.Split(list, "\n")[1])[0]
	out, _, err = runCmd(t, env(kv), "", "apikey", "revoke", "--prefix", prefix)
	require.NoError(t, err)
	require.Contains(t, out, "revoked")

	file := "../../engine/testdata/flows/storefront-order-to-erp.json"
	// dev lacks the flow's target and variable: the version is published,
	// the gates refuse the deployment, and the refusal is audited.
	out, _, err = runCmd(t, env(kv), "", "flow", "import", file, "--publish", "--deploy", "dev")
	require.ErrorContains(t, err, "version 1 is published but not deployed to dev")
	require.ErrorContains(t, err, "target “erp-sales-orders” is not configured in dev")
	require.Contains(t, out, "created flow storefront-order-to-erp")
	require.Contains(t, out, "published version 1")
	conn, err := pgx.Connect(context.Background(), kv["DATABASE_URL"])
	require.NoError(t, err)
	defer conn.Close(context.Background())
	audited := func(action string) int {
		var n int
		require.NoError(t, conn.QueryRow(context.Background(), `select count(*) from audit_entries where action = $1 and actor_email = 'cli' and target_id = 'storefront-order-to-erp'`, action).Scan(&n))
		return n
	}
	require.Equal(t, 1, audited("promotion.refuse"))
	for _, e := range []string{"dev", "test", "prod"} {
		_, err = conn.Exec(context.Background(), `insert into target_configs (environment_id, target_name, url_template) select id, 'erp-sales-orders', 'https://erp.example' from environments where name = $1`, e)
		require.NoError(t, err)
		_, err = conn.Exec(context.Background(), `insert into environment_variables (environment_id, name, value) select id, 'ERP_COMPANY', '1000' from environments where name = $1`, e)
		require.NoError(t, err)
	}
	out, _, err = runCmd(t, env(kv), "", "flow", "import", file, "--publish", "--deploy", "dev")
	require.NoError(t, err, "importing the same file again changes nothing but the deployment")
	require.Contains(t, out, "unchanged since version 1")
	require.Contains(t, out, "deployed version 1 to dev (gates passed)")
	require.Equal(t, 1, audited("promotion.deploy"))

	// A protected environment gets a request with its id, never a deployment.
	out, _, err = runCmd(t, env(kv), "", "flow", "import", file, "--publish", "--deploy", "prod")
	require.NoError(t, err)
	require.Regexp(t, `prod is protected; promotion request (\d+) waits for an approver \(gates passed\)\nrequest=\d+\n$`, out)
	// --request-only asks for an approver where the environment would switch at once.
	out, _, err = runCmd(t, env(kv), "", "flow", "import", file, "--publish", "--deploy", "test", "--request-only")
	require.NoError(t, err)
	require.Regexp(t, `--request-only; promotion request \d+ waits for an approver`, out)
	var running int
	require.NoError(t, conn.QueryRow(context.Background(), `select count(*) from current_deployments c join environments e on e.id = c.environment_id where e.name in ('test', 'prod')`).Scan(&running))
	require.Zero(t, running, "neither test nor prod runs anything yet")
	require.Equal(t, 2, audited("promotion.request"))
	_, _, err = runCmd(t, env(kv), "", "flow", "import", file, "--request-only")
	require.ErrorContains(t, err, "--request-only needs --deploy")
	_, _, err = runCmd(t, env(kv), "", "flow", "import", file, "--deploy", "dev")
	require.ErrorContains(t, err, "--deploy needs --publish")
	_, _, err = runCmd(t, env(kv), "", "flow", "import", "run.go")
	require.ErrorContains(t, err, "not a valid flow definition")
}

func TestServeWorkersOnlyAndNoWorkers(t *testing.T) {
	t.Parallel()
	kv := map[string]string{"DATABASE_URL": dbtest.NewDatabase(t), "CROSSDOCK_DATA_DIR": t.TempDir(), "CROSSDOCK_ADDR": "127.0.0.1:0"}
	_, _, err := runCmd(t, env(kv), "", "serve", "--no-workers", "--workers-only")
	require.ErrorContains(t, err, "exclude each other")

	for _, flag := range []string{"--workers-only", "--no-workers"} {
		ctx, cancel := context.WithCancel(context.Background())
		var stderr syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"crossdock", "serve", flag}, env(kv), strings.NewReader(""), &bytes.Buffer{}, &stderr)
		}()
		want := "listening"
		if flag == "--workers-only" {
			want = "no web server in this process"
		}
		for !strings.Contains(stderr.String(), want) {
			select {
			case err := <-done:
				t.Fatalf("serve %s ended early: %v\n%s", flag, err, stderr.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
		cancel()
		require.NoError(t, <-done, flag)
	}
}

// TestServeSetsTheCollectorsTarget: serve collects at 200 unless GOGC is
// set, which then wins as Go reads it.
func TestServeSetsTheCollectorsTarget(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	setGCPercent()
	require.Equal(t, serveGCPercent, debug.SetGCPercent(100))
	t.Setenv("GOGC", "150")
	setGCPercent()
	require.Equal(t, 100, debug.SetGCPercent(100), "the operator's GOGC is left alone")
}
